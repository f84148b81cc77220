"""Training progress lives in the Train widget, not in napari's activity
indicator (its animation recomposites the window through OpenGL on every frame
and took CPU from training): no napari progress exists while training, and
the widget's text says iteration / target."""

from __future__ import annotations

import pytest
from napari.utils import progress

from napari_greentea.widgets._annotate import AnnotateWidget
from napari_greentea.widgets._train import TrainWidget

pytestmark = pytest.mark.gui


def test_progress_without_napari_activity_indicator(sample_viewer, qtbot, paint_scribbles):
    viewer = sample_viewer
    annotate, train = AnnotateWidget(viewer), TrainWidget(viewer)
    train._preview_check.value = False
    paint_scribbles(viewer, annotate)
    train._iter_spin.value = 100_000
    assert train._start()
    qtbot.waitUntil(lambda: "/ 100,000" in train._status_label.value, timeout=60_000)
    assert len(progress._all_instances) == 0
    with qtbot.waitSignal(train.worker.finished, timeout=30_000):
        train._on_stop_clicked()
    qtbot.waitUntil(lambda: train.worker is None, timeout=5_000)
    assert train._status_label.value.startswith("stopped")
    assert train.loss_plot.points and train.loss_plot.points[-1][0] <= train.checkpoint.iteration
