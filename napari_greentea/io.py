"""Reading and writing images: TIFF (multi-page), PNG/JPEG, zarr, HDF5, N5, npy.

Reads return array-likes: numpy for TIFF/PNG/npy (npy memory-mapped), lazy
arrays for zarr, HDF5 and N5 so large volumes are read block by block.
A file that a library reads only partly (a truncated TIFF stack, a damaged
chunk) is an :class:`ImageError` naming the file (and the chunk), never a
silently smaller image or a bare codec message.
Writes are atomic: a file only appears under its final name when complete.
An OME-Zarr (NGFF) group opens at its full-resolution level;
:func:`channel_axis_hint` finds the channel axis its metadata names.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from .preprocess import ImageError

READ_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".npy", ".zarr", ".h5", ".hdf5",
                 ".n5")


class ChunkedImage:
    """A lazy zarr array whose read errors name the store and the damaged chunk(s)."""

    def __init__(self, array: Any, location: str) -> None:
        self.array, self.location = array, location
        self.shape, self.dtype, self.chunks = array.shape, array.dtype, array.chunks
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self[...]
        return data if dtype is None else data.astype(dtype, copy=False)

    def __getitem__(self, selection: Any) -> Any:
        try:
            return self.array[selection]
        except Exception as err:  # codecs raise any type: name the chunk
            raise ImageError(
                f"{self.location}: cannot read chunk(s) {self._damaged(selection)} "
                f"({type(err).__name__}: {err}); the store is damaged"
            ) from err

    def _damaged(self, selection: Any) -> str:
        """Which chunks of ``selection`` fail to read (each tried alone)."""
        import itertools

        sel = selection if isinstance(selection, tuple) else (selection,)
        ranges = []
        for axis, size in enumerate(self.shape):
            item = sel[axis] if axis < len(sel) and sel[axis] is not Ellipsis else slice(None)
            lo, hi = ((item, item + 1) if isinstance(item, int | np.integer)
                      else item.indices(size)[:2] if isinstance(item, slice) else (0, size))
            lo %= max(size, 1)
            step = self.chunks[axis]
            ranges.append(range(lo // step, max(lo // step + 1, -(-hi // step))))
        bad = []
        for index in itertools.product(*ranges):
            box = tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, self.chunks))
            try:
                self.array[box]
            except Exception:  # noqa: BLE001 - a damaged chunk is what we look for
                bad.append(index)
            if len(bad) == 5:
                break
        return ", ".join(map(str, bad)) or "(could not isolate the chunk)"


def ome_multiscale(attrs: Any) -> dict[str, Any] | None:
    """The first NGFF multiscale of a group's attributes (0.5 under ``ome``, 0.4 at the top)."""
    meta = attrs.get("ome", attrs) if hasattr(attrs, "get") else {}
    scales = meta.get("multiscales") if hasattr(meta, "get") else None
    if isinstance(scales, list) and scales and isinstance(scales[0], dict):
        return scales[0]
    return None


def ome_level(multiscale: dict[str, Any] | None, key: str | None) -> str | None:
    """The dataset path of the level ``key`` names in an NGFF multiscale.

    ``None`` is level 0 (full resolution); a dataset path is itself; a bare
    number that is no dataset path counts levels from 0, because writers name
    levels differently (``0``, ``s0``, our ``prob_1``) and users know the
    number. Returns ``key`` unchanged when it names no level (another array),
    and None for no multiscale and no key.
    """
    datasets = (multiscale or {}).get("datasets") or []
    paths = [str(d.get("path")) for d in datasets if isinstance(d, dict)]
    if key is None:
        return paths[0] if paths else None
    key = key.strip("/")
    if key not in paths and key.isdigit() and int(key) < len(paths):
        return paths[int(key)]
    return key


def _open_zarr(location: str, key: str | None) -> Any:
    import zarr

    try:
        node = zarr.open(location, mode="r")
        if isinstance(node, zarr.Array):
            return ChunkedImage(node, location)
        names = list(node.array_keys())
        multiscale = ome_multiscale(node.attrs)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ImageError(f"cannot open the zarr store {location}: {err}") from err
    key = ome_level(multiscale, key)
    name = key or ("prob" if "prob" in names else (names[0] if len(names) == 1 else None))
    if name is None:
        raise ValueError(f"zarr group {location} holds arrays {names}; choose one with key=")
    try:
        return ChunkedImage(node[name], f"{location}/{name}")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ImageError(f"cannot open array {name!r} of the zarr store {location}: {err}") from err


class _TiffProblems(logging.Handler):
    """Collects the errors tifffile only logs (it then returns what it could read)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    problems = _TiffProblems()
    logger = logging.getLogger("tifffile")
    logger.addHandler(problems)
    try:
        with tifffile.TiffFile(path) as tif:
            expected = (tif.imagej_metadata or {}).get("images")
            data = tif.asarray()
            pages = len(tif.pages)
    except Exception as err:  # tifffile raises many types
        raise ImageError(f"cannot read the TIFF {path}: truncated or damaged ({err})") from err
    finally:
        logger.removeHandler(problems)
    if problems.messages:
        raise ImageError(
            f"the TIFF {path} is truncated or damaged ({problems.messages[0]}); "
            f"only {pages} page(s) could be read"
        )
    if isinstance(expected, int) and expected > 1 and int(np.prod(data.shape[:-2])) != expected:
        raise ImageError(
            f"the TIFF {path} announces {expected} images but holds {data.shape}: "
            "truncated or damaged"
        )
    return data


def _read_other(path: Path, suffix: str) -> Any:
    try:
        if suffix == ".npy":
            return np.load(path, mmap_mode="r")
        from skimage.io import imread

        return imread(path)
    except Exception as err:  # codecs raise many types
        raise ImageError(f"cannot read {path}: truncated or damaged ({err})") from err


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
        return _read_tiff(p)
    if suffix in (".png", ".jpg", ".jpeg", ".npy"):
        return _read_other(p, suffix)
    zarr_markers = ("zarr.json", ".zarray", ".zgroup")
    if suffix == ".zarr" or (p.is_dir() and any((p / m).exists() for m in zarr_markers)):
        return _open_zarr(str(p), key)
    raise ValueError(f"unsupported image format {suffix!r} ({p}); accepted: {READ_SUFFIXES}")


def _ome_channel_axis(location: str) -> int | None:
    import zarr

    try:
        multiscale = ome_multiscale(zarr.open_group(location, mode="r").attrs)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    axes = (multiscale or {}).get("axes") or []
    for i, axis in enumerate(axes):
        named = axis if isinstance(axis, str) else axis.get("name")
        if named == "c" or (isinstance(axis, dict) and axis.get("type") == "channel"):
            return i
    return None


def scale_hint(path: str | os.PathLike[str], *, key: str | None = None,
               ) -> tuple[list[float], list[str] | None] | None:
    """``(scale, units)`` of the spatial axes of an OME-Zarr level, or None.

    The level is ``key`` (a dataset path of the multiscale) or level 0; the
    scale is that dataset's ``scale`` transformation on the ``space`` axes,
    so a prediction of the level lines up with the image in OME-Zarr viewers.
    """
    import zarr

    from .containers import split_dataset_path

    text = os.fspath(path)
    location, inline_key = split_dataset_path(text) if "://" not in text else (text, None)
    key = (key or inline_key or "").strip("/") or None
    try:
        multiscale = ome_multiscale(zarr.open_group(location, mode="r").attrs)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not multiscale or not multiscale.get("datasets") or not multiscale.get("axes"):
        return None
    level = ome_level(multiscale, key)
    dataset = next((d for d in multiscale["datasets"] if str(d.get("path")) == level), None)
    if dataset is None:
        return None
    scale = next((t.get("scale") for t in dataset.get("coordinateTransformations", [])
                  if t.get("type") == "scale"), None)
    axes = multiscale["axes"]
    if scale is None or len(scale) != len(axes):
        return None
    space = [i for i, a in enumerate(axes) if isinstance(a, dict) and a.get("type") == "space"]
    units = [str(axes[i].get("unit", "")) for i in space]
    return [float(scale[i]) for i in space], (units if all(units) else None)


def channel_axis_hint(path: str | os.PathLike[str], *, key: str | None = None) -> int | None:
    """The channel axis a file's metadata names, or None.

    The ``c`` (type ``channel``) axis of an OME-Zarr multiscale. TIFF axes
    are not trusted: tifffile writes every ImageJ stack without explicit
    axes as channels (``CYX``), so grey stacks would be read as channels;
    give ``--channel-axis`` for a TIFF hyperstack. RGB(A) pixels need no
    hint: their shape says it (``channels.looks_like_colour``).
    """
    from .containers import split_dataset_path

    text = os.fspath(path)
    if "://" in text:
        return None
    location, inline_key = split_dataset_path(text)
    key = key or inline_key
    p = Path(location)
    if p.is_dir() and (key is None or "/" not in key.strip("/")):
        return _ome_channel_axis(str(p))
    return None


def unit_to_uint8(array: Any) -> np.ndarray:
    """Values in [0, 1] (probabilities) as uint8 ``round(255 p)``, clipped."""
    return np.rint(np.clip(array, 0, 1) * 255).astype(np.uint8)


def _atomic_target(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def check_output_file(path: str | os.PathLike[str]) -> Path:
    """Fail before any work if ``path``'s folder cannot take a new file."""
    import tempfile

    final = Path(path)
    folder = final.parent
    if final.is_dir():
        raise ValueError(f"output {final} is a folder; give a file name")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".greentea-probe"):
            pass
    except OSError as err:
        raise OSError(f"cannot write {final}: folder {folder}: {err.strerror or err}") from err
    return final


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
    try:
        tifffile.imwrite(tmp, array, imagej=array.ndim <= 5 and array.dtype != np.float64)
        os.replace(tmp, final)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(f"cannot write {final}: {err.strerror or err}") from err
    return final


def write_labels(path: str | os.PathLike[str], labels: Any, *, overwrite: bool = False) -> Path:
    """Write instance labels (uint32) as a TIFF or, for ``*.zarr``, a zarr array."""
    final = Path(path)
    if final.exists() and not overwrite:
        raise ValueError(f"{final} exists; pass --overwrite to replace it")
    array = np.asarray(labels, np.uint32)
    if final.suffix.lower() == ".zarr":
        import zarr

        out = zarr.create_array(str(final), shape=array.shape, dtype=array.dtype,
                                chunks=(*(1,) * (array.ndim - 2), *array.shape[-2:]),
                                overwrite=True)
        out[...] = array
        return final
    if final.suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"labels are written as .tif or .zarr, not {final.suffix!r}")
    import tifffile

    tmp = _atomic_target(final)
    tifffile.imwrite(tmp, array)  # not ImageJ-flavoured: ImageJ has no uint32
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
