"""Importing the package stays cheap and the core never imports the GUI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["torch", "pyopencl", "zarr", "qtpy", "PyQt6", "PyQt5", "napari", "magicgui", "dask",
         "h5py", "tensorstore", "bioimageio", "onnx", "onnxruntime", "ome_zarr", "distributed"]
CORE = [
    "napari_greentea",
    "napari_greentea.config",
    "napari_greentea.graph",
    "napari_greentea.models",
    "napari_greentea.predict",
    "napari_greentea.train",
    "napari_greentea.pretrain",
    "napari_greentea.features",
    "napari_greentea.backend",
    "napari_greentea.checkpoint",
    "napari_greentea.cli",
    "napari_greentea.sample",
    "napari_greentea.export.bioimageio",
    "napari_greentea.export.package",
    "napari_greentea.io",
    "napari_greentea.containers",
    # the formats: napari imports the npe2 reader/writer module on File > Open/Save
    "napari_greentea._npe2_io",
    "napari_greentea.omezarr",
    "napari_greentea.ngff_store",
    "napari_greentea.project",
    "napari_greentea.batch",
    "napari_greentea.channels",
    "napari_greentea.distributed",
]


@pytest.mark.parametrize("module", CORE)
def test_import_does_not_pull_heavy_modules(module):
    code = (
        f"import sys, {module}\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imported {out.stdout.strip()}"


def test_import_linter_contract_holds():
    """Only napari_greentea.widgets may import Qt / magicgui / napari."""
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install import-linter)")
    out = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
