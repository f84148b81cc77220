"""One-file checkpoints: spec, preprocessing, classes, weights, optimiser, iteration.

Stored as an ``.npz`` (no pickle, readable without torch): ``meta`` holds a
JSON document (configs via ``to_dict``), ``w/<key>`` the weights and
``opt/<key>`` the optimiser state in the backend-neutral form. Written to a
temporary file and renamed, so a crash never leaves a truncated checkpoint.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import LossConfig, ModelSpec, PreprocessConfig, TrainConfig
from .graph import Graph
from .models import build_graph
from .weights import check_weights

FORMAT = "napari-greentea-checkpoint/1"
PRETRAINED_FORMAT = "napari-greentea-pretrained/1"
#: What each archive format holds, for messages about a file of the wrong kind.
FORMAT_NAMES = {
    FORMAT: "napari-greentea checkpoint",
    PRETRAINED_FORMAT: "pretrained network (greentea pretrain; use it with train --init)",
}


def partial_path(final: Path) -> Path:
    """The hidden temporary file a save writes before renaming it to ``final``."""
    return final.with_name(f".{final.name}.partial")


def remove_stale_partial(final: str | os.PathLike[str]) -> bool:
    """Delete the half-written file a killed save left next to ``final``; True if one was."""
    stale = partial_path(Path(final))
    if stale.exists():
        stale.unlink()
        return True
    return False


def write_archive(path: str | os.PathLike[str], meta: dict[str, Any],
                  arrays: dict[str, np.ndarray], what: str) -> Path:
    """``meta`` (JSON) and ``arrays`` in one ``.npz`` (suffix added if missing), atomically.

    The file is written under a temporary name, synced and renamed, so a
    crash leaves the old file or the new one, never a truncated one.
    """
    final = Path(path)
    if final.suffix != ".npz":
        final = final.with_name(final.name + ".npz")
    final.parent.mkdir(parents=True, exist_ok=True)
    contents = {"meta": np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays}
    tmp = partial_path(final)
    try:
        remove_stale_partial(final)
        with open(tmp, "wb") as fh:
            np.savez(fh, **contents)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(f"cannot write {what} {final}: {err.strerror or err}") from err
    return final


def read_archive(path: str | os.PathLike[str], fmt: str, what: str
                 ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The meta document and the arrays of an archive :func:`write_archive` wrote.

    Raises ``ValueError`` saying what is wrong (not an archive, damaged,
    another format than ``fmt``) and ``FileNotFoundError``.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no {what} at {p}")
    if p.is_dir() or not zipfile.is_zipfile(p):
        raise ValueError(
            f"{p} is not a napari-greentea {what}: not an .npz archive "
            "(wrong file, or a copy cut short)"
        )
    try:
        with np.load(p, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{p} is a damaged or truncated {what} ({err}); use another copy"
        ) from err
    except (ValueError, KeyError, OSError) as err:
        raise ValueError(f"{p} is not a napari-greentea {what}: {err}") from err
    found = meta.get("format") if isinstance(meta, dict) else meta
    if found != fmt:
        known = FORMAT_NAMES.get(found) if isinstance(found, str) else None
        if known:
            raise ValueError(f"{p} is a {known}, not a {what}")
        raise ValueError(f"{p} has unknown {what} format {found!r}")
    return meta, arrays


@dataclass
class Checkpoint:
    """Everything needed to predict with, or continue training, a model."""

    spec: ModelSpec
    weights: dict[str, np.ndarray]
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    class_names: tuple[str, ...] = ()
    iteration: int = 0
    optimizer_state: dict[str, np.ndarray] = field(default_factory=dict)
    train: TrainConfig | None = None
    loss: LossConfig | None = None
    history: list[float] = field(default_factory=list)
    rng_state: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_weights(self.graph(), self.weights)

    def graph(self) -> Graph:
        return build_graph(self.spec)

    def save(self, path: str | os.PathLike[str]) -> Path:
        meta = {
            "format": FORMAT,
            "spec": self.spec.to_dict(),
            "preprocess": self.preprocess.to_dict(),
            "class_names": list(self.class_names),
            "iteration": self.iteration,
            "train": self.train.to_dict() if self.train else None,
            "loss": self.loss.to_dict() if self.loss else None,
            "history": [float(v) for v in self.history],
            "rng_state": self.rng_state,
        }
        arrays = {f"w/{k}": np.asarray(v) for k, v in self.weights.items()}
        arrays.update({f"opt/{k}": np.asarray(v) for k, v in self.optimizer_state.items()})
        return write_archive(path, meta, arrays, "checkpoint")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Checkpoint:
        meta, arrays = read_archive(path, FORMAT, "checkpoint")
        weights = {k[2:]: v for k, v in arrays.items() if k.startswith("w/")}
        opt = {k[4:]: v for k, v in arrays.items() if k.startswith("opt/")}
        try:
            return cls._from_meta(meta, weights, opt)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"{path} is not a usable napari-greentea checkpoint: {err}") from err

    @classmethod
    def _from_meta(
        cls, meta: dict[str, Any], weights: dict[str, np.ndarray], opt: dict[str, np.ndarray]
    ) -> Checkpoint:
        return cls(
            spec=ModelSpec.from_dict(meta["spec"]),
            weights=weights,
            preprocess=PreprocessConfig.from_dict(_legacy_stats(meta["preprocess"])),
            class_names=tuple(meta["class_names"]),
            iteration=int(meta["iteration"]),
            optimizer_state=opt,
            train=TrainConfig.from_dict(meta["train"]) if meta.get("train") else None,
            loss=LossConfig.from_dict(meta["loss"]) if meta.get("loss") else None,
            history=list(meta.get("history", [])),
            rng_state=meta.get("rng_state", {}),
        )


def _legacy_stats(preprocess: dict[str, Any]) -> dict[str, Any]:
    """Preprocessing of a checkpoint saved before ``stats`` existed, as it was trained.

    Min-max statistics were then a full pass over every pixel; percentiles
    already came from the strided sample. Filling in the matching rule keeps
    such a checkpoint's prediction-time normalisation equal to its training-time one.
    """
    if "stats" in preprocess:
        return preprocess
    legacy = "full" if preprocess.get("normalize", "minmax") == "minmax" else "sample"
    return {**preprocess, "stats": legacy}
