"""The ``greentea`` CLI: info, predict smoke runs, clear errors."""

from __future__ import annotations

import numpy as np
import tifffile

from napari_greentea.cli import main


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "torch-cpu" in out and "napari-greentea" in out


def test_info_says_what_auto_picks_and_why(monkeypatch, tmp_path, capsys):
    from napari_greentea.backend import _auto, opencl_status

    monkeypatch.setenv("GREENTEA_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("GREENTEA_BACKEND", raising=False)
    fake = {"torch-cpu": 0.2, "opencl": 0.1}
    monkeypatch.setattr(_auto, "_time_forward", lambda backend: fake[backend.name])
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    if opencl_status()[0]:  # no GPU here: the measured CPU tie-break decides
        assert "auto picks: opencl (" in out
        assert "torch-cpu 200.0 ms, opencl 100.0 ms (measured now" in out
        assert main(["info"]) == 0
        assert "(cached: " in capsys.readouterr().out
    else:
        assert "auto picks: torch-cpu (" in out and "no OpenCL runtime" in out


def test_predict_random_weights_to_tiff_and_zarr(tmp_path, capsys):
    image = (np.random.default_rng(0).random((2, 40, 50)) * 255).astype(np.uint8)
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, image)
    out = tmp_path / "prob.tif"
    assert main(["predict", str(src), str(out), "--arch", "usk", "--block", "32",
                 "--preview", str(tmp_path / "p.png")]) == 0
    prob = tifffile.imread(out)
    assert prob.shape == (2, 2, 40, 50) and prob.dtype == np.float32
    assert (tmp_path / "p.png").exists()
    assert main(["predict", str(src), str(tmp_path / "o.zarr"), "--arch", "sk"]) == 0


def test_predict_bf16_end_to_end(tmp_path, capsys, monkeypatch):
    """--bf16 without --backend runs on torch (auto may pick OpenCL on a CPU)."""
    import zarr

    monkeypatch.delenv("GREENTEA_BACKEND", raising=False)
    image = (np.random.default_rng(0).random((48, 56)) * 255).astype(np.uint8)
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, image)
    fast = ["--arch", "u", "--block", "32"]
    assert main(["predict", str(src), str(tmp_path / "bf16.zarr"), *fast, "--bf16"]) == 0
    assert main(["predict", str(src), str(tmp_path / "fp32.tif"), *fast,
                 "--backend", "torch-cpu"]) == 0
    group = zarr.open_group(str(tmp_path / "bf16.zarr"), mode="r")
    assert group.attrs["greentea"]["bf16"] is True and group["prob"].dtype == np.float32
    got, want = group["prob"][...], tifffile.imread(tmp_path / "fp32.tif")
    assert 0 < np.abs(got - want).max() <= 2e-2


def test_predict_bf16_is_refused_with_opencl(tmp_path, capsys, monkeypatch):
    image = (np.random.default_rng(0).random((40, 40)) * 255).astype(np.uint8)
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, image)
    out = tmp_path / "o.zarr"
    assert main(["predict", str(src), str(out), "--backend", "opencl", "--bf16"]) == 2
    err = capsys.readouterr().err
    assert "--bf16" in err and "float32 only" in err and "Traceback" not in err
    monkeypatch.setenv("GREENTEA_BACKEND", "opencl")
    assert main(["predict", str(src), str(out), "--bf16"]) == 2
    assert "float32 only" in capsys.readouterr().err
    assert main(["predict", str(src), "--out", str(tmp_path / "many"), "--bf16"]) == 2
    assert "float32 only" in capsys.readouterr().err
    assert not out.exists()
    assert main(["predict", str(src), str(out), "--bf16", "--workers", "1"]) == 2
    assert "--bf16 is not available with --workers" in capsys.readouterr().err


def test_bad_input_is_one_line_not_a_traceback(tmp_path, capsys):
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, np.zeros((30, 30, 3), np.uint8) + np.arange(3, dtype=np.uint8))
    assert main(["predict", str(rgb), str(tmp_path / "x.tif")]) == 2
    err = capsys.readouterr().err
    # read as 3 colour channels, each of them constant
    assert "every channel of the image is constant" in err and "Traceback" not in err
    assert not (tmp_path / "x.tif").exists()
    assert main(["predict", str(tmp_path / "missing.tif"), str(tmp_path / "y.tif")]) == 2
    assert main(["predict", str(rgb), str(tmp_path / "z.tif"), "--backend", "tpu"]) == 2


def test_train_then_evaluate(tmp_path, capsys):
    from napari_greentea.sample import synthetic_membranes

    image, truth = synthetic_membranes((2, 64, 64), seed=2)
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "gt.tif", truth)
    model = tmp_path / "m.npz"
    assert main(["train", str(tmp_path / "img.tif"), str(tmp_path / "gt.tif"), "--output",
                 str(model), "--arch", "usk", "--iterations", "3", "--patch", "32"]) == 0
    assert model.exists()
    assert main(["evaluate", "--gt", str(tmp_path / "gt.tif"), "--image",
                 str(tmp_path / "img.tif"), "--checkpoint", str(model)]) == 0
    out = capsys.readouterr().out
    assert "v_rand:" in out and "pixel_error:" in out


def test_train_bf16_runs_on_torch_and_is_refused_with_opencl(tmp_path, capsys, monkeypatch):
    """--bf16 in training: auto means torch (auto may measure OpenCL faster on a CPU,
    whose kernels would run in float32 and drop the flag unseen)."""
    from napari_greentea import backend
    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.sample import synthetic_membranes

    def no_measuring(device):
        raise AssertionError("bf16 must not leave the choice to the auto rule")

    monkeypatch.delenv("GREENTEA_BACKEND", raising=False)
    monkeypatch.setattr(backend, "_auto_backend", no_measuring)
    image, truth = synthetic_membranes((64, 64), seed=3)
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "gt.tif", truth)
    model = tmp_path / "m.npz"
    base = ["train", str(tmp_path / "img.tif"), str(tmp_path / "gt.tif"), "--output",
            str(model), "--iterations", "2", "--patch", "32", "--depth", "1", "--bf16"]
    assert main(base) == 0
    assert "train u/interactive on torch" in capsys.readouterr().err  # the progress line
    assert Checkpoint.load(model).train.bf16 is True
    model.unlink()
    assert main([*base, "--backend", "opencl"]) == 2
    assert "float32 only" in capsys.readouterr().err and not model.exists()


def test_train_rejects_single_class_labels(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "img.tif", np.arange(1024, dtype=np.uint16).reshape(32, 32))
    tifffile.imwrite(tmp_path / "gt.tif", np.ones((32, 32), np.uint8))
    assert main(["train", str(tmp_path / "img.tif"), str(tmp_path / "gt.tif"), "--output",
                 str(tmp_path / "m.npz")]) == 2
    assert "only class 1" in capsys.readouterr().err


def test_dense_labels_train_with_the_dense_recipe_unless_options_say(tmp_path, capsys):
    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.sample import synthetic_membranes

    image, truth = synthetic_membranes((64, 64), seed=2)
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "gt.tif", truth.astype(np.uint8))
    model = tmp_path / "m.npz"
    common = [str(tmp_path / "img.tif"), str(tmp_path / "gt.tif"), "--output", str(model),
              "--iterations", "1", "--patch", "32", "--depth", "1", "--fmaps", "4"]
    assert main(["train", *common]) == 0
    assert "dense labels (100% of the labeled planes): class balance none" in (
        capsys.readouterr().err)
    ckpt = Checkpoint.load(model)
    assert (ckpt.train.holdout, ckpt.train.average) == (0.0, 0.998)
    assert ckpt.loss.class_balance == "none"
    assert main(["train", *common, "--balance", "histeq", "--holdout", "0.1"]) == 0
    ckpt = Checkpoint.load(model)
    assert ckpt.train.holdout == 0.1 and ckpt.loss.class_balance == "histeq"


def test_train_for_seconds_with_architecture_knobs(tmp_path, capsys):
    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.sample import synthetic_membranes

    image, truth = synthetic_membranes((96, 96), seed=4)
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "s.tif", scribbles_from_ground_truth(truth, fraction=0.1,
                                                                      brush=3, seed=0))
    model = tmp_path / "m.npz"
    assert main(["train", str(tmp_path / "img.tif"), str(tmp_path / "s.tif"), "--output",
                 str(model), "--seconds", "2", "--depth", "1", "--fmaps", "6",
                 "--patch", "32", "--validate-every", "5", "--anchor-decay", "0.01"]) == 0
    ckpt = Checkpoint.load(model)
    assert (ckpt.spec.depth, ckpt.spec.base_fmaps) == (1, 6)
    assert ckpt.train.anchor_decay == 0.0  # no --init: a run from random weights has no pull
    assert ckpt.train.seconds == 2.0 and ckpt.train.holdout == 0.1  # the interactive recipe
    assert 0 < ckpt.iteration < 10**9
    assert main(["train", str(tmp_path / "img.tif"), str(tmp_path / "s.tif"), "--output",
                 str(model), "--arch", "sk", "--depth", "2", "--iterations", "1"]) == 2
    assert "has no depth knob" in capsys.readouterr().err
