"""``greentea pretrain`` and ``greentea train --init``."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_greentea.cli import main

NET = ["--depth", "1", "--fmaps", "6", "--patch", "32", "--backend", "torch-cpu"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.sample import synthetic_membranes

    folder = tmp_path_factory.mktemp("pretrain")
    image, truth = synthetic_membranes((2, 64, 64), seed=2)
    tifffile.imwrite(folder / "img.tif", image)
    tifffile.imwrite(folder / "s.tif", scribbles_from_ground_truth(truth, fraction=0.1,
                                                                    brush=3, seed=0))
    return folder


def test_pretrain_then_train_from_it(files, capsys):
    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.pretrain import Pretrained

    pre = files / "pre.npz"
    assert main(["pretrain", str(files / "img.tif"), "--output", str(pre), "--iterations",
                 "12", *NET]) == 0
    out, err = capsys.readouterr()
    assert "for 12 iterations" in err and "pretrain features: it 0" in err
    assert "pretrain training: it 12 loss" in err and f"wrote {pre}" in out
    pretrained = Pretrained.load(pre)
    assert pretrained.iterations == 12 and pretrained.spec.depth == 1
    model = files / "m.npz"
    assert main(["train", str(files / "img.tif"), str(files / "s.tif"), "--output", str(model),
                 "--init", str(pre), "--iterations", "2", "--anchor-decay", "0.01", *NET]) == 0
    assert "starting from" in capsys.readouterr().err
    ckpt = Checkpoint.load(model)
    assert ckpt.iteration == 2 and ckpt.spec.num_classes == 2
    assert ckpt.train.anchor_decay == 0.01  # the pull toward the pretrained weights
    assert ckpt.train.lr == 1e-3  # pretrained, not trained: the recipe's plain rate
    # an iteration from pretrained weights moves them only a little (Adam, lr 1e-3)
    key = "conv1.weight"
    assert np.abs(ckpt.weights[key] - pretrained.weights[key]).max() < 0.01


def test_init_refuses_another_architecture_or_file_kind(files, capsys):
    pre = files / "pre_small.npz"
    assert main(["pretrain", str(files / "img.tif"), "--output", str(pre), "--iterations",
                 "1", *NET]) == 0
    capsys.readouterr()
    train = ["train", str(files / "img.tif"), str(files / "s.tif"), "--output",
             str(files / "x.npz"), "--iterations", "1", "--patch", "32"]
    assert main([*train, "--init", str(pre), "--depth", "2", "--fmaps", "6"]) == 2
    assert "does not fit the chosen architecture: depth 1 (pretrained) vs 2" in (
        capsys.readouterr().err)
    assert main([*train, "--init", str(files / "img.tif")]) == 2
    assert "is neither a napari-greentea checkpoint nor a pretrained network" in (
        capsys.readouterr().err)
    assert not (files / "x.npz").exists()


def test_init_from_a_trained_checkpoint_starts_a_new_run_from_every_layer(files, capsys):
    from napari_greentea.checkpoint import Checkpoint

    starter, model = files / "starter.npz", files / "from_starter.npz"
    train = ["train", str(files / "img.tif"), str(files / "s.tif"), *NET]
    assert main([*train, "--output", str(starter), "--iterations", "3"]) == 0
    capsys.readouterr()
    assert main([*train, "--output", str(model), "--iterations", "2", "--init", str(starter),
                 "--anchor-decay", "0.01"]) == 0
    assert "a model trained for 3 iterations; every layer)" in capsys.readouterr().err
    before, after = Checkpoint.load(starter), Checkpoint.load(model)
    assert after.iteration == 2  # a new run, not the starter's continuation
    assert after.train.anchor_decay == 0.01  # pulled toward the starter's weights
    for key in ("conv1.weight", "ip1.weight"):  # the classifier (ip1) carries over too
        assert np.abs(after.weights[key] - before.weights[key]).max() < 0.01


def test_init_names_a_shipped_starter(files, capsys):
    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.recipes import recipe
    from napari_greentea.starters import starter

    model = files / "from_builtin.npz"
    assert main(["train", str(files / "img.tif"), str(files / "s.tif"), "--output", str(model),
                 "--iterations", "2", "--patch", "32", "--backend", "torch-cpu",
                 "--init", "em-membranes"]) == 0
    shipped = starter("em-membranes").load()
    said = f"starting from em-membranes (a model trained for {shipped.iteration} iterations"
    assert f"{said}; every layer)" in capsys.readouterr().err
    after = Checkpoint.load(model)
    assert after.iteration == 2 and after.preprocess == shipped.preprocess
    assert after.spec == shipped.spec  # no network named: the starter's own
    assert np.abs(after.weights["conv1.weight"] - shipped.weights["conv1.weight"]).max() < 0.01
    # a trained model is adapted at the recipe's smaller learning rate, unless --lr says
    assert after.train.lr == recipe("interactive", from_model=True)[0].lr
    assert after.train.lr < recipe("interactive")[0].lr
    assert main(["train", str(files / "img.tif"), str(files / "s.tif"), "--output", str(model),
                 "--iterations", "1", "--patch", "32", "--backend", "torch-cpu",
                 "--lr", "0.002", "--init", "em-membranes"]) == 0
    assert Checkpoint.load(model).train.lr == 0.002
    # a network the starter does not fit is refused, naming what differs
    assert main(["train", str(files / "img.tif"), str(files / "s.tif"), "--output", str(model),
                 "--iterations", "2", *NET, "--init", "em-membranes"]) != 0
    assert f"depth {shipped.spec.depth} (trained) vs 1" in capsys.readouterr().err
    # naming the preset's network alone is naming another network, too
    assert shipped.spec.depth != 2
    assert main(["train", str(files / "img.tif"), str(files / "s.tif"), "--output", str(model),
                 "--iterations", "1", "--patch", "32", "--backend", "torch-cpu",
                 "--preset", "interactive", "--init", "em-membranes"]) != 0
    assert f"depth {shipped.spec.depth} (trained) vs 2" in capsys.readouterr().err


def test_a_starter_follows_labels_painted_the_other_way_round(files, capsys):
    """Labels with 1 = cell, 2 = membrane: the starter's classifier rows are swapped."""
    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.starters import starter

    strokes = tifffile.imread(files / "s.tif")
    tifffile.imwrite(files / "swapped.tif", np.where(strokes > 0, 3 - strokes, 0).astype(
        strokes.dtype))
    model = files / "from_builtin_swapped.npz"
    assert main(["train", str(files / "img.tif"), str(files / "swapped.tif"), "--output",
                 str(model), "--iterations", "1", "--patch", "32", "--backend", "torch-cpu",
                 "--init", "em-membranes"]) == 0
    assert "classes matched to your strokes" in capsys.readouterr().err
    shipped, after = starter("em-membranes").load(), Checkpoint.load(model)
    flipped = shipped.weights["ip1.weight"][::-1]
    assert np.abs(after.weights["ip1.weight"] - flipped).max() < 0.01


def test_pretrain_budget_options_exclude_each_other(files):
    with pytest.raises(SystemExit):
        main(["pretrain", str(files / "img.tif"), "--output", str(files / "p.npz"),
              "--seconds", "1", "--iterations", "3"])
