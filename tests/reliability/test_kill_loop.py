"""Seeded kill loops: a prediction killed at 10 random points resumes to the identical
store; a training run killed at 10 random points always leaves a loadable checkpoint."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

from napari_greentea.checkpoint import Checkpoint, partial_path

from .conftest import FAST, cli_env, greentea_run, image_stack

pytestmark = pytest.mark.slow
KILLS = 10
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)


class Run:
    """``greentea args...`` with stderr in a file, so that its progress can be watched."""

    def __init__(self, log: Path, *args: object) -> None:
        self.log = log
        with open(log, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "napari_greentea.cli", *map(str, args)],
                stdout=subprocess.PIPE, stderr=err, text=True, env=cli_env())

    def wait_until(self, ready, timeout: float = 300) -> float:
        """Wait until ``ready()`` (the run is past start-up); return when it was."""
        end = time.monotonic() + timeout
        while not ready() and self.proc.poll() is None and time.monotonic() < end:
            time.sleep(0.01)
        return time.monotonic()

    def says(self, text: str) -> bool:
        return text in self.log.read_text()

    def finish(self, sig: int | None = None) -> tuple[int, str, str]:
        if sig is not None:
            self.proc.send_signal(sig)
        printed, _ = self.proc.communicate(timeout=600)
        return self.proc.returncode, printed, self.log.read_text()


def _partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".partial")]


def _blocks_done(store: Path) -> int:
    """Blocks the store records as written (what a running prediction has reached)."""
    try:
        return int(np.asarray(zarr.open_group(str(store), mode="r")["done"][...]).sum())
    except (FileNotFoundError, KeyError, ValueError):  # not created yet
        return 0


def test_killed_prediction_resumes_to_the_identical_store(tmp_path):
    """Kills during start-up (store creation) and while blocks are written, by each signal.

    Kills aim at a block count the run has not reached yet, so each one hits a
    running prediction however fast the machine is; start-up kills land at a
    random time before the first block.
    """
    rng = np.random.default_rng(14)
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, image_stack(0, (4, 192, 192)), imagej=True)  # 144 blocks
    total = 144
    reference, out = tmp_path / "reference.zarr", tmp_path / "out.zarr"
    started = "predicting with RANDOM weights"  # logged once the model is built
    run = Run(tmp_path / "log", "predict", src, reference, *FAST)
    begin = run.wait_until(lambda: run.says(started))
    first_block = run.wait_until(lambda: _blocks_done(reference) > 0) - begin
    assert run.finish()[0] == 0
    for n in range(KILLS):
        done = _blocks_done(out)
        if total - done < 12:
            break
        run = Run(tmp_path / "log", "predict", src, out, *FAST)
        run.wait_until(lambda run=run: run.says(started))
        if n % 3 == 0:  # start-up: creating or reopening the store, statistics
            time.sleep(rng.uniform(0, first_block))
        else:
            target = done + int(rng.integers(1, (total - done) // 3))
            run.wait_until(lambda target=target: _blocks_done(out) >= target)
        code, printed, err = run.finish(SIGNALS[rng.integers(len(SIGNALS))])
        assert "Traceback" not in err, err
        assert "wrote" not in printed, "the kill should have hit a running prediction"
        assert code in (130, -signal.SIGKILL), err
        assert _blocks_done(out) >= done  # nothing written before is lost
    assert n >= KILLS // 2, f"only {n} kills before the store was almost complete"
    code, err = greentea_run("predict", src, out, *FAST)
    assert code == 0, err
    expected = zarr.open_group(str(reference))
    got = zarr.open_group(str(out))
    np.testing.assert_array_equal(got["prob"][...], expected["prob"][...])
    assert np.asarray(got["done"][...]).all() and got.attrs["greentea"]["complete"]
    assert got.attrs["ome"] == expected.attrs["ome"]  # the same OME-Zarr levels
    assert not _partials(out)


def test_killed_training_leaves_a_loadable_checkpoint(tmp_path):
    from napari_greentea.sample import synthetic_membranes

    rng = np.random.default_rng(15)
    image, labels = synthetic_membranes((64, 64), seed=1)
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "lab.tif", labels)
    out = tmp_path / "model.npz"
    args = ("train", tmp_path / "img.tif", tmp_path / "lab.tif", "--output", out, "--arch", "sk",
            "--patch", "16", "--batch", "1", "--iterations", 100000, "--checkpoint-every", 1)
    for _ in range(KILLS):
        begin = time.time()
        run = Run(tmp_path / "log", *args)
        # under way once this run has saved a checkpoint (one per iteration)
        run.wait_until(lambda begin=begin: out.exists() and out.stat().st_mtime > begin)
        time.sleep(rng.uniform(0, 1.0))
        sig = SIGNALS[rng.integers(len(SIGNALS))]
        code, _, err = run.finish(sig)
        assert "Traceback" not in err, err
        if sig == signal.SIGKILL:
            assert code == -signal.SIGKILL
        else:
            assert code == 130, err
            assert f"saved checkpoint {out}" in err.strip().splitlines()[-1]
        assert Checkpoint.load(out).iteration >= 1
    begin = time.time()
    run = Run(tmp_path / "log", *args)  # a new start removes what a killed save left behind
    run.wait_until(lambda: out.stat().st_mtime > begin)
    assert run.finish(signal.SIGINT)[0] == 130
    assert not partial_path(out).exists()
    assert Checkpoint.load(out).iteration >= 1
