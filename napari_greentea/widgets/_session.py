"""The model, and the widgets with project settings, shared by the widgets of one viewer.

Kept deliberately tiny: the Train widget publishes its latest checkpoint
here, the Predict widget reads it. Keyed by the unwrapped viewer, because
napari hands each dock widget its own ``PublicOnlyProxy`` of the same
viewer.
"""

from __future__ import annotations

from typing import Any

_MODELS: dict[int, Any] = {}


def _key(viewer: Any) -> int:
    return id(getattr(viewer, "__wrapped__", viewer))


def publish(viewer: Any, checkpoint: Any) -> None:
    """Record the latest checkpoint for ``viewer``."""
    _MODELS[_key(viewer)] = checkpoint


def latest(viewer: Any) -> Any:
    """The last checkpoint published for ``viewer`` (None if none)."""
    return _MODELS.get(_key(viewer))


#: Widgets whose settings a project saves: viewer -> name -> weak reference. Weak, so a
#: closed and collected widget drops out instead of being asked for settings.
_WIDGETS: dict[int, dict[str, Any]] = {}


def register(viewer: Any, name: str, widget: Any) -> None:
    """``widget`` (with ``project_settings()``/``apply_project_settings(dict)``) for ``viewer``."""
    import weakref

    _WIDGETS.setdefault(_key(viewer), {})[name] = weakref.ref(widget)


def widgets(viewer: Any) -> dict[str, Any]:
    """The registered widgets of ``viewer`` that still exist, by name."""
    found = {name: ref() for name, ref in _WIDGETS.get(_key(viewer), {}).items()}
    return {name: w for name, w in found.items() if w is not None}
