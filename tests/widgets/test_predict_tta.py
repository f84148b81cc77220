"""The Predict widget's test-time augmentation checkbox."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.widgets._annotate import AnnotateWidget
from napari_greentea.widgets._predict import PredictWidget
from napari_greentea.widgets._train import TrainWidget

pytestmark = pytest.mark.gui


def _predict(qtbot, predict, out):
    predict._output_edit.value = str(out)
    worker = predict._on_predict_clicked()
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: predict.worker is None, timeout=5_000)
    return np.asarray(predict.job.prob[...])


def test_tta_checkbox_averages_the_eight_orientations(sample_viewer, qtbot, tmp_path,
                                                      paint_scribbles):
    from napari_greentea.predict import build_predictor, predict_image

    viewer = sample_viewer
    annotate, train, predict = (AnnotateWidget(viewer), TrainWidget(viewer),
                                PredictWidget(viewer))
    train._preview_check.value = False
    paint_scribbles(viewer, annotate)
    train._iter_spin.value = 5
    assert train._start()
    qtbot.waitUntil(lambda: train.worker is None and train.checkpoint is not None,
                    timeout=120_000)
    predict._block_spin.value = 64
    plain = _predict(qtbot, predict, tmp_path / "plain.zarr")
    predict._tta_check.value = True
    averaged = _predict(qtbot, predict, tmp_path / "tta.zarr")
    import zarr

    stored = zarr.open_group(str(tmp_path / "tta.zarr"), mode="r").attrs["greentea"]
    assert stored["model"].endswith("+tta") and stored["tta"] is True

    ckpt = train.checkpoint
    image = np.asarray(predict._image_combo.value.data)
    ref = build_predictor(ckpt, "torch-cpu", tta=True)
    expected = predict_image(ref, ref.graph, image, preprocess=ckpt.preprocess)
    np.testing.assert_allclose(averaged, expected, atol=1e-5)
    assert np.abs(averaged - plain).max() > 1e-4  # the checkbox changed the prediction
