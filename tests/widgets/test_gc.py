"""Frozen long-lived objects: full collections stay short, removed layers are still freed."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from napari_greentea.widgets import _gc

pytestmark = pytest.mark.gui


@pytest.fixture
def freezing(monkeypatch):
    monkeypatch.setenv("GREENTEA_GC_FREEZE", "1")
    yield
    gc.unfreeze()
    _gc._FROZEN_LAYERS.clear()


def test_turned_off_by_the_environment(make_napari_viewer, monkeypatch):
    monkeypatch.setenv("GREENTEA_GC_FREEZE", "0")
    assert not _gc.keep_collections_short(make_napari_viewer())
    assert gc.get_freeze_count() == 0


def test_a_layer_alive_at_the_freeze_is_freed_after_its_removal(make_napari_viewer, qtbot,
                                                                   freezing):
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((64, 64), np.float32), name="old")
    ref = weakref.ref(layer)
    assert _gc.keep_collections_short(viewer)
    assert gc.get_freeze_count() > 0
    later = viewer.add_image(np.zeros((8, 8), np.float32), name="new")
    assert id(later) not in _gc._FROZEN_LAYERS  # added after the freeze: collected as usual
    viewer.layers.remove(layer)
    del layer
    qtbot.waitUntil(lambda: ref() is None, timeout=5_000)
    assert gc.get_freeze_count() > 0  # frozen again after the collection


def test_collections_paused_restores_automatic_collection(freezing):
    assert gc.isenabled()
    with _gc.collections_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
