"""Bad inputs give an error notification and leave every layer intact."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.widgets._annotate import AnnotateWidget
from napari_greentea.widgets._layers import LINK
from napari_greentea.widgets._train import TrainWidget

pytestmark = pytest.mark.gui


def _snapshot(viewer):
    return [(lyr.name, np.asarray(lyr.data).copy()) for lyr in viewer.layers]


def _assert_same(viewer, snap):
    assert [lyr.name for lyr in viewer.layers] == [name for name, _ in snap]
    for lyr, (_, data) in zip(viewer.layers, snap):
        np.testing.assert_array_equal(np.asarray(lyr.data), data)


def test_no_image(make_napari_viewer, errors):
    viewer = make_napari_viewer()
    train = TrainWidget(viewer)
    assert not train._start()
    assert "no image" in errors[-1]
    assert AnnotateWidget(viewer)._on_new_clicked() is None
    assert len(viewer.layers) == 0


def test_labels_of_another_shape(sample_viewer, errors):
    sample_viewer.add_labels(np.ones((100, 100), np.uint8), name="wrong",
                             metadata={LINK: "synthetic membranes"})
    snap = _snapshot(sample_viewer)
    assert not TrainWidget(sample_viewer)._start()
    assert "shape" in errors[-1]
    _assert_same(sample_viewer, snap)


def test_no_labeled_pixels(sample_viewer, errors):
    AnnotateWidget(sample_viewer)._on_new_clicked()
    snap = _snapshot(sample_viewer)
    assert not TrainWidget(sample_viewer)._start()
    assert "no labeled pixels" in errors[-1]
    _assert_same(sample_viewer, snap)


def test_single_class(sample_viewer, errors):
    layer = AnnotateWidget(sample_viewer)._on_new_clicked()
    layer.data = np.pad(np.ones((5, 5), np.uint8), ((0, 251), (0, 251)))
    assert not TrainWidget(sample_viewer)._start()
    assert "only class 1" in errors[-1]


def test_rgb_image_without_labels(make_napari_viewer, errors):
    """RGB is accepted as 3 channels; what is missing is the labels, and that is said."""
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((64, 64, 3), np.uint8), name="rgb", rgb=True)
    snap = _snapshot(viewer)
    train = TrainWidget(viewer)
    assert not train._start()
    assert "no labels layer is linked" in errors[-1]
    _assert_same(viewer, snap)
    labels = AnnotateWidget(viewer)._on_new_clicked()
    assert labels.data.shape == (64, 64)


def test_predict_without_model(sample_viewer, errors):
    from napari_greentea.widgets._predict import PredictWidget

    assert PredictWidget(sample_viewer)._on_predict_clicked() is None
    assert "model" in errors[-1]


def test_training_while_running_is_refused(sample_viewer, errors, qtbot, start_long_training):
    _, train = start_long_training(sample_viewer)
    assert not train._start()
    assert "already running" in errors[-1]
    with qtbot.waitSignal(train.worker.finished, timeout=30_000):
        train._on_stop_clicked()


def test_loading_a_file_that_is_not_a_checkpoint(sample_viewer, errors, tmp_path):
    from napari_greentea.widgets._predict import PredictWidget

    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.ones(3))
    snap = _snapshot(sample_viewer)
    assert PredictWidget(sample_viewer)._load(str(bad)) is None
    assert "not a napari-greentea checkpoint" in errors[-1]
    assert TrainWidget(sample_viewer)._load(str(tmp_path / "missing.npz")) is None
    assert "no checkpoint" in errors[-1]
    _assert_same(sample_viewer, snap)


def test_file_buttons_ask_for_a_path_and_do_nothing_when_cancelled(sample_viewer, errors,
                                                                    monkeypatch, tmp_path):
    from napari_greentea.widgets import _checkpoint_files
    from napari_greentea.widgets._predict import PredictWidget

    asked: list[bool] = []
    answers = iter([None, str(tmp_path / "missing.npz"), None, str(tmp_path / "m.npz")])

    def ask_path(parent, save):
        asked.append(save)
        return next(answers)

    monkeypatch.setattr(_checkpoint_files, "ask_path", ask_path)
    predict, train = PredictWidget(sample_viewer), TrainWidget(sample_viewer)
    predict._load_button.native.click()  # cancelled
    assert not errors
    predict._load_button.native.click()
    assert "no checkpoint" in errors[-1]
    train._save_button.native.click()  # cancelled
    assert len(errors) == 1
    train._save_button.native.click()
    assert "nothing to save" in errors[-1]
    assert asked == [False, False, True, True]


def test_export_model_button_writes_a_package_and_reports_errors(sample_viewer, errors, qtbot,
                                                                  tmp_path):
    pytest.importorskip("bioimageio.spec")
    import zipfile

    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.models import build_graph, preset
    from napari_greentea.weights import init_weights
    from napari_greentea.widgets._predict import PredictWidget

    widget = PredictWidget(sample_viewer)
    assert widget._export_model(str(tmp_path / "none.zip")) is None
    assert errors and "no model" in errors[-1]
    spec = preset("usk")
    widget.checkpoint = Checkpoint(spec=spec, weights=init_weights(build_graph(spec)))
    worker = widget._export_model(str(tmp_path / "m.zip"))
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass
    assert "exported m.zip" in widget._status_label.value
    with zipfile.ZipFile(tmp_path / "m.zip") as zf:
        assert "rdf.yaml" in zf.namelist()
    assert widget._load(str(tmp_path / "m.zip")).spec == spec


def test_predict_into_a_foreign_folder_is_refused(sample_viewer, errors, qtbot, tmp_path):
    """The job is built in a worker; its refusal still reaches the user, nothing is written."""
    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights
    from napari_greentea.widgets._predict import PredictWidget

    foreign = tmp_path / "mine.zarr"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a prediction store")
    predict = PredictWidget(sample_viewer)
    spec = preset("u", "interactive")
    predict.checkpoint = Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0))
    predict._output_edit.value = str(foreign)
    snap = _snapshot(sample_viewer)
    assert predict._on_predict_clicked() is not None
    # the widget drops its worker on ``finished`` (connected before the start); a waitSignal
    # connected after the start can miss a worker that ends at once
    qtbot.waitUntil(lambda: predict.worker is None, timeout=60_000)
    assert errors and errors[-1].startswith("cannot predict:")
    assert predict.job is None and predict.layers == []
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    _assert_same(sample_viewer, snap)


def test_cancel_while_preparing_stops_before_any_block(sample_viewer, qtbot, tmp_path):
    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights
    from napari_greentea.widgets._predict import PredictWidget

    predict = PredictWidget(sample_viewer)
    spec = preset("u", "interactive")
    predict.checkpoint = Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0))
    predict._output_edit.value = str(tmp_path / "p.zarr")
    assert predict._on_predict_clicked() is not None
    predict._on_cancel_clicked()  # before the worker has handed over the job
    # a quit before the thread starts ends the worker at once: wait on the widget, not a signal
    qtbot.waitUntil(lambda: predict.worker is None, timeout=60_000)
    if predict.job is not None:  # the worker prepared before the quit request arrived
        assert len(predict.job.pending()) >= len(predict.job.blocks) - 1
