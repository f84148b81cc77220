"""Multi-channel layers through the widgets: an RGB layer and a layer whose
metadata names a channel axis train and predict; outputs have the spatial shape."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.data.scribbles import scribbles_from_ground_truth
from napari_greentea.sample import synthetic_membranes
from napari_greentea.widgets._annotate import AnnotateWidget
from napari_greentea.widgets._predict import PredictWidget
from napari_greentea.widgets._train import TrainWidget

pytestmark = pytest.mark.gui


def _rgb(seed):
    """Membranes in red, noise in green and blue (uint8 RGB)."""
    img, gt = synthetic_membranes((96, 96), seed=seed)
    rng = np.random.default_rng(seed)
    red = np.interp(img, (img.min(), img.max()), (0, 255))
    rgb = np.stack([red, rng.uniform(0, 255, red.shape), rng.uniform(0, 255, red.shape)], -1)
    return rgb.astype(np.uint8), gt


def _train_and_predict(qtbot, viewer, image_layer, gt, tmp_path):
    annotate, train, predict = (AnnotateWidget(viewer), TrainWidget(viewer),
                                PredictWidget(viewer))
    annotate._image_combo.value = image_layer
    labels = annotate._on_new_clicked()
    assert labels.data.shape == gt.shape
    labels.data = scribbles_from_ground_truth(gt, fraction=0.05, seed=0)
    train._image_combo.value = image_layer
    train._preview_check.value = False
    train._iter_spin.value = 5
    assert train._start()
    with qtbot.waitSignal(train.worker.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: train.worker is None, timeout=5_000)
    ckpt = train.checkpoint
    train.preview.enabled = True
    train.preview.request()  # the live preview of the view, for the channel image too
    qtbot.waitUntil(lambda: train.preview.count >= 1, timeout=20_000)
    assert viewer.layers["live prediction"].data.shape[-2:] != ()
    predict._image_combo.value = image_layer
    predict._block_spin.value = 32
    predict._output_edit.value = str(tmp_path / "pred.zarr")
    worker = predict._on_predict_clicked()
    assert worker is not None
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    prob = np.asarray(predict.job.prob[...])
    assert prob.shape == (2, *gt.shape) and not np.isnan(prob).any()
    qtbot.waitUntil(lambda: len(predict.layers) == 2, timeout=5_000)
    assert [lyr.data.shape for lyr in predict.layers] == [gt.shape] * 2
    return ckpt


def test_rgb_layer_trains_and_predicts(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    rgb, gt = _rgb(0)
    layer = viewer.add_image(rgb, name="rgb", rgb=True)
    ckpt = _train_and_predict(qtbot, viewer, layer, gt, tmp_path)
    assert ckpt.spec.in_channels == 3 and ckpt.preprocess.channels == (0, 1, 2)


def test_channel_axis_layer_trains_and_predicts(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    rgb, gt = _rgb(1)
    stack = np.moveaxis(rgb[..., :2], -1, 0)  # (2, Y, X): membranes, noise
    layer = viewer.add_image(stack, name="two channels", metadata={"channel_axis": 0},
                             scale=(1.0, 0.5, 0.5))
    ckpt = _train_and_predict(qtbot, viewer, layer, gt, tmp_path)
    assert ckpt.spec.in_channels == 2 and ckpt.preprocess.channels == (0, 1)
    labels = viewer.layers["two channels labels"]
    np.testing.assert_array_equal(labels.scale, (0.5, 0.5))
