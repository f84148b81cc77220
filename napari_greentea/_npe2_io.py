"""npe2 readers for prediction stores, projects and OME-Zarr; TIFF and OME-Zarr writers.

Plain functions on layer data (no Qt, no napari import), so File > Open and
File > Save in napari, and scripts through ``npe2.read``/``npe2.write``,
use the same code as the command line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

LayerData = tuple[Any, dict[str, Any], str]


def is_prediction_store(path: str | os.PathLike[str]) -> bool:
    """A zarr group written by :class:`~napari_greentea.predict.PredictionJob`."""
    import zarr

    p = Path(path)
    if not p.is_dir():
        return False
    try:
        group = zarr.open_group(str(p), mode="r")
    except (OSError, ValueError, KeyError, TypeError):
        return False
    from .predict import PROB_ARRAY

    return "greentea" in group.attrs and PROB_ARRAY in group


def _one_path(path: Any) -> Any:
    """The path napari passes (one, or a list of one); None for several."""
    if isinstance(path, (list, tuple)):
        return path[0] if len(path) == 1 else None
    return path


def get_prediction_reader(path: Any) -> Callable[[Any], list[LayerData]] | None:
    path = _one_path(path)
    return read_prediction_store if path is not None and is_prediction_store(path) else None


def read_prediction_store(path: Any) -> list[LayerData]:
    """One image layer per class, lazily backed by the store's ``prob`` array
    (and its OME-Zarr overview levels once the prediction is complete)."""
    import zarr

    from .predict import PROB_ARRAY

    if isinstance(path, (list, tuple)):
        path = path[0]
    group = zarr.open_group(os.fspath(path), mode="r")
    prob, meta = group[PROB_ARRAY], dict(group.attrs.get("greentea", {}))
    multiscales = dict(group.attrs.get("ome", {})).get("multiscales") or [{}]
    paths = [d["path"] for d in multiscales[0].get("datasets", [])]
    data = [group[p] for p in paths] if len(paths) > 1 and paths[0] == PROB_ARRAY else prob
    classes = meta.get("class_names") or [f"class {i}" for i in range(prob.shape[0])]
    stem = Path(path).name.removesuffix(".zarr")
    limit = 255.0 if np.dtype(prob.dtype) == np.uint8 else 1.0
    kwargs = {
        "name": [f"{stem} {c}" for c in classes],
        "channel_axis": 0,
        "contrast_limits": [[0.0, limit]] * prob.shape[0],
        "colormap": "magma",
        "blending": "additive",
        "metadata": {"greentea": meta, "source": os.fspath(path)},
    }
    if meta.get("scale"):
        kwargs["scale"] = meta["scale"]
    if isinstance(data, list):
        kwargs["multiscale"] = True
    return [(data, kwargs, "image")]


def get_project_reader(path: Any) -> Callable[[Any], list[LayerData]] | None:
    """A reader for a project folder (``name.greentea``) or its ``project.json``."""
    from .project import MANIFEST, is_project

    path = _one_path(path)
    if path is None:
        return None
    folder = Path(path)
    folder = folder.parent if folder.name == MANIFEST else folder
    return read_project if is_project(folder) else None


def read_project(path: Any) -> list[LayerData]:
    """The project's image and its linked labels layer (the model loads in the Train widget)."""
    from .project import layer_data, load_project

    if isinstance(path, (list, tuple)):
        path = path[0]
    return layer_data(load_project(path))


def get_ome_zarr_reader(path: Any) -> Callable[[Any], list[LayerData]] | None:
    """A reader for OME-Zarr images and label images that are not prediction stores
    (those File > Save wrote with our OME-Zarr writers, and other NGFF multiscales)."""
    from .omezarr import read_ome_zarr

    path = _one_path(path)
    if path is None or not Path(path).is_dir() or is_prediction_store(path):
        return None
    return read_ome_zarr_layer if read_ome_zarr(path) is not None else None


def read_ome_zarr_layer(path: Any) -> list[LayerData]:
    """One image layer (split along a channel axis) or labels layer, lazily, with the
    store's levels, level-0 scale and units, so saving it again writes the same store."""
    from .omezarr import read_ome_zarr

    path = _one_path(path)
    ome = read_ome_zarr(path)
    if ome is None:
        raise ValueError(f"{path} is not an OME-Zarr image")
    kind = "labels" if ome.labels else "image"
    split = ome.channel_axis if kind == "image" else None
    keep = [i for i in range(len(ome.axes)) if i != split]
    kwargs: dict[str, Any] = {"name": ome.name, "scale": [ome.scale[i] for i in keep],
                              "metadata": {"source": os.fspath(path)}}
    units = [ome.units[i] for i in keep]
    if all(units):
        kwargs["units"] = units
    if split is not None:
        kwargs["channel_axis"] = split
    if len(ome.levels) > 1:
        kwargs["multiscale"] = True
    return [(ome.levels if len(ome.levels) > 1 else ome.levels[0], kwargs, kind)]


def _level0(data: Any) -> np.ndarray:
    return np.asarray(data[0] if isinstance(data, (list, tuple)) else data)


def write_probabilities_tiff(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """An image layer (probabilities or any intensity image) as float32 TIFF."""
    from .io import write_tiff

    return [os.fspath(write_tiff(path, _level0(data), dtype="float32"))]


def write_labels_tiff(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """A labels layer as an integer TIFF with its values unchanged."""
    from .io import write_tiff

    labels = _level0(data)
    if labels.dtype.kind not in "iub":
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    return [os.fspath(write_tiff(path, labels, dtype="native"))]


def _write_ome_zarr(path: str, data: Any, meta: dict[str, Any], labels: bool) -> list[str]:
    from .omezarr import write_ome_zarr

    written = write_ome_zarr(
        path, _level0(data), labels=labels, name=str(meta.get("name") or "image"),
        scale=meta.get("scale"), units=meta.get("units"), overwrite=True,
    )
    return [os.fspath(written)]


def write_image_ome_zarr(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """An image layer as multiscale OME-Zarr (scale and units from the layer)."""
    return _write_ome_zarr(path, data, meta, labels=False)


def write_labels_ome_zarr(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """A labels layer as a multiscale OME-Zarr label image (nearest-neighbour levels)."""
    return _write_ome_zarr(path, data, meta, labels=True)
