"""Intensity preprocessing and input validation.

Networks see each 2-D slice of each channel mapped to [-1, 1] (the paper's tool did min-max;
percentile mapping is the robust alternative). Statistics are computed per
slice *once*, from a strided grid fixed by the slice's shape (or from every
pixel with ``stats="full"``), and then applied to every tile, so training,
tiled and whole-image prediction see identical numbers. Pixels outside the
grid may map slightly beyond [-1, 1]; non-finite ones are caught when their
tile is normalised. Each channel of a multi-channel image
(:class:`~napari_greentea.channels.ChannelImage`) gets its own statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .channels import ChannelImage, channel_planes, looks_like_colour
from .config import PreprocessConfig

_ROWS_PER_READ = 1024


class ImageError(ValueError):
    """An image the tool cannot use; the message says what is accepted."""


class ConstantSlice(ImageError):
    """A slice (of one channel) holding a single ``value`` (on the statistics grid)."""

    def __init__(self, where: str, value: float, values: str | None = None) -> None:
        shown = values or f"all values {value}"
        super().__init__(f"{where} is constant ({shown}); nothing to segment")
        self.where, self.value = where, value


ACCEPTED = (
    "accepted: a 2-D image (Y, X) or a 3-D stack (Z, Y, X) of integer or float "
    "values, per channel when it has a channel axis"
)


def check_image(image: object) -> tuple[int, ...]:
    """Validate shape/dtype of an array-like image; return its spatial shape.

    A :class:`~napari_greentea.channels.ChannelImage` is checked without its
    channel axis. Rejects 4-D and higher, empty, non-numeric images, and
    RGB(A)-shaped arrays not yet given a channel axis (``channels.as_channels``
    does that). NaN and constant slices are found later by :func:`slice_stats`.
    """
    shape = tuple(int(s) for s in getattr(image, "shape", ()))
    dtype = np.dtype(getattr(image, "dtype", np.float64))
    if not shape:
        raise ImageError(f"not an image (no shape); {ACCEPTED}")
    if dtype.kind not in "uif" and dtype.kind != "b":
        raise ImageError(f"image has non-numeric dtype {dtype}; {ACCEPTED}")
    if any(s == 0 for s in shape):
        raise ImageError(f"image is empty (shape {shape}); {ACCEPTED}")
    if not isinstance(image, ChannelImage) and looks_like_colour(shape):
        raise ImageError(
            f"image of shape {shape} looks like RGB/RGBA colour; pass it with its channel "
            f"axis (channels.as_channels, CLI --channel-axis -1); {ACCEPTED}"
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
        """The mapped values; raises ImageError on NaN/inf (the statistics may
        come from a sample that did not contain them)."""
        scale = 2.0 / (self.hi - self.lo)
        mapped = ((np.asarray(data, np.float32) - self.lo) * scale - 1.0).astype(np.float32)
        return _finite(mapped, "image")


def _slice(image: object, z: int | None) -> object:
    return image if z is None else image[z]  # type: ignore[index]


def stat_step(height: int, width: int, config: PreprocessConfig) -> int:
    """Row/column stride of the pixels the statistics of a slice are read from.

    1 (every pixel) for ``stats="full"`` and for slices of at most
    ``config.stat_samples`` pixels; it depends only on the slice's shape.
    """
    if config.stats == "full":
        return 1
    return max(1, int(np.sqrt(height * width / config.stat_samples)))


def _finite(values: np.ndarray, where: str) -> np.ndarray:
    if not np.isfinite(values).all():
        raise ImageError(f"{where} contains NaN or infinite values")
    return values


def _minmax(plane: object, height: int, step: int, where: str) -> tuple[float, float]:
    """Min and max of the strided grid, read in row strips to bound memory."""
    lo, hi = np.inf, -np.inf
    rows = _ROWS_PER_READ * step
    for r in range(0, height, rows):
        strip = _finite(np.asarray(plane[r : r + rows : step, ::step], np.float64), where)  # type: ignore[index]
        lo, hi = min(lo, float(strip.min())), max(hi, float(strip.max()))
    return lo, hi


def slice_stats(image: object, z: int | None, config: PreprocessConfig,
                channel: int | None = None) -> SliceNorm:
    """Normalisation of slice ``z`` (None for a 2-D image) from the pixels
    :func:`stat_step` selects; ``channel`` only names the plane in errors."""
    plane = _slice(image, z)
    height, width = plane.shape[-2:]  # type: ignore[attr-defined]
    where = "image" if z is None else f"slice {z}"
    if channel is not None:
        where = f"channel {channel} of the {where}"
    step = stat_step(height, width, config)
    if config.normalize == "minmax":
        lo, hi = _minmax(plane, height, step, where)
    else:
        sample = _finite(np.asarray(plane[::step, ::step], np.float64), where)  # type: ignore[index]
        lo, hi = (float(v) for v in np.percentile(sample, config.percentiles))
    if not hi > lo:
        raise ConstantSlice(where, lo)
    return SliceNorm(lo, hi)


def channel_stats(image: object, z: int | None, config: PreprocessConfig
                  ) -> tuple[SliceNorm, ...]:
    """One :class:`SliceNorm` per channel of slice ``z``, each from its own pixels.

    A grey image gives :func:`slice_stats`. In a multi-channel image a
    constant channel carries no signal but does not make the slice
    unusable: it maps to -1 (``SliceNorm(v, v + 1)``); only a slice whose
    channels are all constant is an error.
    """
    if not isinstance(image, ChannelImage):
        return (slice_stats(image, z, config),)
    norms = []
    constant = 0
    for plane, c in zip(channel_planes(image), image.channels, strict=True):
        try:
            norms.append(slice_stats(plane, z, config, channel=c))
        except ConstantSlice as err:
            constant += 1
            norms.append(SliceNorm(err.value, err.value + 1.0))
    if constant == len(norms):
        where = "image" if z is None else f"slice {z}"
        values = ", ".join(f"channel {c}: {n.lo}" for c, n in zip(image.channels, norms))
        raise ConstantSlice(f"every channel of the {where}", norms[0].lo, values)
    return tuple(norms)


def clahe_slice(plane: np.ndarray, norm: SliceNorm, clip: float) -> np.ndarray:
    """CLAHE (scikit-image) on a whole slice; returns it mapped to [-1, 1]."""
    from skimage.exposure import equalize_adapthist

    _finite(np.asarray(plane), "image")
    unit = np.clip((np.asarray(plane, np.float64) - norm.lo) / (norm.hi - norm.lo), 0, 1)
    return (equalize_adapthist(unit, clip_limit=clip) * 2.0 - 1.0).astype(np.float32)


def preprocess_channels(image: object, config: PreprocessConfig | None = None) -> np.ndarray:
    """Whole-array preprocessing, channel first: ``(C, [Z,] Y, X)`` float32.

    ``C = 1`` for a grey image. Each channel of each slice is normalised
    with its own :func:`channel_stats`, the statistics tiled prediction uses.
    """
    config = config or PreprocessConfig()
    shape = check_image(image)
    planes = [np.asarray(p) for p in channel_planes(image)]
    slices = [None] if len(shape) == 2 else list(range(shape[0]))
    out = np.empty((len(planes), *shape), np.float32)
    for z in slices:
        norms = channel_stats(image, z, config)
        for c, (data, norm) in enumerate(zip(planes, norms, strict=True)):
            plane = _slice(data, z)
            out[(c,) if z is None else (c, z)] = (
                clahe_slice(plane, norm, config.clahe_clip) if config.clahe  # type: ignore[arg-type]
                else norm.apply(plane))  # type: ignore[arg-type]
    return out


def preprocess_image(image: object, config: PreprocessConfig | None = None) -> np.ndarray:
    """Whole-array preprocessing (for training data and small images).

    The image's own shape for a grey image; ``(C, [Z,] Y, X)`` for a
    :class:`~napari_greentea.channels.ChannelImage`.
    """
    out = preprocess_channels(image, config)
    return out if isinstance(image, ChannelImage) else out[0]
