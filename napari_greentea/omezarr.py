"""OME-Zarr (NGFF) writing of images and labels through the ``ome-zarr`` library.

Images get resized overview levels, labels nearest-neighbour ones (so label
values stay values), halving Y and X until the smaller side would drop below
:data:`MIN_LEVEL_EDGE`. Axes are ``[c,] [z,] y, x`` with the layer's scale
and, when known, units. A labels layer saved on its own becomes a multiscale
integer image marked ``image-label`` (the NGFF label-image metadata), so
NGFF readers open it as labels. The store is written under a
temporary name and renamed, so a crash never leaves a half-written store.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
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
