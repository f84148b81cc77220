"""Items 4 and 7: Ctrl-C/SIGTERM stop cleanly: training saves, prediction says how to resume."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

from napari_greentea.checkpoint import Checkpoint

from .conftest import FAST, greentea, greentea_run, image_stack

TRAIN = ["--arch", "sk", "--patch", "16", "--batch", "1"]


@pytest.fixture
def train_pair(tmp_path: Path) -> tuple[Path, Path]:
    from napari_greentea.sample import synthetic_membranes

    image, labels = synthetic_membranes((64, 64), seed=1)
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "lab.tif", labels)
    return tmp_path / "img.tif", tmp_path / "lab.tif"


def _wait_for(path: Path, proc, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_training_interrupted_saves_a_checkpoint(train_pair, tmp_path, sig):
    out = tmp_path / "model.npz"
    proc = greentea("train", *train_pair, "--output", out, *TRAIN, "--iterations", 100000,
                    "--checkpoint-every", 3)
    _wait_for(out, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("greentea train: interrupted at iteration") and str(out) in last
    ckpt = Checkpoint.load(out)
    assert 3 <= ckpt.iteration < 100000
    assert f"iteration {ckpt.iteration};" in last  # the checkpoint holds the last iteration
    assert not list(tmp_path.glob(".*.partial"))


def test_prediction_interrupted_says_how_to_resume(tmp_path):
    src, out = tmp_path / "big.tif", tmp_path / "p.zarr"
    tifffile.imwrite(src, image_stack(0, (12, 192, 192)), imagej=True)  # 432 blocks
    proc = greentea("predict", src, out, *FAST)
    _wait_for(out / "done" / "c", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "of 432 blocks are done in" in last and "run the same command again" in last
    done = int(last.split("interrupted; ")[1].split(" of ")[0])
    assert done == int(np.asarray(zarr.open_group(str(out))["done"][...]).sum())
    code, err = greentea_run("predict", src, out, *FAST)
    assert code == 0, err
    assert f"resuming {out}: {done} of 432 blocks already done" in err


def test_stop_before_the_first_step_keeps_the_existing_checkpoint(tmp_path, synthetic_pair):
    from napari_greentea.config import TrainConfig
    from napari_greentea.models import preset
    from napari_greentea.train import LabeledImage, Trainer

    out = tmp_path / "m.npz"
    make = lambda: Trainer(preset("sk"), [LabeledImage(*synthetic_pair)],  # noqa: E731
                           backend="torch-cpu", train=TrainConfig(iterations=2, output=str(out),
                                                                  output_size=16))
    make().fit()
    before = out.read_bytes()
    again = make()
    again.stop()
    events = list(again.run())
    assert events[-1].checkpoint is None and out.read_bytes() == before
