"""Reading and writing images: TIFF (multi-page), PNG/JPEG, zarr, HDF5, N5, npy.

Reads return array-likes: numpy for TIFF/PNG/npy (npy memory-mapped), lazy
arrays for zarr, HDF5 and N5 so large volumes are read block by block.
Writes are atomic: a file only appears under its final name when complete.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

READ_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".npy", ".zarr", ".h5", ".hdf5",
                 ".n5")


def _open_zarr(location: str, key: str | None) -> Any:
    import zarr

    node = zarr.open(location, mode="r")
    if isinstance(node, zarr.Array):
        return node
    names = list(node.array_keys())
    name = key or ("prob" if "prob" in names else (names[0] if len(names) == 1 else None))
    if name is None:
        raise ValueError(f"zarr group {location} holds arrays {names}; choose one with key=")
    return node[name]


def read_image(path: str | os.PathLike[str], *, key: str | None = None) -> Any:
    """Read an image or stack; ``key`` selects a dataset in a zarr, HDF5 or N5 container.

    The key may also follow the path: ``stack.h5:/volumes/raw``. ``path`` may
    be an fsspec URL of a zarr store (``s3://``, ``gs://``, ``https://``...;
    the matching fsspec backend must be installed), read lazily.
    """
    from .containers import HDF5_SUFFIXES, N5_SUFFIXES, open_dataset, split_dataset_path

    if "://" in os.fspath(path):
        return _open_zarr(os.fspath(path), key)
    location, inline_key = split_dataset_path(path)
    if inline_key and key and inline_key.strip("/") != key.strip("/"):
        raise ValueError(f"two dataset keys given: {inline_key!r} in the path and {key!r}")
    key = key or inline_key
    p = Path(location)
    suffix = p.suffix.lower()
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {p}")
    if suffix in HDF5_SUFFIXES + N5_SUFFIXES:
        return open_dataset(p, key)
    if suffix in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(p)
    if suffix in (".png", ".jpg", ".jpeg"):
        from skimage.io import imread

        return imread(p)
    if suffix == ".npy":
        return np.load(p, mmap_mode="r")
    zarr_markers = ("zarr.json", ".zarray", ".zgroup")
    if suffix == ".zarr" or (p.is_dir() and any((p / m).exists() for m in zarr_markers)):
        return _open_zarr(str(p), key)
    raise ValueError(f"unsupported image format {suffix!r} ({p}); accepted: {READ_SUFFIXES}")


def unit_to_uint8(array: Any) -> np.ndarray:
    """Values in [0, 1] (probabilities) as uint8 ``round(255 p)``, clipped."""
    return np.rint(np.clip(array, 0, 1) * 255).astype(np.uint8)


def _atomic_target(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def write_tiff(path: str | os.PathLike[str], data: Any, dtype: str = "float32") -> Path:
    """Write ``data`` as a (multi-page) TIFF: float32, uint8 (p * 255) or ``native`` dtype."""
    import tifffile

    final = Path(path)
    tmp = _atomic_target(final)
    array = np.asarray(data)
    if dtype == "uint8" and array.dtype != np.uint8:
        array = unit_to_uint8(array)
    elif dtype == "float32":
        array = array.astype(np.float32, copy=False)
    elif dtype != "native":
        raise ValueError(f"dtype must be 'float32', 'uint8' or 'native', got {dtype!r}")
    tifffile.imwrite(tmp, array, imagej=array.ndim <= 5 and array.dtype != np.float64)
    os.replace(tmp, final)
    return final


def write_png_preview(path: str | os.PathLike[str], image: Any, prob: Any) -> Path:
    """Side-by-side PNG: the (first) slice and its class-``-1`` probability."""
    from skimage.io import imsave

    img = np.asarray(image, np.float32)
    pr = np.asarray(prob, np.float32)
    while img.ndim > 2:
        img = img[0]
    while pr.ndim > 2:
        pr = pr[0]
    span = float(img.max() - img.min()) or 1.0
    left = (img - img.min()) / span
    canvas = np.concatenate([left, np.ones((left.shape[0], 8), np.float32), pr], axis=1)
    final = Path(path)
    tmp = _atomic_target(final).with_suffix(".png")
    imsave(tmp, unit_to_uint8(canvas), check_contrast=False)
    os.replace(tmp, final)
    return final
