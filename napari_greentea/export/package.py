"""Read a bioimage.io package exported by napari-greentea back into a checkpoint.

The rdf's ``config.napari-greentea`` holds the model spec, preprocessing
and class names; the ``pytorch_state_dict`` weights are the graph's tensors.
Together they rebuild a :class:`~napari_greentea.checkpoint.Checkpoint`, so
the package predicts on every backend (OpenCL included), tiled and exactly as
the original. Packages of other tools carry no such description of their
architecture and are refused with a message that says so.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoint import FORMAT, Checkpoint
from ..config import ModelSpec, PreprocessConfig

RDF_NAMES = ("rdf.yaml", "bioimageio.yaml")
CONFIG_KEY = "napari-greentea"


def is_package(path: str | os.PathLike[str]) -> bool:
    """True for a ``.zip`` file or a folder holding a bioimage.io rdf."""
    p = Path(path)
    if p.is_dir():
        return any((p / n).exists() for n in RDF_NAMES)
    return p.suffix.lower() == ".zip"


class _Files:
    """Uniform read access to the files of a zip package or an unpacked folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = None if path.is_dir() else zipfile.ZipFile(path)

    def names(self) -> list[str]:
        if self.zip is not None:
            return self.zip.namelist()
        return [str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file()]

    def read(self, name: str) -> bytes:
        try:
            if self.zip is not None:
                return self.zip.read(name)
            return (self.path / name).read_bytes()
        except (KeyError, FileNotFoundError) as err:
            raise ValueError(f"{self.path} lacks {name!r}, which its rdf names") from err


def _rdf(files: _Files) -> dict[str, Any]:
    import yaml

    for name in RDF_NAMES:
        if name in files.names():
            rdf = yaml.safe_load(files.read(name))
            if isinstance(rdf, dict):
                return rdf
    raise ValueError(f"{files.path} holds no bioimage.io rdf ({' or '.join(RDF_NAMES)})")


def _state_dict(files: _Files, entry: dict[str, Any]) -> dict[str, np.ndarray]:
    import torch

    data = files.read(str(entry["source"]))
    expected = entry.get("sha256")
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise ValueError(f"{files.path}: state dict {entry['source']} does not match its sha256")
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    # torch parameter names cannot hold '.', the module stores 'conv1.weight' as 'conv1__weight'
    return {k.replace("__", "."): v.numpy() for k, v in state.items()}


def load_package(path: str | os.PathLike[str]) -> Checkpoint:
    """The checkpoint inside a napari-greentea bioimage.io package (zip or folder)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no model package at {p}")
    try:
        files = _Files(p)
    except zipfile.BadZipFile as err:
        raise ValueError(f"{p} is not a zip file: {err}") from err
    rdf = _rdf(files)
    if rdf.get("type") != "model":
        raise ValueError(f"{p} describes a {rdf.get('type')!r}, not a model")
    ours = (rdf.get("config") or {}).get(CONFIG_KEY)
    if not isinstance(ours, dict) or ours.get("format") != FORMAT:
        raise ValueError(
            f"{p} ({rdf.get('name', 'unnamed')}) was not exported by napari-greentea: only "
            "packages with a 'config: napari-greentea' section describe a network this "
            "plugin can rebuild"
        )
    entry = (rdf.get("weights") or {}).get("pytorch_state_dict")
    if not entry:
        raise ValueError(f"{p} has no pytorch_state_dict weights to rebuild the network from")
    return Checkpoint(
        spec=ModelSpec.from_dict(ours["spec"]),
        weights=_state_dict(files, entry),
        preprocess=PreprocessConfig.from_dict(ours["preprocess"]),
        class_names=tuple(ours.get("class_names", ())),
        iteration=int(ours.get("iteration", 0)),
    )


def load_model_file(path: str | os.PathLike[str]) -> Checkpoint:
    """A checkpoint (``.npz``) or a napari-greentea bioimage.io package (``.zip``/folder)."""
    return load_package(path) if is_package(path) else Checkpoint.load(path)
