"""Predict widget's Segment: watershed by default, in a worker, as a Labels layer."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_greentea.sample import CELL, MEMBRANE, synthetic_membranes
from napari_greentea.widgets._predict import PredictWidget

pytestmark = pytest.mark.gui


def _segment(qtbot, predict, method):
    predict._method_combo.value = method
    assert predict._on_segment_clicked() is not None  # a worker was started
    # wait for the layer, not for the worker's finished signal: a fast worker can finish
    # before a waitSignal would connect, and the signal would then never be seen
    name = "sample segmentation"
    qtbot.waitUntil(lambda: name in predict._viewer.layers, timeout=30_000)
    return predict._viewer.layers.pop(name).data


def test_segment_gives_one_label_per_cell(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _, gt = synthetic_membranes((2, 128, 128), seed=5)
    image = viewer.add_image(np.zeros(gt.shape, np.uint8), name="sample")
    membrane = np.stack([ndi.gaussian_filter((g == MEMBRANE).astype(np.float32), 1.0)
                         for g in gt])
    predict = PredictWidget(viewer)
    predict._image_combo.value = image
    predict.job = SimpleNamespace(prob=np.stack([membrane, 1 - membrane]))  # a finished job
    predict._class_names = ["membrane", "cell"]
    predict._class_combo.reset_choices()
    predict._class_combo.value = 0
    predict._min_size_spin.value = 20
    assert predict._method_combo.value == "watershed"  # the default
    expected = sum(int((np.bincount(ndi.label(g == CELL)[0].ravel())[1:] >= 20).sum())
                   for g in gt)
    labels = _segment(qtbot, predict, "watershed")
    assert labels.shape == gt.shape and labels.dtype == np.uint32
    assert len(np.unique(labels[labels > 0])) == expected
    assert (labels > 0).all()  # the watershed splits membranes between cells
    thresholded = _segment(qtbot, predict, "threshold")
    assert len(np.unique(thresholded[thresholded > 0])) == expected
    assert (thresholded[membrane > 0.5] == 0).all()
