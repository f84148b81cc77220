"""The model shared between the Train and Predict widgets of one viewer.

Kept deliberately tiny: the Train widget publishes its latest checkpoint
(and the live trainer) here, the Predict widget reads it. Keyed by the
unwrapped viewer, because napari hands each dock widget its own
``PublicOnlyProxy`` of the same viewer.
"""

from __future__ import annotations

from typing import Any

_MODELS: dict[int, Any] = {}
_TRAINERS: dict[int, Any] = {}


def _key(viewer: Any) -> int:
    return id(getattr(viewer, "__wrapped__", viewer))


def publish(viewer: Any, checkpoint: Any = None, trainer: Any = None) -> None:
    """Record the latest checkpoint and/or running trainer for ``viewer``."""
    if checkpoint is not None:
        _MODELS[_key(viewer)] = checkpoint
    if trainer is not None:
        _TRAINERS[_key(viewer)] = trainer


def latest(viewer: Any) -> Any:
    """The last checkpoint published for ``viewer`` (None if none)."""
    return _MODELS.get(_key(viewer))


def trainer(viewer: Any) -> Any:
    """The last trainer published for ``viewer`` (None if none)."""
    return _TRAINERS.get(_key(viewer))
