"""Annotate: one click gives a labels layer ready for scribbling.

The layer is linked to its image through metadata, carries the editable
class names, and uses fixed class colours, so the Train widget can collect
every linked pair without asking the user again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    Container,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
    create_widget,
)

from . import _session
from ._gc import keep_collections_short
from ._layers import (
    DEFAULT_CLASSES,
    LINK,
    class_names_of,
    label_colormap,
    layer_image,
    linked_labels,
    spatial_transform,
)
from ._tooltips import wrap_tooltips

if TYPE_CHECKING:
    import napari


class AnnotateWidget(Container):
    """Create/link a labels layer for an image and show labeled pixel counts."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        keep_collections_short(viewer)  # before building: no full collection in the build
        super().__init__()
        self._viewer = viewer
        self._image_combo = create_widget(annotation="napari.layers.Image", label="image")
        self._classes_edit = LineEdit(value=", ".join(DEFAULT_CLASSES), label="classes",
                                      tooltip="comma-separated class names; label k = k-th name")
        self._new_button = PushButton(text="New labels layer")
        self._brush_spin = SpinBox(value=3, min=1, max=100, label="brush size")
        self._counts_label = Label(value="")
        self.extend([self._image_combo, self._classes_edit, self._new_button,
                     self._brush_spin, self._counts_label])
        wrap_tooltips(self)
        viewer.layers.events.inserted.connect(self.reset_choices)  # docked or not
        viewer.layers.events.removed.connect(self.reset_choices)
        self._watched: Any = None
        self._new_button.changed.connect(self._on_new_clicked)
        self._classes_edit.changed.connect(self._on_classes_changed)
        self._brush_spin.changed.connect(self._on_brush_changed)
        self._image_combo.changed.connect(self._on_image_changed)
        self._on_image_changed()
        _session.register(viewer, "annotate", self)

    def project_settings(self) -> dict[str, Any]:
        return {"classes": self._classes_edit.value, "brush_size": self._brush_spin.value}

    def apply_project_settings(self, settings: dict[str, Any]) -> None:
        self._brush_spin.value = settings.get("brush_size", self._brush_spin.value)
        self._classes_edit.value = settings.get("classes", self._classes_edit.value)

    # ------------------------------------------------------------ helpers
    def class_names(self) -> tuple[str, ...]:
        names = tuple(n.strip() for n in self._classes_edit.value.split(",") if n.strip())
        return names or DEFAULT_CLASSES

    def labels_layer(self) -> Any:
        image = self._image_combo.value
        found = linked_labels(self._viewer, image) if image is not None else []
        return found[0] if found else None

    # ------------------------------------------------------------ handlers
    def _on_new_clicked(self) -> Any:
        from napari.utils.notifications import show_error

        image = self._image_combo.value
        if image is None:
            show_error("no image layer: open an image or a sample first")
            return None
        names = self.class_names()
        layer = self.labels_layer()
        if layer is None:
            layer = self._viewer.add_labels(
                np.zeros(layer_image(image).shape, np.uint8),
                name=f"{image.name} labels",
                **spatial_transform(image),
                metadata={LINK: image.name, "class_names": list(names)},
            )
        layer.colormap = label_colormap(len(names))
        layer.mode = "paint"
        layer.brush_size = self._brush_spin.value
        layer.selected_label = 1
        self._viewer.layers.selection.active = layer
        self._watch(layer)
        return layer

    def _on_classes_changed(self) -> None:
        layer = self.labels_layer()
        if layer is not None:
            layer.metadata["class_names"] = list(self.class_names())
            layer.colormap = label_colormap(len(self.class_names()))
        self._update_counts()

    def _on_brush_changed(self) -> None:
        layer = self.labels_layer()
        if layer is not None:
            layer.brush_size = self._brush_spin.value

    def _on_image_changed(self) -> None:
        layer = self.labels_layer()
        if layer is not None:
            self._classes_edit.value = ", ".join(class_names_of(layer))
        self._watch(layer)

    def _watch(self, layer: Any) -> None:
        if self._watched is not None:
            for ev in (self._watched.events.paint, self._watched.events.data):
                ev.disconnect(self._update_counts)
        self._watched = layer
        if layer is not None:
            layer.events.paint.connect(self._update_counts)
            layer.events.data.connect(self._update_counts)
        self._update_counts()

    def _update_counts(self, event: Any = None) -> None:
        layer = self._watched
        if layer is None:
            self._counts_label.value = "no labels layer yet"
            return
        counts = np.bincount(np.asarray(layer.data).ravel(), minlength=1)
        names = self.class_names()
        parts = [f"{names[c - 1] if c <= len(names) else f'class {c}'}: {int(counts[c])}"
                 for c in range(1, len(counts)) if counts[c]]
        self._counts_label.value = "labeled: " + (", ".join(parts) or "none")

    def counts(self) -> dict[int, int]:
        """Labeled pixels per class of the watched layer (used by tests)."""
        if self._watched is None:
            return {}
        counts = np.bincount(np.asarray(self._watched.data).ravel())
        return {c: int(n) for c, n in enumerate(counts) if c and n}
