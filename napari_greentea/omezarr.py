"""OME-Zarr (NGFF) images and labels: written through the ``ome-zarr`` library, read back.

Images get resized overview levels, labels nearest-neighbour ones (so label
values stay values), halving Y and X until the smaller side would drop below
:data:`MIN_LEVEL_EDGE`. Axes are ``[c,] [z,] y, x`` with the layer's scale
and, when known, units. A labels layer saved on its own becomes a multiscale
integer image marked ``image-label`` (the NGFF label-image metadata), so
NGFF readers open it as labels. The store is written under a
temporary name and renamed, so a crash never leaves a half-written store.

Reading (:func:`read_ome_zarr`) takes any NGFF 0.4/0.5 multiscale, so what
File > Save wrote, File > Open gives back as the same kind of layer with its
levels, scale and units: napari's own zarr reader cannot open these stores.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MIN_LEVEL_EDGE = 64
AXES = {2: ["y", "x"], 3: ["z", "y", "x"], 4: ["c", "z", "y", "x"]}


def scale_factors(shape: Sequence[int]) -> list[int]:
    """Factors 2, 4, 8... while the smaller of Y and X stays >= :data:`MIN_LEVEL_EDGE`."""
    edge, factors, f = min(shape[-2:]), [], 2
    while edge // f >= MIN_LEVEL_EDGE:
        factors.append(f)
        f *= 2
    return factors


def _axes(ndim: int) -> list[str]:
    if ndim not in AXES:
        raise ValueError(f"OME-Zarr writing takes 2-4 dimensions (c, z, y, x), got {ndim}")
    return AXES[ndim]


def _units(axes: list[str], units: Any) -> dict[str, str] | None:
    if not units:
        return None
    names = [str(u) for u in units][-len(axes):]
    found = {a: u for a, u in zip(axes[-len(names):], names) if a != "c" and u != "pixel"}
    return found or None


def write_ome_zarr(
    path: str | os.PathLike[str],
    data: Any,
    *,
    labels: bool = False,
    name: str = "image",
    scale: Sequence[float] | None = None,
    units: Sequence[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``data`` as an OME-Zarr image, or with ``labels`` as an NGFF label image."""
    import zarr
    from ome_zarr.scale import Methods
    from ome_zarr.writer import write_image

    final = Path(path)
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final} exists; choose another path or overwrite it")
    array = np.asarray(data)
    if labels and array.dtype.kind not in "iub":
        raise ValueError(f"labels must be integers, got {array.dtype}")
    axes = _axes(array.ndim)
    spatial = scale if scale is not None else [1.0] * array.ndim
    scales = {a: float(s) for a, s in zip(axes, list(spatial)[-len(axes):]) if a != "c"}
    factors = scale_factors(array.shape)
    kwargs = dict(scale_factors=factors, axes=axes, scale=scales, axes_units=_units(axes, units))
    tmp = final.with_name(f".{final.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    root = zarr.open_group(str(tmp), mode="w")
    write_image(array, root, method=Methods.NEAREST if labels else Methods.RESIZE, name=name,
                **kwargs)
    if labels:
        ome = dict(root.attrs["ome"])
        ome["image-label"] = {"version": ome.get("version", "0.5")}
        root.attrs["ome"] = ome
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


@dataclass(frozen=True)
class OmeImage:
    """An NGFF multiscale opened lazily: its levels (full resolution first) and metadata."""

    levels: list[Any]
    axes: list[str]
    types: list[str | None]
    scale: list[float]
    units: list[str | None]
    name: str
    labels: bool

    @property
    def channel_axis(self) -> int | None:
        found = [i for i, (a, t) in enumerate(zip(self.axes, self.types))
                 if t == "channel" or a == "c"]
        return found[0] if found else None


def _scale_of(transforms: Any, ndim: int) -> list[float]:
    for t in transforms or []:
        if isinstance(t, dict) and t.get("type") == "scale" and len(t.get("scale", [])) == ndim:
            return [float(v) for v in t["scale"]]
    return [1.0] * ndim


def read_ome_zarr(path: str | os.PathLike[str]) -> OmeImage | None:
    """The first multiscale of an OME-Zarr group, or None for anything else.

    The scale is level 0's (times a multiscale-wide scale, if any); a group
    marked ``image-label`` is a label image.
    """
    import zarr

    from .io import ome_multiscale

    try:
        group = zarr.open_group(os.fspath(path), mode="r")
        attrs = dict(group.attrs)
        multiscale = ome_multiscale(attrs)
        datasets = (multiscale or {}).get("datasets") or []
        levels = [group[str(d["path"])] for d in datasets]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    raw_axes = (multiscale or {}).get("axes") or []
    if not levels or len(raw_axes) != levels[0].ndim:
        return None
    axes = [a if isinstance(a, str) else str(a.get("name")) for a in raw_axes]
    types = [None if isinstance(a, str) else a.get("type") for a in raw_axes]
    units = [None if isinstance(a, str) else a.get("unit") for a in raw_axes]
    ndim = len(axes)
    scale = _scale_of(datasets[0].get("coordinateTransformations"), ndim)
    overall = _scale_of(multiscale.get("coordinateTransformations"), ndim)
    meta = attrs.get("ome", attrs)
    return OmeImage(
        levels=levels, axes=axes, types=types, units=units,
        scale=[a * b for a, b in zip(scale, overall)],
        name=str(multiscale.get("name") or Path(path).name.split(".")[0]),
        labels="image-label" in meta,
    )
