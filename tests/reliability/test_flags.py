"""Item 6: every flag is honoured or refused with a message; none is silently ignored."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import zarr

from napari_greentea.backend import get_backend
from napari_greentea.checkpoint import Checkpoint
from napari_greentea.cli import main
from napari_greentea.models import dense_graph, preset
from napari_greentea.weights import init_weights

from .conftest import FAST, image_stack, run_cli


def test_dtype_uint8_is_honoured_for_zarr(stack_tif, tmp_path, capsys):
    out = tmp_path / "p.zarr"
    code, err = run_cli(capsys, "predict", stack_tif, out, *FAST, "--dtype", "uint8")
    assert code == 0, err
    prob = zarr.open_group(str(out))["prob"]
    assert prob.dtype == np.uint8 and int(np.asarray(prob[...]).max()) > 1


@pytest.fixture
def checkpoint(tmp_path):
    spec = preset("sk")
    path = tmp_path / "m.npz"
    Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0)).save(path)
    return path


@pytest.mark.parametrize("extra", [["--arch", "u"], ["--preset", "paper"], ["--seed", "3"]])
def test_random_model_flags_with_checkpoint_are_refused(stack_tif, tmp_path, capsys,
                                                        checkpoint, extra):
    code, err = run_cli(capsys, "predict", stack_tif, tmp_path / "o.tif", "--checkpoint",
                        checkpoint, *extra)
    assert code == 2 and extra[0] in err and "--checkpoint" in err


@pytest.mark.parametrize("flag, value", [("--block", "0"), ("--block", "-8"),
                                         ("--workers", "0")])
def test_non_positive_sizes_are_refused(stack_tif, tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as info:
        main(["predict", str(stack_tif), str(tmp_path / "o.zarr"), flag, value])
    assert info.value.code == 2
    assert "must be a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "o.zarr").exists()


@pytest.mark.parametrize("flag, value", [("--iterations", "0"), ("--lr", "-1"),
                                         ("--checkpoint-every", "-2"), ("--patch", "0")])
def test_non_positive_training_settings_are_refused(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit):
        main(["train", "a.tif", "b.tif", "--output", str(tmp_path / "m.npz"), flag, value])
    assert "must be" in capsys.readouterr().err


def test_block_below_one_is_refused_by_the_api(stack_tif):
    from napari_greentea.predict import TileGeometry

    with pytest.raises(ValueError, match="positive"):
        TileGeometry.for_graph(dense_graph(preset("sk")), 0)


def test_slices_on_a_2d_image_are_refused(tmp_path, capsys):
    from napari_greentea.sample import synthetic_membranes

    image, labels = synthetic_membranes((64, 64), seed=1)
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "lab.tif", labels)
    code, err = run_cli(capsys, "train", tmp_path / "img.tif", tmp_path / "lab.tif", "--output",
                        tmp_path / "m.npz", "--slices", "0:10", "--iterations", 1)
    assert code == 2 and "--slices needs a 3-D stack" in err
    code, err = run_cli(capsys, "evaluate", "--gt", tmp_path / "lab.tif", "--prob",
                        tmp_path / "img.tif", "--slices", "0:10")
    assert code == 2 and "--slices needs a 3-D stack" in err


def test_slices_outside_the_stack_are_refused(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "img.tif", image_stack(0), imagej=True)
    tifffile.imwrite(tmp_path / "lab.tif", image_stack(0) % 3, imagej=True)
    code, err = run_cli(capsys, "train", tmp_path / "img.tif", tmp_path / "lab.tif", "--output",
                        tmp_path / "m.npz", "--slices", "2:9", "--iterations", 1)
    assert code == 2 and "outside the 3 slices" in err


def test_device_for_a_single_device_backend_is_refused(stack_tif, tmp_path, capsys):
    with pytest.raises(ValueError, match="does not apply to torch-cpu"):
        get_backend("torch-cpu", "cuda:3")
    code, err = run_cli(capsys, "predict", stack_tif, tmp_path / "o.tif", *FAST,
                        "--backend", "torch-cpu", "--device", "cuda:3")
    assert code == 2 and "cuda:3" in err


def test_device_with_auto_backend_is_used_not_dropped():
    with pytest.raises(ValueError, match="cuda:3"):  # no such GPU here (or anywhere)
        get_backend(None, "cuda:3")
    assert get_backend(None, "cpu").name == "torch-cpu"


def test_last_class_only_with_zarr_and_workers_with_scheduler_are_refused(
        stack_tif, tmp_path, capsys):
    code, err = run_cli(capsys, "predict", stack_tif, tmp_path / "o.zarr", *FAST,
                        "--last-class-only")
    assert code == 2 and "--last-class-only applies to TIFF" in err
    code, err = run_cli(capsys, "predict", stack_tif, tmp_path / "o.zarr", *FAST,
                        "--workers", "2", "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2 and "give one of them" in err


def test_evaluate_needs_exactly_one_of_prob_and_image(stack_tif, capsys):
    code, err = run_cli(capsys, "evaluate", "--gt", stack_tif, "--prob", stack_tif,
                        "--image", stack_tif)
    assert code == 2 and "either --prob" in err
