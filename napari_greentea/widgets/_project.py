"""Save project… / Open project…: layers, model and widget settings to a project folder and back.

The folder format and its checks live in :mod:`napari_greentea.project`;
here the viewer's layers become its arguments and its contents become
layers again. Every widget registered in :mod:`._session` contributes its
settings under its name and gets them back on open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import _session
from ._layers import LINK, class_names_of, label_colormap, layer_array, linked_labels

FILTER = "Greentea project (*.greentea)"


def ask_path(parent: Any, save: bool) -> str | None:
    """A dialog for a project folder; None when the user cancels."""
    from qtpy.QtWidgets import QFileDialog

    if save:
        path, _ = QFileDialog.getSaveFileName(parent, "Save project", "project.greentea", FILTER)
    else:
        path = QFileDialog.getExistingDirectory(parent, "Open project (a .greentea folder)")
    return path or None


def save(viewer: Any, path: str | Path, image: Any, checkpoint: Any) -> Path:
    """Write ``image``, its linked labels, ``checkpoint`` and every widget's settings."""
    from ..containers import split_dataset_path
    from ..project import save_project

    if image is None:
        raise ValueError("no image selected: choose the image whose labels to save")
    painted = linked_labels(viewer, image)
    labels = np.asarray(painted[0].data) if painted else None
    source = image.source.path
    where: dict[str, Any] = (
        {"image": source} if source and Path(split_dataset_path(source)[0]).exists()
        else {"image_data": np.asarray(layer_array(image))})  # a sample or computed layer
    settings = {name: w.project_settings() for name, w in _session.widgets(viewer).items()}
    return save_project(path, image_name=image.name, labels=labels,
                        class_names=class_names_of(painted[0]) if painted else (),
                        checkpoint=checkpoint, settings=settings, **where)


def open_layers(viewer: Any, path: str | Path) -> tuple[Any, list[Any]]:
    """Add the project's image and labels layers; restore settings and the model.

    Returns the project and the layers added. The labels are linked to the
    image layer by the name napari gave it (which differs from the saved one
    when the viewer already has a layer of that name).
    """
    from ..project import layer_data, load_project

    project = load_project(path)
    added: list[Any] = []
    for data, kwargs, kind in layer_data(project):
        if kind == "labels":
            kwargs["metadata"][LINK] = added[0].name
            layer = viewer.add_labels(data, scale=added[0].scale, **kwargs)
            layer.colormap = label_colormap(max(len(project.class_names), int(data.max()), 1))
        else:
            layer = viewer.add_image(data, **kwargs)
        added.append(layer)
    restore(viewer, project)
    return project, added


def restore(viewer: Any, project: Any) -> None:
    """Give every registered widget its saved settings; publish the project's model."""
    for name, widget in _session.widgets(viewer).items():
        if name in project.settings:
            widget.apply_project_settings(project.settings[name])
    if project.checkpoint is not None:
        _session.publish(viewer, project.checkpoint)
