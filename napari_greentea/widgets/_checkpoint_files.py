"""Checkpoint file dialogs and loading shared by the Train and Predict widgets."""

from __future__ import annotations

from typing import Any

FILTER = "Greentea checkpoint (*.npz)"


def ask_path(parent: Any, save: bool) -> str | None:
    """A save/open dialog for a checkpoint; None when the user cancels."""
    from qtpy.QtWidgets import QFileDialog

    if save:
        path, _ = QFileDialog.getSaveFileName(parent, "Save checkpoint", "model.npz", FILTER)
    else:
        path, _ = QFileDialog.getOpenFileName(parent, "Load checkpoint", "", FILTER)
    return path or None


def load(path: str) -> Any:
    """The checkpoint at ``path``, or None after a napari error notification."""
    from napari.utils.notifications import show_error

    from ..checkpoint import Checkpoint

    try:
        return Checkpoint.load(path)
    except (OSError, ValueError, KeyError) as err:
        show_error(f"cannot load checkpoint {path}: {err}")
        return None
