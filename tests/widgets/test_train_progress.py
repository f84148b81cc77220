"""Training progress lives in the Train widget, not in napari's activity
indicator (its animation recomposites the window through OpenGL on every frame
and took CPU from training): no napari progress exists while training, and
the widget's text says iteration / target."""

from __future__ import annotations

import pytest
from napari.utils import progress

pytestmark = pytest.mark.gui


def test_progress_without_napari_activity_indicator(sample_viewer, qtbot, start_long_training):
    _, train = start_long_training(sample_viewer)
    qtbot.waitUntil(lambda: "/ 100,000" in train._status_label.value, timeout=60_000)
    assert len(progress._all_instances) == 0
    with qtbot.waitSignal(train.worker.finished, timeout=30_000):
        train._on_stop_clicked()
    qtbot.waitUntil(lambda: train.worker is None, timeout=5_000)
    assert train._status_label.value.startswith("stopped")
    assert train.loss_plot.points and train.loss_plot.points[-1][0] <= train.checkpoint.iteration
