"""The model shared between the Train and Predict widgets of one viewer.

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
