"""Adapters between napari layers and the core's arrays.

* labels layers are linked to their image through
  ``metadata["greentea_image"]`` (the image layer's name), which lets
  several image/labels pairs form one training set;
* :class:`ClassView` shows one class of a (C, ...) zarr array as a lazy
  array-like, so a probability layer reads only what napari slices and
  never goes through a cache that could hold not-yet-written (NaN) tiles;
* an RGB(A) layer, or one whose ``metadata["channel_axis"]`` names a
  channel axis, reaches the core as a ``channels.ChannelImage``
  (:func:`layer_image`); the layers made for it (labels, probabilities)
  have its spatial shape and transform (:func:`spatial_transform`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._samples import CLASS_COLORS
from ..project import IMAGE_LINK as LINK
from ..sample import CLASS_NAMES

CHANNEL_AXIS = "channel_axis"
DEFAULT_CLASSES = tuple(CLASS_NAMES)


def label_colormap(num_classes: int) -> Any:
    """A fixed class -> colour map, so class 1 looks the same in every layer."""
    from napari.utils.colormaps import DirectLabelColormap

    colors: dict[int | None, Any] = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0)}
    for c in range(1, num_classes + 1):
        colors[c] = CLASS_COLORS.get(c, (0.7, 0.7, 0.7, 1.0))
    return DirectLabelColormap(color_dict=colors)


def add_layer_unselected(viewer: Any, data: Any, kind: str = "image", **kwargs: Any) -> Any:
    """``viewer.add_<kind>`` (``add_image``, ``add_labels``) that leaves the
    active layer (and the user's tool) as it was.

    napari makes every inserted layer the active one, which rebuilds the
    layer-controls panel; switching back rebuilds it again. Together with
    the insert that is one event-loop turn of 250-450 ms on a software-GL
    display; without the two switches the insert alone remains.
    """
    layers = viewer.layers
    activate = getattr(layers, "_activate_on_insert", None)  # napari's private switch
    if activate is not None:
        layers._activate_on_insert = False
    try:
        return getattr(viewer, f"add_{kind}")(data, **kwargs)
    finally:
        if activate is not None:
            layers._activate_on_insert = activate


def is_image(layer: Any) -> bool:
    from napari.layers import Image

    return isinstance(layer, Image)


def layer_array(layer: Any) -> Any:
    """The full-resolution array of a layer (level 0 of a multiscale one)."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def channel_axis_of(layer: Any) -> int | None:
    """The channel axis of a non-RGB layer's data named in its metadata, or None."""
    axis = layer.metadata.get(CHANNEL_AXIS)
    if axis is None or getattr(layer, "rgb", False):
        return None
    return int(axis) % layer.ndim


def layer_image(layer: Any) -> Any:
    """A layer's full-resolution data as the core reads it: with its channel axis
    (RGB colour, or ``metadata["channel_axis"]``), else as it is."""
    from ..channels import as_channels, looks_like_colour

    data = layer_array(layer)
    if getattr(layer, "rgb", False):
        return as_channels(data, None if looks_like_colour(data.shape) else -1)
    return as_channels(data, channel_axis_of(layer))


def _spatial(layer: Any, values: Any) -> Any:
    """``values`` per layer axis without the channel axis (RGB layers have none)."""
    axis = channel_axis_of(layer)
    values = np.asarray(values)
    return values if axis is None else np.delete(values, axis, axis=-1)


def spatial_transform(layer: Any) -> dict[str, Any]:
    """``scale`` and ``translate`` for a layer of ``layer``'s spatial shape."""
    return {"scale": _spatial(layer, layer.scale), "translate": _spatial(layer, layer.translate)}


def linked_labels(viewer: Any, image: Any) -> list[Any]:
    """Labels layers painted for ``image`` (metadata link)."""
    from napari.layers import Labels

    return [
        lyr for lyr in viewer.layers
        if isinstance(lyr, Labels) and lyr.metadata.get(LINK) == image.name
    ]


def class_names_of(layer: Any) -> tuple[str, ...]:
    names = layer.metadata.get("class_names") or DEFAULT_CLASSES
    return tuple(str(n) for n in names)


def training_pairs(viewer: Any, image: Any) -> tuple[list[Any], tuple[str, ...]]:
    """All linked (image, labels) pairs in the viewer, ``image``'s first.

    Raises ``ValueError`` with an actionable message when ``image`` is
    missing or has no labels layer; shape/content problems are left to the
    core's ``check_pairs`` so its messages reach the user unchanged.
    """
    from ..train import LabeledImage

    if image is None:
        raise ValueError("no image selected: open an image (or a sample) first")
    images = [image] + [lyr for lyr in viewer.layers if is_image(lyr) and lyr is not image]
    pairs, names = [], None
    for img in images:
        for lab in linked_labels(viewer, img):
            # copy the labels: painting may continue while the trainer reads them
            pairs.append(LabeledImage(_in_memory(layer_image(img)), np.array(lab.data)))
            names = names or class_names_of(lab)
    if not any(linked_labels(viewer, image)):
        raise ValueError(
            f"no labels layer is linked to image {image.name!r}: use Annotate > "
            "'New labels layer' and paint a few strokes of each class"
        )
    return pairs, names or DEFAULT_CLASSES


def _in_memory(image: Any) -> Any:
    """``image`` read into numpy (the trainer reads it whole), its channel axis kept."""
    from ..channels import ChannelImage

    if isinstance(image, ChannelImage):
        return ChannelImage(np.asarray(image.array), image.axis, image.channels)
    return np.asarray(image)


def view_focus(viewer: Any, layer: Any) -> tuple[float, ...]:
    """The spatial data coordinates (of ``layer``) at the centre of the view."""
    world = list(viewer.dims.point)
    world[-2:] = list(viewer.camera.center[-2:])
    return tuple(float(v) for v in _spatial(layer, layer.world_to_data(world)))


def view_crop(viewer: Any, layer: Any, cap: int = 512, margin: int = 32) -> tuple[Any, ...]:
    """(z, (y0, y1), (x0, x1)) of the part of ``layer`` in view, capped to ``cap``.

    Uses the layer's public ``corner_pixels`` (the data-space box napari
    draws) plus a margin, centred on the view when larger than ``cap``.
    """
    shape = layer_image(layer).shape
    corners = _spatial(layer, layer.corner_pixels)
    focus = view_focus(viewer, layer)
    z = None
    if len(shape) == 3:
        z = int(np.clip(round(focus[0]), 0, shape[0] - 1))
    spans = []
    for axis in (-2, -1):
        size = shape[axis]
        lo, hi = int(corners[0, axis]) - margin, int(corners[1, axis]) + 1 + margin
        if hi - lo > cap or hi <= lo:
            centre = int(np.clip(focus[axis], 0, size - 1))
            lo, hi = centre - cap // 2, centre + cap // 2
        lo, hi = max(lo, 0), min(hi, size)
        spans.append((lo, max(hi, lo + 1)))
    return z, spans[0], spans[1]


def _selection_shape(key: Any, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """Shape of ``array[key]`` for ints and slices (None for other keys)."""
    key = np.index_exp[key]
    if any(k is Ellipsis for k in key):
        i = next(n for n, k in enumerate(key) if k is Ellipsis)
        key = key[:i] + (slice(None),) * (len(shape) - len(key) + 1) + key[i + 1:]
    key = key + (slice(None),) * (len(shape) - len(key))
    out = []
    for k, n in zip(key, shape, strict=True):
        if isinstance(k, slice):
            out.append(len(range(*k.indices(n))))
        elif not isinstance(k, int | np.integer):
            return None
    return tuple(out)


def _unwritten(key: Any, shape: tuple[int, ...], written: np.ndarray, block: int) -> bool:
    """True when no block overlapping ``key`` (ints and unit-step slices) has values."""
    key = np.index_exp[key]
    if len(key) != len(shape) or any(isinstance(k, slice) and k.step not in (None, 1)
                                       for k in key):
        return False
    sel = []
    for axis, (k, n) in enumerate(zip(key, shape, strict=True)):
        lo, hi = (int(k), int(k) + 1) if not isinstance(k, slice) else k.indices(n)[:2]
        if hi <= lo:
            return False
        spatial = axis >= len(shape) - 2
        sel.append(slice(lo // block, (hi - 1) // block + 1) if spatial else slice(lo, hi))
    return not written[tuple(sel)].any()


class ClassView:
    """Class ``c`` of a (C, ...) array as an array-like napari can slice.

    With ``written`` (a block grid, see ``_stream.Pyramid``) a read of a
    region without any computed block returns NaN without touching the
    store: napari slices the visible region on the GUI thread, and reading
    a huge store's empty chunks there stalled it for hundreds of ms.
    """

    def __init__(self, array: Any, c: int, step: int = 1, written: np.ndarray | None = None,
                 block: int = 0) -> None:
        self.array, self.c, self.step = array, c, step
        self.written, self.block = written, block
        shape = tuple(array.shape[1:])
        self.shape = (*shape[:-2], *(-(-s // step) for s in shape[-2:]))
        self.dtype = np.dtype(array.dtype)
        self.ndim = len(self.shape)
        self.size = int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        if (self.written is not None and self.step == 1 and self.dtype.kind == "f"
                and _unwritten(key, self.shape, self.written, self.block)):
            shape = _selection_shape(key, self.shape)
            if shape is not None:
                return np.full(shape, np.nan, self.dtype)
        return np.asarray(self.array[(self.c, *np.index_exp[key])])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.asarray(self.array[self.c])
        return out if dtype is None else out.astype(dtype)
