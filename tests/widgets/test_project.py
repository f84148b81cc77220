"""Save project… / Open project…: labels, model and every widget setting come back."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.widgets._annotate import AnnotateWidget
from napari_greentea.widgets._predict import PredictWidget
from napari_greentea.widgets._train import TrainWidget

pytestmark = pytest.mark.gui


def _widgets(viewer):
    widgets = AnnotateWidget(viewer), TrainWidget(viewer), PredictWidget(viewer)
    widgets[1]._preview_check.value = False
    return widgets


def _settings(widgets):
    return [w.project_settings() for w in widgets]


def _wait(qtbot, worker):
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass


def test_save_then_open_restores_labels_model_and_settings(
        sample_viewer, make_napari_viewer, qtbot, paint_scribbles, tmp_path):
    annotate, train, predict = _widgets(sample_viewer)
    qtbot.waitUntil(lambda: train._backend_picker.ready and predict._backend_picker.ready,
                    timeout=60_000)
    labels = paint_scribbles(sample_viewer, annotate)
    # settings away from their defaults in all three widgets
    annotate._brush_spin.value = 9
    train._balance_combo.value, train._lr_spin.value = "none", 2e-3
    next(iter(train._knob_spins.values())).value = 6
    predict._block_spin.value, predict._threshold_spin.value = 64, 0.3
    predict._min_size_spin.value, predict._method_combo.value = 7, "threshold"
    predict._tta_check.value = True
    train._starter_check.value = True  # ignored by this network (fmaps changed), but kept
    train._iter_spin.value = 4
    train._on_start_clicked()
    _wait(qtbot, train.worker)
    qtbot.waitUntil(lambda: train.worker is None, timeout=5_000)
    saved = _settings((annotate, train, predict))
    folder = train._save_project(str(tmp_path / "cells"))
    assert folder is not None and folder.name == "cells.greentea"

    viewer = make_napari_viewer()
    annotate2, train2, predict2 = _widgets(viewer)
    project = train2._open_project(str(folder))
    assert project is not None
    image, painted = viewer.layers
    np.testing.assert_array_equal(image.data, sample_viewer.layers[0].data)
    np.testing.assert_array_equal(painted.data, labels.data)
    assert painted.metadata["greentea_image"] == image.name == sample_viewer.layers[0].name
    assert painted.metadata["class_names"] == labels.metadata["class_names"]
    assert _settings((annotate2, train2, predict2)) == saved
    assert train2.checkpoint.iteration == 4
    for key, value in train.checkpoint.weights.items():
        np.testing.assert_array_equal(train2.checkpoint.weights[key], value)
    assert annotate2.labels_layer() is painted  # Annotate and Train see the pair

    qtbot.waitUntil(lambda: predict2._predict_button.enabled, timeout=60_000)
    predict2._image_combo.value = image
    worker = predict2._on_predict_clicked()
    assert worker is not None
    _wait(qtbot, worker)
    prob = np.asarray(predict2.job.prob[...])
    assert prob.shape == (2, *image.data.shape) and not np.isnan(prob).any()
    assert predict2.job.geometry.block == 64


def test_file_open_of_a_project_gives_the_train_widget_its_model(make_napari_viewer, tmp_path,
                                                                 synthetic_pair):
    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.project import save_project
    from napari_greentea.weights import init_weights

    image, gt = synthetic_pair
    spec = preset("u", "interactive", base_fmaps=4)
    ckpt = Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0), iteration=3)
    viewer = make_napari_viewer()
    train = TrainWidget(viewer)
    settings = train.project_settings()
    settings["train"] = {**settings["train"], "lr": 0.004}
    folder = save_project(tmp_path / "p", image_data=image, image_name="raw", labels=gt,
                          class_names=("membrane", "cell"), checkpoint=ckpt,
                          settings={"train": settings})
    viewer.open(str(folder), plugin="napari-greentea")
    assert [layer.name for layer in viewer.layers] == ["raw", "raw labels"]
    np.testing.assert_array_equal(viewer.layers["raw labels"].data, gt)
    assert train.checkpoint is not None and train.checkpoint.iteration == 3
    assert train._lr_spin.value == pytest.approx(0.004)
