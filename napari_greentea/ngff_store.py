"""A prediction store is also an OME-Zarr (NGFF 0.5) image, with labels under ``labels/``.

The class probabilities ``prob`` (axes ``c, [z,] y, x``) are level 0 of an
NGFF multiscale image; OME-Zarr readers (``ome-zarr``, ``ngff-zarr``,
napari's OME-Zarr plugin) open the store as such, and ignore the ``done``
bookkeeping array that resume needs. The overview levels (``prob_1`` =
2x2 mean, ``prob_2`` = 4x4 ...) are written once every block is done and
listed in the metadata only then, so a reader never sees a level that
disagrees with level 0; an incomplete store is a valid one-level image.
Segmentations join the store as NGFF label images (``labels/<name>``,
nearest-neighbour levels) through the ``ome-zarr`` library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

LEVEL_PREFIX = "prob_"


def _spatial_axes(ndim: int) -> list[str]:
    return ["z", "y", "x"][-ndim:]


def axes(spatial_ndim: int, units: Sequence[str] | None = None) -> list[dict[str, str]]:
    """NGFF axes: the class axis, then ``[z,] y, x`` in ``units`` where given."""
    given: list[Any] = [None] * spatial_ndim
    if units:
        tail = list(units)[-spatial_ndim:]
        given[spatial_ndim - len(tail):] = tail
    out: list[dict[str, str]] = [{"name": "c", "type": "channel"}]
    for name, unit in zip(_spatial_axes(spatial_ndim), given, strict=True):
        ax = {"name": name, "type": "space"}
        if unit and str(unit) != "pixel":
            ax["unit"] = str(unit)
        out.append(ax)
    return out


def _datasets(paths: Sequence[str], factors: Sequence[int], scale: Sequence[float],
              ndim: int) -> list[dict[str, Any]]:
    spatial = [float(s) for s in scale][-(ndim - 1):]
    out = []
    for path, f in zip(paths, factors, strict=True):
        level = [1.0] + [s * (f if i >= len(spatial) - 2 else 1)
                         for i, s in enumerate(spatial)]
        out.append({"path": path,
                    "coordinateTransformations": [{"type": "scale", "scale": level}]})
    return out


def write_metadata(group: Any, prob_path: str, *, levels: Sequence[tuple[str, int]] = (),
                   scale: Sequence[float] | None = None,
                   units: Sequence[str] | None = None, name: str = "probabilities") -> None:
    """(Re)write the NGFF multiscales metadata of a store's ``prob`` and its levels.

    Axes and transformations are checked by ``ome-zarr``'s validators; the
    ``ome`` attribute is written here rather than by ``ome_zarr.writer``,
    whose import pulls in dask.array (a second per CLI run, before the
    first block).
    """
    from ome_zarr.axes import Axes
    from ome_zarr.format import FormatV05

    fmt = FormatV05()
    ndim = len(group[prob_path].shape)
    scale = list(scale) if scale is not None else [1.0] * (ndim - 1)
    if len(scale) < ndim - 1:
        scale = [1.0] * (ndim - 1 - len(scale)) + list(scale)
    paths = [prob_path] + [p for p, _ in levels]
    factors = [1] + [f for _, f in levels]
    datasets = _datasets(paths, factors, scale, ndim)
    fmt.validate_coordinate_transformations(
        ndim, len(datasets), [d["coordinateTransformations"] for d in datasets])
    checked = Axes(axes(ndim - 1, units), fmt=fmt)
    checked.validate()
    ome = {"version": fmt.version,
           "multiscales": [{"name": name, "axes": checked.to_list(fmt), "datasets": datasets}]}
    group.attrs["ome"] = ome
    meta = dict(group.attrs.get("greentea", {}))
    meta["scale"] = [float(s) for s in scale][-(ndim - 1):]
    if units:
        meta["units"] = [str(u) for u in units][-(ndim - 1):]
    group.attrs["greentea"] = meta


def level_factors(shape: Sequence[int], min_edge: int = 64) -> list[int]:
    """Overview factors 2, 4, 8... while the smaller of Y and X stays >= ``min_edge``."""
    edge, factors, f = min(shape[-2:]), [], 2
    while edge // f >= min_edge:
        factors.append(f)
        f *= 2
    return factors


def write_levels(group: Any, prob_path: str, chunk: int) -> list[tuple[str, int]]:
    """Persist 2x2-mean overview levels of a complete ``prob``; return (path, factor) pairs.

    Each level is computed from the previous one, slice by slice (bounded
    memory); uint8 probabilities stay uint8 (rounded means).
    """
    import dask.array as da

    src = group[prob_path]
    written: list[tuple[str, int]] = []
    previous = da.from_zarr(src)
    for f in level_factors(src.shape):
        axes_yx = {previous.ndim - 2: 2, previous.ndim - 1: 2}
        mean = da.coarsen(np.mean, previous.astype(np.float32), axes_yx, trim_excess=True)
        if src.dtype == np.uint8:
            mean = da.round(mean).astype(np.uint8)
        path = f"{LEVEL_PREFIX}{len(written) + 1}"
        if path in group:
            del group[path]
        chunks = (1,) * (mean.ndim - 2) + (min(chunk, mean.shape[-2]), min(chunk, mean.shape[-1]))
        target = group.create_array(path, shape=mean.shape, chunks=chunks, dtype=mean.dtype,
                                    fill_value=0)
        da.store(mean.rechunk(chunks), target, lock=False)
        written.append((path, f))
        previous = da.from_zarr(target)
    return written


def drop_levels(group: Any) -> None:
    """Remove overview levels (a store being resumed or rewritten is not complete)."""
    for name in list(group.array_keys()):
        if name.startswith(LEVEL_PREFIX):
            del group[name]


def labels_target(path: str) -> tuple[str, str] | None:
    """``(store, name)`` when ``path`` is ``<prediction store>/labels/<name>``, else None."""
    from pathlib import Path

    from ._npe2_io import is_prediction_store

    p = Path(path)
    if p.parent.name == "labels" and p.name and is_prediction_store(p.parent.parent):
        return str(p.parent.parent), p.name
    return None


def write_labels_into(store: str, labels: np.ndarray, name: str = "segmentation", *,
                      overwrite: bool = False) -> str:
    """Write ``labels`` (the store's spatial shape) as the NGFF label image ``labels/name``."""
    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_labels

    group = zarr.open_group(store, mode="r+")
    if "labels" in group and name in group["labels"] and not overwrite:
        raise FileExistsError(f"{store}/labels/{name} exists; choose another name or overwrite")
    meta = dict(group.attrs.get("greentea", {}))
    shape = tuple(meta.get("shape", labels.shape))
    if tuple(labels.shape) != shape:
        raise ValueError(f"labels of shape {labels.shape} do not fit the store's image {shape}")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    names = _spatial_axes(labels.ndim)
    scale = meta.get("scale") or [1.0] * labels.ndim
    units = meta.get("units")
    ax = axes(labels.ndim, units)[1:]
    write_labels(labels, group, name, scaler=None, scale_factors=level_factors(labels.shape),
                 fmt=FormatV05(), axes=ax, scale=dict(zip(names, map(float, scale))),
                 label_metadata={"source": {"image": "../../"}})
    return f"{store}/labels/{name}"
