"""Images with a channel axis: which axis, which channels, one plane per channel.

The networks read ``(N, C, Y, X)`` batches. A grey image has no channel
axis and gives ``C = 1``. A multi-channel image is wrapped in a
:class:`ChannelImage` that names its channel axis (from layer metadata, the
OME-Zarr ``c`` axis, ``--channel-axis``, or RGB(A) colour recognised from
the shape) and the channels chosen. Its ``shape`` is the spatial shape,
so block planning, label checks and output stores are the same as for a
grey image; :meth:`ChannelImage.plane` gives each chosen channel as a lazy
array of that shape, so tiled prediction of a zarr image still reads only
the pixels of each tile.

A model remembers the channels it was trained on
(``PreprocessConfig.channels``, empty for a grey image) and prediction uses
the same ones unless told otherwise (:func:`model_input`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Channel counts of a trailing colour axis (RGB, RGBA).
COLOUR_CHANNELS = (3, 4)


class ChannelError(ValueError):
    """A channel axis or channel choice that does not fit the image or the model."""


def looks_like_colour(shape: Sequence[int]) -> bool:
    """True for ``(Y, X, 3|4)`` and ``(Z, Y, X, 3|4)``: RGB(A) pixels.

    Y and X must exceed 4 so a stack of 3 or 4 tiny slices is not mistaken
    for colour.
    """
    shape = tuple(shape)
    return len(shape) in (3, 4) and shape[-1] in COLOUR_CHANNELS and min(shape[-3:-1]) > 4


class _ChannelPlane:
    """Channel ``index`` along ``axis`` of a lazy array, indexed by spatial coordinates."""

    def __init__(self, array: Any, axis: int, index: int, shape: tuple[int, ...]) -> None:
        self.array, self.axis, self.index = array, axis, index
        self.shape, self.dtype, self.ndim = shape, np.dtype(array.dtype), len(shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        items = list(key) if isinstance(key, tuple) else [key]
        if any(item is Ellipsis for item in items):
            at = items.index(Ellipsis)
            items[at : at + 1] = [slice(None)] * (self.ndim - len(items) + 1)
        items += [slice(None)] * (self.ndim - len(items))
        items.insert(self.axis, self.index)
        return np.asarray(self.array[tuple(items)])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self[...]
        return data if dtype is None else data.astype(dtype, copy=False)


class ChannelImage:
    """An image with a channel axis, seen as its chosen channels.

    ``shape`` is the spatial shape (the channel axis removed), ``channels``
    the chosen indices along ``axis`` (all of them by default), ``count``
    how many the network reads.
    """

    def __init__(self, array: Any, axis: int, channels: Sequence[int] | None = None) -> None:
        full = tuple(int(s) for s in array.shape)
        if not -len(full) <= int(axis) < len(full):
            raise ChannelError(
                f"channel axis {axis} is out of range for an image of {len(full)} dimensions "
                f"(shape {full}); use 0..{len(full) - 1} or -1 for the last"
            )
        self.array, self.axis = array, int(axis) % len(full)
        self.total = full[self.axis]
        chosen = tuple(range(self.total)) if channels is None else tuple(
            int(c) for c in channels)
        if not chosen:
            raise ChannelError("no channels chosen; give at least one channel index")
        bad = [c for c in chosen if not 0 <= c < self.total]
        if bad:
            raise ChannelError(
                f"channel {bad[0]} is out of range: the image has {self.total} channels "
                f"(0..{self.total - 1}) along axis {self.axis} of shape {full}"
            )
        if len(set(chosen)) != len(chosen):
            raise ChannelError(f"channels {list(chosen)} name a channel twice")
        self.channels = chosen
        self.shape = full[: self.axis] + full[self.axis + 1 :]
        self.dtype = np.dtype(array.dtype)
        self.ndim = len(self.shape)

    @property
    def count(self) -> int:
        return len(self.channels)

    def plane(self, i: int) -> Any:
        """The ``i``-th chosen channel, an array of :attr:`shape` (lazy unless numpy)."""
        if isinstance(self.array, np.ndarray):
            return np.moveaxis(self.array, self.axis, 0)[self.channels[i]]
        return _ChannelPlane(self.array, self.axis, self.channels[i], self.shape)

    def __repr__(self) -> str:
        return (f"ChannelImage(shape {self.shape}, channels {list(self.channels)} of "
                f"{self.total} along axis {self.axis})")


def channel_planes(image: Any) -> list[Any]:
    """One array per network input channel: the planes of a :class:`ChannelImage`,
    or the grey image itself."""
    if isinstance(image, ChannelImage):
        return [image.plane(i) for i in range(image.count)]
    return [image]


def channel_count(image: Any) -> int:
    return image.count if isinstance(image, ChannelImage) else 1


def as_channels(image: Any, axis: int | None = None,
                channels: Sequence[int] | None = None) -> Any:
    """``image`` as the network reads it.

    With ``axis`` given (or already a :class:`ChannelImage`), the chosen
    ``channels`` (default: all) along it; an image whose shape is RGB(A)
    colour (:func:`looks_like_colour`) gets its last axis as the channel axis
    and, for RGBA, the three colour channels (alpha carries no signal). A
    grey image is returned as it is; choosing channels of it is an error.
    """
    if isinstance(image, ChannelImage):
        if axis is None and channels is None:
            return image
        return ChannelImage(image.array, image.axis if axis is None else axis, channels)
    shape = tuple(int(s) for s in getattr(image, "shape", ()))
    if axis is None and looks_like_colour(shape):
        axis = -1
        if channels is None and shape[-1] == 4:
            channels = (0, 1, 2)
    if axis is None:
        if channels is not None and tuple(channels) != (0,):
            raise ChannelError(
                f"channels {list(channels)} chosen, but the image of shape {shape} has no "
                "channel axis; name it (CLI: --channel-axis)"
            )
        return image
    return ChannelImage(image, axis, channels)


def describe(image: Any) -> str:
    """How many channels ``image`` gives the network, in words."""
    if isinstance(image, ChannelImage):
        return (f"{image.count} channel(s) {list(image.channels)} of {image.total} along "
                f"axis {image.axis}")
    return "1 channel (no channel axis)"


def check_count(image: Any, expected: int) -> None:
    """Raise :class:`ChannelError` unless ``image`` gives ``expected`` channels."""
    got = channel_count(image)
    if got != expected:
        raise ChannelError(
            f"the model reads {expected} channel(s) but the image gives {got}: "
            f"{describe(image)}; choose {expected} channel(s) (CLI: --channel-axis/--channels)"
        )


def model_input(image: Any, in_channels: int, trained_on: Sequence[int] = (), *,
                axis: int | None = None, channels: Sequence[int] | None = None) -> Any:
    """The channels of ``image`` a model reads.

    ``channels`` (the user's choice) wins; otherwise an image with a channel
    axis uses the channels the model was trained on (``trained_on``, empty
    for a grey-trained model). The count must equal ``in_channels``.
    """
    image = as_channels(image, axis, channels)
    if channels is None and trained_on and isinstance(image, ChannelImage):
        image = as_channels(image, channels=trained_on)
    check_count(image, in_channels)
    return image


def chosen_channels(image: Any) -> tuple[int, ...]:
    """What a checkpoint records: the chosen channel indices, () for a grey image."""
    return image.channels if isinstance(image, ChannelImage) else ()


def parse_channels(text: str | None) -> tuple[int, ...] | None:
    """``"0,2"`` -> ``(0, 2)``; None stays None."""
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ChannelError(f"--channels takes indices like 0,2; got {text!r}") from None
