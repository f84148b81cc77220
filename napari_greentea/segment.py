"""Instance segmentation (one label per cell) from a predicted probability map.

Thresholding the cell probability and labelling connected components joins
two cells wherever the predicted membrane between them has a gap of even one
pixel. The default method here is a *seeded watershed* on the boundary
(membrane) probability instead: one seed per cell, then the boundary map is
flooded from the seeds, so a small gap in a membrane no longer merges cells.

Seeds (``seeds=``):

* ``"distance"`` (default): regional maxima of the Euclidean distance
  transform of the thresholded cell mask. Two cells joined through a
  narrow gap still have one distance maximum each (their centres), with a
  low saddle (the gap) between them. A maximum becomes a seed only if
  ``(1 + peak) / (1 + saddle) >= seed_depth`` for the saddle towards any
  higher maximum (h-maxima of ``log(1 + distance)``): a relative rule, so
  that a large irregular cell does not get one seed per lobe while a gap
  narrower than half a cell still separates. A plateau is one seed.
  Holes in the cell mask up to ``max_hole`` pixels are filled before the
  distance transform: organelles predicted as membrane inside a cell would
  otherwise give it several seeds. The price: a membrane fragment of at
  most that size, cut off from the membrane network by gaps on every side,
  no longer separates seeds (the flooding still follows it); pass
  ``max_hole=0`` for such maps. Larger holes are never filled, so a
  membrane network broken into big pieces still seeds every cell.
* ``"hminima"``: regional minima of the (slightly smoothed) boundary map
  that are at least ``seed_depth`` (in probability) deeper than their
  surroundings. Needs some boundary signal in every gap.

The watershed floods every pixel: membranes are split between the cells on
either side and there is no background label. Objects under ``min_size``
pixels are removed and their pixels flooded again from their neighbours, so
they merge into the surrounding cells instead of leaving holes.

Stacks ``(Z, Y, X)`` are segmented slice by slice (EM sections are usually
much thicker than a pixel, so 3-D neighbourhoods would link unrelated
profiles). Labels are unique across the whole stack: slice ``z`` continues
numbering where slice ``z - 1`` stopped, and the same cell in two slices gets
two labels.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from .sample import CELL, MEMBRANE

#: 0-based probability channels of the 2-class convention (labels are 1-based).
BOUNDARY_CHANNEL = MEMBRANE - 1
CELL_CHANNEL = CELL - 1
METHODS = ("watershed", "threshold")
SEED_KINDS = ("distance", "hminima")
#: Objects smaller than this (pixels) are merged into their neighbours by default.
DEFAULT_MIN_SIZE = 50
#: Holes of the cell mask up to this area (pixels) are filled for the distance seeds.
DEFAULT_MAX_HOLE = 1000
DEFAULT_SEED_DEPTH = {"distance": 2.0, "hminima": 0.1}
_MIN_DEPTH = {"distance": 1.0, "hminima": 0.0}
#: Weight of the distance transform in the flooding landscape: it only breaks
#: ties on flat stretches of the boundary map (fronts then meet at necks).
_TIE_BREAK = 0.05
#: float32 softmax outputs may exceed 1 by rounding.
_TOLERANCE = 1e-5

__all__ = [
    "BOUNDARY_CHANNEL",
    "CELL_CHANNEL",
    "DEFAULT_MIN_SIZE",
    "METHODS",
    "SEED_KINDS",
    "boundary_from_classes",
    "iter_segment",
    "segment",
]


def _check_probability(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array, dtype=np.float32)
    if array.size == 0:
        raise ValueError(f"{what} is empty (shape {array.shape})")
    if np.isnan(array).any():
        raise ValueError(f"{what} contains NaN (an unfinished prediction?); predict every block")
    lo, hi = float(array.min()), float(array.max())
    if lo < -_TOLERANCE or hi > 1 + _TOLERANCE:
        raise ValueError(f"{what} must be probabilities in [0, 1], found [{lo:.4g}, {hi:.4g}]")
    return np.clip(array, 0.0, 1.0)


def boundary_from_classes(prob: Any, channel: int = BOUNDARY_CHANNEL) -> np.ndarray:
    """The boundary probability ``prob[channel]`` of class probabilities.

    ``prob`` is what prediction writes: ``(C, Y, X)`` or ``(C, Z, Y, X)``,
    channel ``c`` holding the probability of label ``c + 1`` (so channel
    :data:`BOUNDARY_CHANNEL` is the membrane in the 2-class convention).
    """
    shape = tuple(np.shape(prob))
    if len(shape) not in (3, 4):
        raise ValueError(
            f"class probabilities must be (C, Y, X) or (C, Z, Y, X), got shape {shape}")
    if not 0 <= channel < shape[0]:
        raise ValueError(
            f"boundary channel {channel} is out of range: the map has {shape[0]} classes "
            f"(channels 0..{shape[0] - 1})")
    return _check_probability(prob[channel], f"channel {channel}")


def _relabel_small(labels: np.ndarray, elevation: np.ndarray, min_size: int) -> np.ndarray:
    """Drop objects under ``min_size`` px and flood their pixels from the rest."""
    from skimage.segmentation import watershed

    sizes = np.bincount(labels.ravel())
    small = sizes < min_size
    small[0] = False
    if not small[1:].any():
        return labels
    kept = np.where(small[labels], 0, labels)
    if kept.max() == 0:
        return kept
    return watershed(elevation, kept, connectivity=1)


def _h_maxima(image: np.ndarray, h: float) -> np.ndarray:
    """Regional maxima of ``image`` at least ``h`` above their saddles (bool).

    They are the regional maxima of the reconstruction by dilation of
    ``image - h`` under ``image``; a plateau is one maximum. (skimage's
    ``h_maxima`` splits plateaus of float images into several maxima.)
    """
    from skimage.morphology import local_maxima, reconstruction

    image = image.astype(np.float64)
    domes = reconstruction(image - h, image, method="dilation")
    return local_maxima(domes, connectivity=2, allow_borders=True)


def _seeds(boundary: np.ndarray, cell_mask: np.ndarray, distance: np.ndarray,
           kind: str, depth: float) -> np.ndarray:
    from scipy import ndimage as ndi

    if kind == "distance":
        peaks = _h_maxima(np.log1p(distance), np.log(depth)) & cell_mask
    else:
        peaks = _h_maxima(-ndi.gaussian_filter(boundary, 1.0), depth)
    return ndi.label(peaks, structure=np.ones((3, 3)))[0]


def _watershed_slice(boundary: np.ndarray, threshold: float, seeds: str, depth: float,
                     min_size: int, max_hole: int) -> np.ndarray:
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    cell_mask = (1.0 - boundary) > threshold
    if max_hole > 0:
        holes, _ = ndi.label(~cell_mask)
        small = np.bincount(holes.ravel()) <= max_hole
        rim = np.concatenate([holes[0], holes[-1], holes[:, 0], holes[:, -1]])
        small[0], small[rim] = False, False  # open to the image border: not a hole
        cell_mask = cell_mask | small[holes]
    distance = ndi.distance_transform_edt(cell_mask).astype(np.float32)
    markers = _seeds(boundary, cell_mask, distance, seeds, depth)
    if markers.max() == 0:
        return np.zeros(boundary.shape, np.int64)
    elevation = boundary - _TIE_BREAK * distance / max(float(distance.max()), 1.0)
    labels = watershed(elevation, markers, connectivity=1)
    return _relabel_small(labels, elevation, min_size)


def _threshold_slice(boundary: np.ndarray, threshold: float, min_size: int) -> np.ndarray:
    from scipy import ndimage as ndi

    labels, _ = ndi.label((1.0 - boundary) > threshold)  # 4-connected
    small = np.bincount(labels.ravel()) < min_size
    small[0] = False
    return np.where(small[labels], 0, labels)


def iter_segment(
    boundary: Any,
    *,
    method: str = "watershed",
    seeds: str = "distance",
    min_size: int = DEFAULT_MIN_SIZE,
    threshold: float = 0.5,
    seed_depth: float | None = None,
    max_hole: int = DEFAULT_MAX_HOLE,
) -> Generator[tuple[int, int], None, np.ndarray]:
    """Cell instances (uint32, 0 = no cell) from a boundary probability map.

    A generator, so that a GUI worker can report progress: it yields
    ``(done, total)`` slices after each slice and returns the labels (see
    :func:`segment` for the plain call).

    Parameters
    ----------
    boundary : array, ``(Y, X)`` or ``(Z, Y, X)``
        Probability of *boundary* (membrane) per pixel, in [0, 1]; see
        :func:`boundary_from_classes` to take it from class probabilities.
    method : {"watershed", "threshold"}
        Seeded watershed (default) or ``1 - boundary > threshold`` plus
        4-connected components (objects under ``min_size`` become 0).
    seeds : {"distance", "hminima"}
        Watershed seeds; see the module docstring.
    min_size : int
        Objects with fewer pixels are merged into neighbours (watershed) or
        removed (threshold). 0 or 1 keeps everything.
    threshold : float
        A pixel is cell interior iff ``1 - boundary > threshold``; used for
        the ``"distance"`` seeds and by ``"threshold"``.
    seed_depth : float, optional
        Seed suppression: the peak/saddle ratio of the distance seeds (> 1)
        or the depth of the h-minima (probability, > 0); default
        :data:`DEFAULT_SEED_DEPTH` of ``seeds``.
    max_hole : int
        Holes of the cell mask up to this many pixels are filled before
        placing ``"distance"`` seeds; 0 fills none.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if seeds not in SEED_KINDS:
        raise ValueError(f"seeds must be one of {SEED_KINDS}, got {seeds!r}")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0 pixels, got {min_size}")
    if max_hole < 0:
        raise ValueError(f"max_hole must be >= 0 pixels, got {max_hole}")
    depth = DEFAULT_SEED_DEPTH[seeds] if seed_depth is None else float(seed_depth)
    if depth <= _MIN_DEPTH[seeds]:
        raise ValueError(f"seed_depth for {seeds!r} seeds must be > {_MIN_DEPTH[seeds]}, "
                         f"got {depth}")
    ndim = np.ndim(boundary)
    if ndim not in (2, 3):
        raise ValueError(
            f"boundary map must be (Y, X) or (Z, Y, X), got shape {np.shape(boundary)}; "
            "for class probabilities use boundary_from_classes(prob, channel)")
    stack = boundary if ndim == 3 else [boundary]
    out = np.zeros((len(stack), *np.shape(boundary)[-2:]), np.uint32)
    offset = 0
    for z, plane in enumerate(stack):
        plane = _check_probability(plane, "boundary map" if ndim == 2 else f"slice {z}")
        if method == "watershed":
            labels = _watershed_slice(plane, threshold, seeds, depth, min_size, max_hole)
        else:
            labels = _threshold_slice(plane, threshold, min_size)
        labels = _compact(labels)
        out[z] = np.where(labels > 0, labels + offset, 0)
        offset += int(labels.max())
        yield z + 1, len(stack)
    return out if ndim == 3 else out[0]


def segment(boundary: Any, *, on_slice: Callable[[int, int], None] | None = None,
            **options: Any) -> np.ndarray:
    """:func:`iter_segment` run to the end; ``on_slice(done, total)`` after each slice."""
    steps = iter_segment(boundary, **options)
    while True:
        try:
            done, total = next(steps)
        except StopIteration as finished:
            return finished.value
        if on_slice is not None:
            on_slice(done, total)


def _compact(labels: np.ndarray) -> np.ndarray:
    """Renumber the nonzero labels to 1..N (sorted), keeping 0 as 0."""
    values, inverse = np.unique(labels, return_inverse=True)
    if values[0] != 0:
        inverse = inverse + 1
    return inverse.reshape(labels.shape)
