"""Docking does the heavy imports and backend probing in a worker: the
action buttons stay disabled ("loading…") until the worker reports."""

from __future__ import annotations

import threading

import pytest


@pytest.mark.parametrize("which", ["train", "predict"])
def test_actions_disabled_until_the_backend_probe_reports(
        sample_viewer, qtbot, monkeypatch, which):
    from napari_greentea.widgets import _backend_picker
    from napari_greentea.widgets._predict import PredictWidget
    from napari_greentea.widgets._train import TrainWidget

    release = threading.Event()
    probed_on: list[threading.Thread] = []
    real_probe = _backend_picker.probe_backends

    def slow_probe(delay_s=0.0):
        probed_on.append(threading.current_thread())
        assert release.wait(30)
        return real_probe(delay_s)

    monkeypatch.setattr(_backend_picker, "probe_backends", slow_probe)
    widget = (TrainWidget if which == "train" else PredictWidget)(sample_viewer)
    action = widget._start_button if which == "train" else widget._predict_button
    qtbot.waitUntil(lambda: bool(probed_on), timeout=10_000)
    qtbot.wait(100)
    assert probed_on[0] is not threading.main_thread()
    assert not action.enabled and not widget._resume_button.enabled
    assert not widget._backend_picker._combo.enabled
    assert widget._status_label.value == _backend_picker.LOADING
    release.set()
    qtbot.waitUntil(lambda: action.enabled, timeout=180_000)  # imports torch: slow on a loaded CPU
    assert widget._resume_button.enabled and widget._backend_picker.ready
    assert widget._status_label.value != _backend_picker.LOADING
    names = list(widget._backend_picker._combo.choices)
    assert "auto" in names and len(names) > 1  # torch-cpu at least, listed after the probe
