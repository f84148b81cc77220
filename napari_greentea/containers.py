"""HDF5 files and N5 containers as lazy, read-only arrays.

A dataset is named by a key inside the container, written after the path
(``stack.h5:/volumes/raw``, ``stack.n5:raw/s0``) or passed separately.
Indexing reads only the requested region, so tiled prediction reads the
container block by block. HDF5 goes through h5py, N5 through tensorstore
(zarr 3 has no N5 support). N5 lists dimensions fastest-first (x, y, z);
like z5py and zarr 2's N5Store we present them reversed, as (z, y, x).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")
N5_SUFFIXES = (".n5",)
_KEYED = re.compile(r"^(?P<path>.+?\.(?:h5|hdf5|hdf|n5|zarr)):(?P<key>.*)$", re.IGNORECASE)


def split_dataset_path(path: str | os.PathLike[str]) -> tuple[str, str | None]:
    """``'a.h5:/volumes/raw'`` -> ``('a.h5', 'volumes/raw')``; other paths unchanged."""
    text = os.fspath(path)
    match = _KEYED.match(text)
    if match is None:
        return text, None
    return match["path"], match["key"].strip("/") or None


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise RuntimeError(
            f"reading this container needs {module}: pip install 'napari-greentea[formats]'"
        ) from err


def hdf5_datasets(path: str | os.PathLike[str]) -> list[str]:
    h5py = _need("h5py")
    names: list[str] = []
    with h5py.File(path, "r") as fh:
        fh.visititems(lambda name, obj: names.append(name)
                      if isinstance(obj, h5py.Dataset) else None)
    return names


def n5_datasets(path: str | os.PathLike[str]) -> list[str]:
    root = Path(path)
    names = []
    for attrs in sorted(root.rglob("attributes.json")):
        try:
            meta = json.loads(attrs.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and "dimensions" in meta:
            names.append(attrs.parent.relative_to(root).as_posix())
    return names


class DatasetArray:
    """A dataset of an HDF5 file or N5 container; ``array[index]`` reads that region.

    The container opens on first access and again after unpickling, so the
    object travels to dask workers as a path and a key.
    """

    def __init__(self, path: str | os.PathLike[str], key: str, kind: str) -> None:
        self.path, self.key, self.kind = os.fspath(path), key, kind
        self._handle: Any = None
        node = self._node()
        self.shape = tuple(int(s) for s in node.shape)
        self.dtype = np.dtype(node.dtype if kind == "hdf5" else node.dtype.numpy_dtype)

    def _node(self) -> Any:
        if self._handle is None:
            self._handle = self._open()
        return self._handle

    def _open(self) -> Any:
        if self.kind == "hdf5":
            h5py = _need("h5py")
            node = h5py.File(self.path, "r").get(self.key)
            if not isinstance(node, h5py.Dataset):
                raise ValueError(f"{self.path}:{self.key} is not a dataset")
            return node
        tensorstore = _need("tensorstore")
        spec = {"driver": "n5", "kvstore": {"driver": "file", "path": self.path},
                "path": self.key}
        try:
            return tensorstore.open(spec, open=True, read=True).result().T
        except ValueError as err:
            raise ValueError(f"cannot open N5 dataset {self.path}:{self.key}: {err}") from err

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray:
        region = self._node()[index]
        if self.kind == "hdf5":
            return np.asarray(region)
        return np.asarray(region.read().result())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self[...]
        return data if dtype is None else data.astype(dtype)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_handle": None}

    def __repr__(self) -> str:
        return f"DatasetArray({self.path}:{self.key}, shape={self.shape}, dtype={self.dtype})"


def open_dataset(path: str | os.PathLike[str], key: str | None) -> DatasetArray:
    """The dataset ``key`` of an HDF5 file or N5 container (the only one if ``key`` is None)."""
    p = Path(path)
    kind = "hdf5" if p.suffix.lower() in HDF5_SUFFIXES else "n5"
    names = hdf5_datasets(p) if kind == "hdf5" else n5_datasets(p)
    if key is None:
        if len(names) != 1:
            raise ValueError(
                f"{p} holds datasets {names or 'none'}; choose one as {p.name}:/<key> or --key"
            )
        key = names[0]
    key = key.strip("/")
    if key not in names:
        raise ValueError(f"{p} has no dataset {key!r}; it holds {names or 'none'}")
    return DatasetArray(p, key, kind)
