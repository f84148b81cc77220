"""Intensity preprocessing and input validation.

Networks see each 2-D slice mapped to [-1, 1] (the paper's tool did min-max;
percentile mapping is the robust alternative). Statistics are computed per
slice *once* and then applied to every tile, so tiled and whole-image
prediction see identical numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import PreprocessConfig

_ROWS_PER_READ = 1024
_MAX_PERCENTILE_SAMPLES = 4_000_000


class ImageError(ValueError):
    """An image the tool cannot use; the message says what is accepted."""


ACCEPTED = (
    "accepted: a single-channel 2-D image (Y, X) or a 3-D stack (Z, Y, X) of "
    "integer or float values"
)


def check_image(image: object) -> tuple[int, ...]:
    """Validate shape/dtype of an array-like image; return its shape.

    Rejects RGB/RGBA, 4-D and higher, empty, non-numeric images. NaN and
    constant slices are found later by :func:`slice_stats`.
    """
    shape = tuple(int(s) for s in getattr(image, "shape", ()))
    dtype = np.dtype(getattr(image, "dtype", np.float64))
    if not shape:
        raise ImageError(f"not an image (no shape); {ACCEPTED}")
    if dtype.kind not in "uif" and dtype.kind != "b":
        raise ImageError(f"image has non-numeric dtype {dtype}; {ACCEPTED}")
    if any(s == 0 for s in shape):
        raise ImageError(f"image is empty (shape {shape}); {ACCEPTED}")
    if len(shape) == 3 and shape[-1] in (3, 4) and min(shape[:2]) > 4:
        raise ImageError(
            f"image of shape {shape} looks like RGB/RGBA colour; convert it to "
            f"grey first; {ACCEPTED}"
        )
    if len(shape) not in (2, 3):
        raise ImageError(f"image has {len(shape)} dimensions (shape {shape}); {ACCEPTED}")
    return shape


@dataclass(frozen=True)
class SliceNorm:
    """Affine map ``(x - lo) * scale - 1`` of one slice to [-1, 1]."""

    lo: float
    hi: float

    def apply(self, data: np.ndarray) -> np.ndarray:
        scale = 2.0 / (self.hi - self.lo)
        return ((np.asarray(data, np.float32) - self.lo) * scale - 1.0).astype(np.float32)


def _slice(image: object, z: int | None) -> object:
    return image if z is None else image[z]  # type: ignore[index]


def slice_stats(image: object, z: int | None, config: PreprocessConfig) -> SliceNorm:
    """Normalisation of slice ``z`` (None for a 2-D image), read in row strips."""
    plane = _slice(image, z)
    height, width = plane.shape[-2:]  # type: ignore[attr-defined]
    where = "image" if z is None else f"slice {z}"
    if config.normalize == "minmax":
        lo, hi = np.inf, -np.inf
        for r in range(0, height, _ROWS_PER_READ):
            strip = np.asarray(plane[r : r + _ROWS_PER_READ], np.float64)  # type: ignore[index]
            if np.isnan(strip).any() or np.isinf(strip).any():
                raise ImageError(f"{where} contains NaN or infinite values")
            lo, hi = min(lo, float(strip.min())), max(hi, float(strip.max()))
    else:
        step = max(1, int(np.sqrt(height * width / _MAX_PERCENTILE_SAMPLES)))
        sample = np.asarray(plane[::step, ::step], np.float64)  # type: ignore[index]
        if np.isnan(sample).any() or np.isinf(sample).any():
            raise ImageError(f"{where} contains NaN or infinite values")
        lo, hi = (float(v) for v in np.percentile(sample, config.percentiles))
    if not hi > lo:
        raise ImageError(f"{where} is constant (all values {lo}); nothing to segment")
    return SliceNorm(lo, hi)


def clahe_slice(plane: np.ndarray, norm: SliceNorm, clip: float) -> np.ndarray:
    """CLAHE (scikit-image) on a whole slice; returns it mapped to [-1, 1]."""
    from skimage.exposure import equalize_adapthist

    unit = np.clip((np.asarray(plane, np.float64) - norm.lo) / (norm.hi - norm.lo), 0, 1)
    return (equalize_adapthist(unit, clip_limit=clip) * 2.0 - 1.0).astype(np.float32)


def preprocess_image(image: np.ndarray, config: PreprocessConfig | None = None) -> np.ndarray:
    """Whole-array preprocessing (for training data and small images)."""
    config = config or PreprocessConfig()
    shape = check_image(image)
    image = np.asarray(image)
    slices = [None] if len(shape) == 2 else list(range(shape[0]))
    out = np.empty(shape, np.float32)
    for z in slices:
        norm = slice_stats(image, z, config)
        plane = _slice(image, z)
        value = clahe_slice(plane, norm, config.clahe_clip) if config.clahe else norm.apply(plane)
        if z is None:
            out[...] = value
        else:
            out[z] = value
    return out
