"""Shared fixtures for the widget tests: a viewer with the synthetic sample.

Errors are captured by monkeypatching ``show_error`` where the widgets look
it up (they import it inside their handlers, from napari's module).
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea._samples import synthetic_sample
from napari_greentea.data.scribbles import scribbles_from_ground_truth


@pytest.fixture
def errors(monkeypatch):
    import napari.utils.notifications as notifications

    seen: list[str] = []
    monkeypatch.setattr(notifications, "show_error", lambda msg: seen.append(str(msg)))
    return seen


@pytest.fixture
def sample_viewer(make_napari_viewer):
    """Viewer with a 256^2 synthetic image and its hidden ground truth."""
    viewer = make_napari_viewer()
    (img, img_meta, _), (gt, gt_meta, _) = synthetic_sample((256, 256), seed=0)
    viewer.add_image(img, **img_meta)
    viewer.add_labels(gt, **gt_meta)
    return viewer


def _paint_scribbles(viewer, annotate):
    layer = annotate._on_new_clicked()
    gt = viewer.layers["synthetic membranes ground truth"].data
    layer.data = scribbles_from_ground_truth(np.asarray(gt), fraction=0.03, seed=0)
    return layer


@pytest.fixture
def paint_scribbles():
    """Create the labels layer through Annotate and fill it with scribbles."""
    return _paint_scribbles


@pytest.fixture
def start_long_training():
    """Paint scribbles and start a 100,000-iteration run (live preview off) in the Train
    widget, for tests that act on a run in progress; returns ``(annotate, train)``."""

    def start(viewer):
        from napari_greentea.widgets._annotate import AnnotateWidget
        from napari_greentea.widgets._train import TrainWidget

        annotate, train = AnnotateWidget(viewer), TrainWidget(viewer)
        train._preview_check.value = False
        _paint_scribbles(viewer, annotate)
        train._iter_spin.value = 100_000
        assert train._start()
        return annotate, train

    return start
