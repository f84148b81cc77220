"""Helpers for the reliability tests: tiny inputs, the CLI in-process and as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

ROOT = Path(__file__).resolve().parents[2]
#: A small, fast random model for predictions: (arch, block edge).
FAST = ["--arch", "sk", "--block", "32"]


def image_stack(seed: int = 0, shape: tuple[int, ...] = (3, 64, 80)) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) * 255).astype(np.uint8)


@pytest.fixture
def stack_tif(tmp_path: Path) -> Path:
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, image_stack(0), imagej=True)
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    """``greentea args...`` in this process: (exit status, stderr)."""
    from napari_greentea.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "GREENTEA_BACKEND": "torch-cpu", **extra}
    return env


def greentea(*args: object, **popen: object) -> subprocess.Popen[str]:
    """Start ``python -m napari_greentea.cli args...`` with this checkout on the path."""
    env = popen.pop("env", None) or cli_env()
    return subprocess.Popen(
        [sys.executable, "-m", "napari_greentea.cli", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **popen,
    )


def greentea_run(*args: object, timeout: float = 600, **popen: object) -> tuple[int, str]:
    proc = greentea(*args, **popen)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err
