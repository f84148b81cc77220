"""The Train widget trains with held-out strokes and shows their accuracy beside the loss."""

from __future__ import annotations

import pytest

from napari_greentea.widgets._annotate import AnnotateWidget
from napari_greentea.widgets._train import TrainWidget

pytestmark = pytest.mark.gui


def test_interactive_training_holds_out_strokes_and_plots_validation(
        sample_viewer, qtbot, paint_scribbles):
    annotate, train = AnnotateWidget(sample_viewer), TrainWidget(sample_viewer)
    paint_scribbles(sample_viewer, annotate)
    train._iter_spin.value = 100
    train._knob_spins["base_fmaps"].value = 4  # a small U-Net: the test is about the plumbing
    train._knob_spins["depth"].value = 1
    train._preview_check.value = False
    assert train._start()
    with qtbot.waitSignal(train.worker.finished, timeout=600_000):
        pass
    qtbot.waitUntil(lambda: train.worker is None, timeout=5_000)
    cfg = train.trainer.train_config
    assert cfg.holdout == 0.1 and cfg.average > 0  # the interactive recipe
    assert train.trainer.held_out is not None
    iterations = [it for it, _ in train.loss_plot.validation]
    assert iterations == list(range(cfg.validate_every, 101, cfg.validate_every))
    assert all(0 <= acc <= 1 for _, acc in train.loss_plot.validation)
    kept = train.trainer.held_out.best_iteration
    assert kept in iterations
    # the saved checkpoint holds the served (kept) weights
    served = train.trainer.served_weights()
    for key, value in train.checkpoint.weights.items():
        assert (value == served[key]).all()
