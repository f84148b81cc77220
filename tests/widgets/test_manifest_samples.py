"""The manifest validates and every sample command returns usable layer data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import napari_greentea

pytestmark = pytest.mark.gui
MANIFEST = Path(napari_greentea.__file__).parent / "napari.yaml"
ISBI_DIR = Path(os.environ.get("GREENTEA_TEST_ISBI", "/work/shared/data/isbi2012"))


def test_manifest_validates_and_imports():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_file(MANIFEST)
    manifest.validate_imports()  # every python_name resolves
    assert manifest.name == "napari-greentea"
    assert {w.display_name for w in manifest.contributions.widgets} == {
        "Annotate", "Train", "Predict"}
    assert len(manifest.contributions.sample_data) == 3


def test_synthetic_sample_layers():
    from napari_greentea._samples import synthetic_sample

    (img, _, img_type), (gt, gt_meta, gt_type) = synthetic_sample((64, 64))
    assert (img_type, gt_type) == ("image", "labels")
    assert img.shape == gt.shape == (64, 64)
    assert set(np.unique(gt)) == {1, 2}
    assert gt_meta["metadata"]["class_names"] == ["membrane", "cell"]


def test_synthetic_sample_opens_in_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-greentea", "synthetic")
    assert [lyr.name for lyr in viewer.layers] == [
        "synthetic membranes", "synthetic membranes ground truth"]


@pytest.mark.data
def test_isbi_sample(monkeypatch):
    if not (ISBI_DIR / "train-volume.tif").exists():
        pytest.skip(f"ISBI 2012 TIFFs not found in {ISBI_DIR} (set GREENTEA_TEST_ISBI)")
    monkeypatch.setenv("GREENTEA_DATA_DIR", str(ISBI_DIR))
    from napari_greentea._samples import isbi_test_sample, isbi_train_sample

    (img, meta, _), (labels, _, _) = isbi_train_sample()
    assert img.shape == labels.shape == (30, 512, 512)
    assert "doi:10.3389/fnana.2015.00142" in meta["metadata"]["citation"]
    assert isbi_test_sample()[0][0].shape == (30, 512, 512)
