"""The part of a large image that image-wide work (pretraining) reads.

Pretraining regresses about 40 filter responses per pixel, kept in memory
as float32: a 16384^2 plane would need 40 GiB. :func:`bounded_sample` keeps
at most ``max_pixels`` spatial pixels: evenly spaced planes of a stack (the
first and last included) and a central crop of each plane. Only those
pixels are read, so a lazy (zarr, dask) image is never loaded whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..channels import ChannelImage, channel_planes

#: Spatial pixels read at most: 16 ISBI slices of 512^2, or one 2048^2 crop.
MAX_PIXELS = 4 * 1024 * 1024


def bounded_sample(image: Any, max_pixels: int = MAX_PIXELS) -> Any:
    """``image`` (grey or :class:`ChannelImage`) cut to at most ``max_pixels`` per channel.

    Returns a numpy array of the same layout for a grey image, or a
    :class:`ChannelImage` with its channels first for a multi-channel one.
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    planes = channel_planes(image)
    shape = tuple(planes[0].shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"expected a (Y, X) or (Z, Y, X) image, got spatial shape {shape}")
    h, w = shape[-2:]
    side_y = min(h, max(1, int(np.sqrt(max_pixels * h / w))))
    side_x = min(w, max(1, max_pixels // side_y))
    ys = slice((h - side_y) // 2, (h - side_y) // 2 + side_y)
    xs = slice((w - side_x) // 2, (w - side_x) // 2 + side_x)
    if len(shape) == 2:
        cut = [np.asarray(p[ys, xs]) for p in planes]
    else:
        count = max(1, min(shape[0], max_pixels // (side_y * side_x)))
        zs = np.unique(np.linspace(0, shape[0] - 1, count).round().astype(int))
        cut = [np.stack([np.asarray(p[int(z), ys, xs]) for z in zs]) for p in planes]
    if isinstance(image, ChannelImage):
        return ChannelImage(np.stack(cut), 0)
    return cut[0]
