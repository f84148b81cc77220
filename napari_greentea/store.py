"""What a prediction store is a prediction *of*, and removing one safely.

A store records a fingerprint of the model (weights, architecture,
preprocessing) and of the input (path, shape, dtype and a hash of sampled
blocks). Resuming compares both and refuses a store of another model or
image, because mixing blocks of two predictions gives a wrong answer with
no error. ``overwrite`` deletes only a folder this project wrote: a zarr
group whose attributes carry our ``greentea`` entry and that holds nothing
but our arrays, never the input and never a folder containing it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

META_KEY = "greentea"
#: zarr writes each file as ``<name>.<uuid hex>.partial`` and renames it; a killed
#: process leaves these behind.
_ZARR_PARTIAL = re.compile(r".*\.[0-9a-f]{32}\.partial$")
#: What our stores (a group with ``prob`` and ``done``) and exports (one array) hold.
OUR_ENTRIES = frozenset({"zarr.json", ".zgroup", ".zattrs", "prob", "done", "c"})
RESTART_HINT = "restart it with overwrite (CLI: --overwrite) or choose another output"
#: Edge of the sampled windows and their count per axis for the input hash.
_SAMPLE_EDGE, _SAMPLES_PER_AXIS = 32, 3
#: Images up to this many pixels are hashed whole.
_HASH_WHOLE_BELOW = 1 << 22


class StoreMismatch(ValueError):
    """A store exists but holds a prediction of another model or image."""


def model_fingerprint(spec: Any, weights: Mapping[str, np.ndarray], preprocess: Any,
                      *, tta: bool = False, bf16: bool = False) -> str:
    """A short hash of the weights, the architecture and the preprocessing.

    Test-time augmentation changes every block, so a store written with it
    carries a different fingerprint and never resumes a plain run (or back);
    so does bfloat16 inference, whose blocks differ slightly from float32 ones.
    Empty ``channels`` (a grey model) are left out of the hash, so stores
    written before models had channels still resume.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(spec.to_dict(), sort_keys=True).encode())
    pre = preprocess.to_dict()
    if not pre.get("channels"):
        pre.pop("channels", None)
    digest.update(json.dumps(pre, sort_keys=True).encode())
    for key in sorted(weights):
        value = np.ascontiguousarray(weights[key], np.float32)
        digest.update(key.encode())
        digest.update(str(value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:16] + ("+tta" if tta else "") + ("+bf16" if bf16 else "")


def _sample_starts(size: int) -> list[int]:
    if size <= _SAMPLE_EDGE:
        return [0]
    last = size - _SAMPLE_EDGE
    return sorted({round(i * last / (_SAMPLES_PER_AXIS - 1)) for i in range(_SAMPLES_PER_AXIS)})


def content_hash(image: Any) -> str:
    """Hash of the whole image when small, else of windows on a 3x3 grid of a few slices.

    Reading a few windows keeps resuming a huge lazy (zarr) input cheap; a
    different image almost never agrees on all of them.
    """
    digest = hashlib.sha256()
    shape = tuple(int(s) for s in image.shape)
    if int(np.prod(shape)) <= _HASH_WHOLE_BELOW:
        digest.update(np.ascontiguousarray(np.asarray(image[...])).tobytes())
        return digest.hexdigest()[:16]
    zs: list[Any] = [None] if len(shape) == 2 else sorted({0, shape[0] // 2, shape[0] - 1})
    for z in zs:
        plane = image if z is None else image[z]
        for y in _sample_starts(shape[-2]):
            for x in _sample_starts(shape[-1]):
                window = np.asarray(plane[y : y + _SAMPLE_EDGE, x : x + _SAMPLE_EDGE])
                digest.update(np.ascontiguousarray(window).tobytes())
    return digest.hexdigest()[:16]


def input_fingerprint(image: Any, source: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Path (if any), shape, dtype and content hash of a prediction's input.

    A multi-channel image (``channels.ChannelImage``) is hashed as its whole
    array, and its channel axis and chosen channels are recorded too.
    """
    from .channels import ChannelImage

    channels = {}
    if isinstance(image, ChannelImage):
        channels = {"channel_axis": image.axis, "channels": list(image.channels)}
        image = image.array
    return {
        "path": None if source is None else os.path.abspath(os.fspath(source)),
        "shape": [int(s) for s in image.shape],
        "dtype": str(np.dtype(image.dtype)),
        "content": content_hash(image),
        **channels,
    }


def check_same_origin(path: Any, stored: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Raise :class:`StoreMismatch` if ``stored`` and ``new`` provenance differ.

    ``new`` holds ``model`` (a fingerprint) and/or ``input`` (a dict); keys
    the new run does not know are not compared. A store without provenance
    (written by an older version) cannot be resumed safely either.
    """
    if new.get("model") and stored.get("model") != new["model"]:
        if not stored.get("model"):
            raise StoreMismatch(
                f"output {path} does not record which model wrote it, so its blocks cannot "
                f"be trusted for this model; {RESTART_HINT}"
            )
        raise StoreMismatch(
            f"output {path} holds a prediction of another model (stored model "
            f"{stored['model']}, this model {new['model']}): its blocks would mix two "
            f"models; {RESTART_HINT}"
        )
    if not new.get("input"):
        return
    old, now = stored.get("input") or {}, new["input"]
    if not old:
        raise StoreMismatch(
            f"output {path} does not record which image it is a prediction of; {RESTART_HINT}"
        )
    differs = [k for k in ("shape", "dtype", "content", "channel_axis", "channels")
               if old.get(k) != now.get(k)]
    if differs:
        details = ", ".join(f"{k} {old.get(k)} (stored) vs {now.get(k)} (now)" for k in differs)
        raise StoreMismatch(
            f"output {path} holds a prediction of another image (stored input "
            f"{old.get('path')}, now {now.get('path')}: {details}); {RESTART_HINT}"
        )


def _read_attributes(folder: Path) -> dict[str, Any] | None:
    """The group attributes of a zarr v3 or v2 folder, or None if it is not one."""
    for name, pick in (("zarr.json", lambda d: d.get("attributes")), (".zattrs", lambda d: d)):
        meta = folder / name
        if meta.is_file():
            try:
                return pick(json.loads(meta.read_text())) or {}
            except (OSError, ValueError):
                return None
    return None


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_output_path(output: str | os.PathLike[str], inputs: tuple[Any, ...] = ()) -> None:
    """Refuse an output that is one of ``inputs``, contains one, or lies inside one."""
    out = Path(os.path.abspath(os.fspath(output)))
    for item in inputs:
        if item is None or "://" in os.fspath(item):
            continue
        src = Path(os.path.abspath(os.fspath(item)))
        if _inside(src, out) or _inside(out, src):
            relation = "is" if src == out else ("contains" if _inside(src, out) else "lies in")
            raise ValueError(
                f"output {output} {relation} the input {item}; writing there would destroy "
                "the input: choose another output"
            )


def remove_partials(store: str | os.PathLike[str]) -> int:
    """Delete the half-written files a killed writer left inside a store; return how many."""
    removed = 0
    for folder, _, files in os.walk(store):
        for name in files:
            if _ZARR_PARTIAL.match(name):
                os.unlink(os.path.join(folder, name))
                removed += 1
    if removed:
        log.info("removed %d half-written file(s) an interrupted run left in %s", removed, store)
    return removed


def remove_store(output: str | os.PathLike[str], inputs: tuple[Any, ...] = ()) -> bool:
    """Delete a prediction store this project wrote; return whether one was deleted.

    Refuses (``ValueError``) a path that is an input or contains one, a
    symlink, a file, or a folder that is not our store or that holds
    anything besides our arrays, so a mistyped path never costs data.
    """
    check_output_path(output, inputs)
    path = Path(output)
    if not path.exists() and not path.is_symlink():
        return False
    if path.is_symlink() or not path.is_dir():
        raise ValueError(
            f"refusing to overwrite {output}: it is not a prediction store this tool wrote "
            f"({'a symbolic link' if path.is_symlink() else 'a file'}); remove it yourself"
        )
    attrs = _read_attributes(path)
    if attrs is None or META_KEY not in attrs:
        raise ValueError(
            f"refusing to overwrite {output}: it is not a prediction store written by "
            "napari-greentea (no greentea marker); remove it yourself or choose another output"
        )
    foreign = sorted(p.name for p in path.iterdir()
                     if p.name not in OUR_ENTRIES and not _ZARR_PARTIAL.match(p.name))
    if foreign:
        listing = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise ValueError(
            f"refusing to overwrite {output}: besides the prediction it holds {listing}, "
            "which napari-greentea did not write; move them away or choose another output"
        )
    shutil.rmtree(path)
    return True
