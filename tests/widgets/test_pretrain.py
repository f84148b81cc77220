"""Background pretraining: starts when an image is chosen, shows progress, Start uses it."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea import train as train_module
from napari_greentea.pretrain import classifier_keys
from napari_greentea.widgets import _pretrain
from napari_greentea.widgets._annotate import AnnotateWidget
from napari_greentea.widgets._train import TrainWidget

pytestmark = pytest.mark.gui


@pytest.fixture
def short_pretraining(monkeypatch):
    monkeypatch.setattr(_pretrain, "ON_BY_DEFAULT", True)
    monkeypatch.setattr(_pretrain, "BUDGET_S", 3.0)


def _ready(qtbot, train):
    """Backend probe done; torch-cpu chosen (on "auto" the first run measures OpenCL too,
    whose kernel builds make the first steps take seconds)."""
    train._backend_picker.select("torch-cpu")
    qtbot.waitUntil(lambda: train._backend_picker.ready, timeout=60_000)


def test_choosing_an_image_pretrains_and_start_trains_from_it(
        sample_viewer, qtbot, paint_scribbles, short_pretraining, monkeypatch):
    built = []
    original = train_module.Trainer.__init__

    def spy(self, spec, pairs, **kwargs):
        original(self, spec, pairs, **kwargs)
        built.append((kwargs.get("init_from"), self.checkpoint().weights))

    monkeypatch.setattr(train_module.Trainer, "__init__", spy)
    annotate, train = AnnotateWidget(sample_viewer), TrainWidget(sample_viewer)
    train._preview_check.value = False
    _ready(qtbot, train)
    # the image combo already holds the sample: pretraining starts without a click
    qtbot.waitUntil(lambda: train.pretraining.worker is not None, timeout=10_000)
    qtbot.waitUntil(lambda: "iterations" in train._pretrain_label.value, timeout=60_000)
    qtbot.waitUntil(lambda: train.pretraining.result is not None, timeout=60_000)
    result = train.pretraining.result
    assert result.iterations > 0
    assert "pretrained" in train._pretrain_label.value

    paint_scribbles(sample_viewer, annotate)
    train._iter_spin.value = 2
    train._on_start_clicked()
    qtbot.waitUntil(lambda: train.worker is None and train.checkpoint is not None,
                    timeout=120_000)
    init, weights = built[-1]
    assert init is not None
    classifier = classifier_keys(train.trainer.graph)
    copied = [k for k in weights if k not in classifier]
    assert copied and classifier
    for key in copied:  # every layer but the classifier starts from the pretraining
        np.testing.assert_array_equal(weights[key], result.weights[key])
    assert "training from" in train._pretrain_label.value
    # a model exists now: another image choice does not pretrain again
    train._want_pretraining()
    assert train.pretraining.job is None


def test_unchecking_stops_pretraining_and_start_trains_from_scratch(
        sample_viewer, qtbot, paint_scribbles, short_pretraining, monkeypatch):
    monkeypatch.setattr(_pretrain, "BUDGET_S", 120.0)
    annotate, train = AnnotateWidget(sample_viewer), TrainWidget(sample_viewer)
    train._preview_check.value = False
    _ready(qtbot, train)
    qtbot.waitUntil(lambda: train.pretraining.worker is not None, timeout=10_000)
    train._pretrain_check.value = False
    qtbot.waitUntil(lambda: train.pretraining.worker is None, timeout=60_000)
    paint_scribbles(sample_viewer, annotate)
    train._iter_spin.value = 2
    assert train._start()
    qtbot.waitUntil(lambda: train.worker is None, timeout=120_000)
    assert "training from" not in train._pretrain_label.value


def test_closing_the_widget_stops_pretraining(sample_viewer, qtbot, short_pretraining,
                                               monkeypatch):
    monkeypatch.setattr(_pretrain, "BUDGET_S", 120.0)
    train = TrainWidget(sample_viewer)
    sample_viewer.window.add_dock_widget(train)
    _ready(qtbot, train)
    qtbot.waitUntil(lambda: train.pretraining.worker is not None, timeout=10_000)
    worker = train.pretraining.worker
    sample_viewer.window.remove_dock_widget(train.native)
    qtbot.waitUntil(lambda: train.pretraining.worker is None or not worker.is_running,
                    timeout=60_000)


def test_another_network_or_image_starts_pretraining_over(sample_viewer, qtbot, short_pretraining,
                                                         monkeypatch):
    monkeypatch.setattr(_pretrain, "BUDGET_S", 120.0)
    train = TrainWidget(sample_viewer)
    _ready(qtbot, train)
    qtbot.waitUntil(lambda: train.pretraining.job is not None, timeout=10_000)
    first = train.pretraining.job
    train._knob_spins["depth"].value = 1  # through the knob's changed signal
    qtbot.waitUntil(lambda: train.pretraining.job is not first, timeout=10_000)
    second = train.pretraining.job
    assert first.stop_requested and second.spec.depth == 1
    # the stopped run's worker ends later: the running one stays the widget's worker
    qtbot.waitUntil(first.ended.is_set, timeout=60_000)
    qtbot.wait(200)
    assert train.pretraining.worker is not None and train.pretraining.worker.is_running
    other = sample_viewer.add_image(np.zeros((64, 64), np.uint8), name="other")
    train._image_combo.value = other
    qtbot.waitUntil(lambda: train.pretraining.job is not second, timeout=10_000)
    assert train.pretraining.job.layer is other
    train.pretraining.forget()
    qtbot.waitUntil(lambda: train.pretraining.worker is None, timeout=60_000)


def test_an_image_pretraining_cannot_read_says_so_and_start_still_trains(
        sample_viewer, qtbot, paint_scribbles, short_pretraining, monkeypatch):
    from napari_greentea import pretrain

    def refuse(self):
        raise ValueError("the image is constant")
        yield

    monkeypatch.setattr(pretrain.Pretrainer, "run", refuse)
    annotate, train = AnnotateWidget(sample_viewer), TrainWidget(sample_viewer)
    train._preview_check.value = False
    _ready(qtbot, train)
    qtbot.waitUntil(lambda: "no pretraining" in train._pretrain_label.value, timeout=30_000)
    assert "constant" in train._pretrain_label.value
    qtbot.waitUntil(lambda: train.pretraining.worker is None, timeout=30_000)
    paint_scribbles(sample_viewer, annotate)
    train._iter_spin.value = 2
    assert train._start()
    qtbot.waitUntil(lambda: train.worker is None and train.checkpoint is not None,
                    timeout=120_000)
    assert "training from" not in train._pretrain_label.value
