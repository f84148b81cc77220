"""Predict replaces the probability layers of the image it predicts, and only those."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _predict_widget(viewer, tmp_path):
    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights
    from napari_greentea.widgets._predict import PredictWidget

    predict = PredictWidget(viewer)
    spec = preset("u", "interactive")
    predict.checkpoint = Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0))
    predict._backend_picker.select("torch-cpu")
    return predict


def _run(predict, qtbot, image, out):
    qtbot.waitUntil(lambda: predict._backend_picker.ready, timeout=180_000)
    predict._image_combo.value = image
    predict._output_edit.value = str(out)
    assert predict._on_predict_clicked() is not None
    qtbot.waitUntil(lambda: predict.worker is None and len(predict.layers) == 2,
                    timeout=120_000)
    assert not predict.job.pending()
    return list(predict.layers)


def test_predicting_again_reuses_the_layers_and_other_images_keep_theirs(
        sample_viewer, qtbot, tmp_path):
    viewer = sample_viewer
    image = viewer.layers[0]
    predict = _predict_widget(viewer, tmp_path)
    first = _run(predict, qtbot, image, tmp_path / "a.zarr")
    count = len(viewer.layers)
    second = _run(predict, qtbot, image, tmp_path / "b.zarr")
    assert [id(x) for x in second] == [id(x) for x in first]  # same layers, new data
    assert len(viewer.layers) == count
    np.testing.assert_array_equal(np.asarray(second[1].data[100:140, 100:140]),
                                  predict.job.prob[1, 100:140, 100:140])
    assert "b.zarr" in str(predict.job.prob.store.root)

    other = viewer.add_image(np.asarray(image.data)[::-1].copy(), name="flipped")
    third = _run(predict, qtbot, other, tmp_path / "c.zarr")
    assert all(layer in viewer.layers for layer in first)  # the first image's stay
    assert [layer.name for layer in third] == [
        "flipped class 1 probability", "flipped class 2 probability"]
    assert len(viewer.layers) == count + 3
