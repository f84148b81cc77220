"""Checkpoint file dialogs and loading shared by the Train and Predict widgets."""

from __future__ import annotations

from typing import Any

FILTER = "Greentea checkpoint (*.npz)"
OPEN_FILTER = "Greentea checkpoint or bioimage.io package (*.npz *.zip)"


def ask_path(parent: Any, save: bool) -> str | None:
    """A save/open dialog for a checkpoint; None when the user cancels."""
    from qtpy.QtWidgets import QFileDialog

    if save:
        path, _ = QFileDialog.getSaveFileName(parent, "Save checkpoint", "model.npz", FILTER)
    else:
        path, _ = QFileDialog.getOpenFileName(parent, "Load checkpoint", "", OPEN_FILTER)
    return path or None


def load(path: str) -> Any:
    """The checkpoint (or exported package) at ``path``, or None after a napari error."""
    from napari.utils.notifications import show_error

    from ..export.package import load_model_file

    try:
        return load_model_file(path)
    except (OSError, ValueError, KeyError) as err:
        show_error(f"cannot load checkpoint {path}: {err}")
        return None
