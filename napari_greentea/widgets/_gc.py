"""Short garbage collections in the napari process.

A napari session tracks a few hundred thousand long-lived objects (Qt
wrappers, napari, vispy, numpy, dask, zarr; torch adds more). Python's
automatic full collection walks all of them whenever enough new objects
have survived, holding the GIL for 150-330 ms: the GUI froze for that long
while the *Train* widget was built, while torch was imported, while panning
during a prediction and when cancelling one (``benchmarks/bench_gui_stall.py``,
collections timed with ``gc.callbacks``).

:func:`keep_collections_short` moves every object alive at that moment into
the permanent generation (``gc.freeze``); the widgets call it when they are
built. While the backend probe imports torch, automatic collections wait
(:func:`collections_paused`) and what the imports created is frozen at the
end, so later full collections walk only the objects created since.

Objects frozen that later become cyclic garbage would stay in memory. The
ones that matter are image and labels layers (a layer is a reference cycle
holding its data): removing a layer that existed at a freeze unfreezes,
collects and freezes again on the next event-loop turn. Layers added after
the last freeze are collected as usual. ``GREENTEA_GC_FREEZE=0`` turns all
of this off.
"""

from __future__ import annotations

import gc
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: ids of the layers alive at a freeze; the viewers whose layers are watched
_FROZEN_LAYERS: set[int] = set()
_VIEWERS: weakref.WeakSet = weakref.WeakSet()


def _enabled() -> bool:
    return os.environ.get("GREENTEA_GC_FREEZE", "1") != "0"


@contextmanager
def collections_paused() -> Iterator[None]:
    """No automatic collection inside (the probe's imports: each full one walked
    the growing heap, 150-200 ms, twice while torch loaded); what was created
    inside is frozen before collection resumes (else the first young-generation
    collection after it walks all of it: 60 ms)."""
    paused = _enabled() and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            _freeze()
            gc.enable()


def _freeze() -> None:
    gc.freeze()
    for watched in list(_VIEWERS):
        try:
            _FROZEN_LAYERS.update(id(layer) for layer in list(watched.layers))
        except RuntimeError:  # a viewer being closed
            continue


def keep_collections_short(viewer: Any) -> bool:
    """Main thread: freeze every object alive now; True if frozen (not turned off)."""
    if not _enabled():
        return False
    viewer = getattr(viewer, "__wrapped__", viewer)
    if viewer not in _VIEWERS:
        _VIEWERS.add(viewer)
        viewer.layers.events.removed.connect(_on_removed)
    _freeze()
    return True


def _on_removed(event: Any) -> None:
    layer = getattr(event, "value", None)
    if id(layer) in _FROZEN_LAYERS:
        from qtpy.QtCore import QTimer

        _FROZEN_LAYERS.discard(id(layer))
        QTimer.singleShot(0, collect_frozen)


def collect_frozen() -> None:
    """Collect what was frozen and has become garbage since, then freeze again."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
