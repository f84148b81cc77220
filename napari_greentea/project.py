"""Project folders: the image reference, the painted labels, the model and every setting.

A project is a folder ``<name>.greentea/`` holding

* ``project.json``: format and version, the image reference, the class
  names and the widget settings (``settings["train"]`` holds the model
  spec, training and loss configs as ``config.py`` serialises them; the
  other entries belong to the widgets that wrote them);
* ``labels.tif``: the painted labels (0 = unlabeled), values and dtype kept;
* ``model.npz``: the checkpoint, once there is a model;
* ``image.tif``: a copy of the image, only when it has no file of its own
  (a sample or a computed layer); otherwise the image is referenced.

The reference keeps the image's path relative to the project (moving both
together keeps it valid) and absolute (moving only the project keeps it
valid). Each file is written under a temporary name and renamed, and
``project.json`` last, so an interrupted save never leaves a project that
names a half-written file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import Checkpoint
from .config import LossConfig, ModelSpec, TrainConfig

FORMAT = "napari-greentea-project"
VERSION = 1
SUFFIX = ".greentea"
MANIFEST = "project.json"
LABELS_FILE = "labels.tif"
MODEL_FILE = "model.npz"
IMAGE_FILE = "image.tif"
#: Layer metadata: a labels layer names its image layer here (the Train widget pairs them).
IMAGE_LINK = "greentea_image"
#: Layer metadata: the project folder a layer was opened from.
PROJECT_KEY = "greentea_project"


@dataclass(frozen=True)
class ImageRef:
    """Where a project's image is: ``path`` relative to the project if possible."""

    path: str
    absolute: str
    key: str | None = None
    name: str = "image"
    embedded: bool = False


@dataclass
class Project:
    """A project as read from disk; :meth:`image_path` finds the image."""

    folder: Path
    image: ImageRef
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    checkpoint: Checkpoint | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def image_path(self) -> str:
        """The image file: relative to the project first, then the absolute path."""
        tried = []
        for candidate in (self.folder / self.image.path, Path(self.image.absolute)):
            if candidate.exists():
                return str(candidate)
            tried.append(str(candidate))
        raise FileNotFoundError(
            f"project {self.folder} refers to the image {self.image.path!r}, which is missing "
            f"(looked at {' and '.join(dict.fromkeys(tried))}); put the image back or save "
            "the project again next to it"
        )

    def read_image(self) -> Any:
        from .io import read_image

        return read_image(self.image_path(), key=self.image.key)

    def training_pair(self) -> tuple[np.ndarray, np.ndarray]:
        """(image, labels) in memory, checked to have the same shape."""
        if self.labels is None:
            raise ValueError(f"project {self.folder} has no labels: paint strokes and save again")
        image = np.asarray(self.read_image())
        if image.shape != self.labels.shape:
            raise ValueError(f"project {self.folder}: labels {self.labels.shape} and image "
                             f"{self.image_path()} {image.shape} differ in shape")
        return image, self.labels

    def train_configs(self) -> tuple[ModelSpec, TrainConfig, LossConfig]:
        """Spec, training and loss configs of ``settings["train"]`` (validated again)."""
        train = self.settings.get("train") or {}
        missing = [k for k in ("spec", "train", "loss") if k not in train]
        if missing:
            raise ValueError(f"project {self.folder} has no training settings "
                             f"({', '.join(missing)} missing): save it from the Train widget")
        return (ModelSpec.from_dict(train["spec"]), TrainConfig.from_dict(train["train"]),
                LossConfig.from_dict(train["loss"]))


def project_folder(path: str | os.PathLike[str]) -> Path:
    """``path`` with the ``.greentea`` suffix (added if missing)."""
    p = Path(path)
    return p if p.name.endswith(SUFFIX) else p.with_name(p.name + SUFFIX)


def is_project(path: str | os.PathLike[str]) -> bool:
    """A folder holding a ``project.json`` of our format (cheap: reads one small file)."""
    manifest = Path(path) / MANIFEST
    try:
        return manifest.is_file() and json.loads(manifest.read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _replace_atomically(final: Path, write: Any) -> None:
    tmp = final.with_name(f".{final.name}.partial")
    try:
        write(tmp)
        os.replace(tmp, final)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(f"cannot write {final}: {err.strerror or err}") from err


def _write_tiff(final: Path, array: np.ndarray) -> None:
    import tifffile

    # plain TIFF, not ImageJ-flavoured: ImageJ has no uint32 or int64 labels
    _replace_atomically(final, lambda tmp: tifffile.imwrite(tmp, array))


def _reference(folder: Path, image: str | os.PathLike[str], key: str | None,
               name: str) -> ImageRef:
    from .containers import split_dataset_path

    location, inline = split_dataset_path(image)
    absolute = Path(os.path.abspath(location))
    if not absolute.exists():
        raise FileNotFoundError(f"no image at {absolute}")
    try:
        relative = os.path.relpath(absolute, folder)
    except ValueError:  # another drive (Windows)
        relative = str(absolute)
    return ImageRef(relative, str(absolute), key or inline, name)


def save_project(
    path: str | os.PathLike[str],
    *,
    image: str | os.PathLike[str] | None = None,
    image_data: Any = None,
    key: str | None = None,
    image_name: str = "image",
    labels: Any = None,
    class_names: tuple[str, ...] | list[str] = (),
    checkpoint: Checkpoint | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Path:
    """Write a project folder; return it (``.greentea`` is appended if missing).

    Give the image as a file ``image`` (referenced; ``key`` names a dataset
    in a container) or as ``image_data`` (copied into the project). Saving
    over an existing project replaces its files; any other existing folder
    or file is refused.
    """
    folder = project_folder(path)
    if folder.exists() and not is_project(folder):
        raise ValueError(f"{folder} exists and is not a napari-greentea project; "
                         "choose another name")
    if (image is None) == (image_data is None):
        raise ValueError("give the image either as a file (image=) or as data (image_data=)")
    try:
        text = json.dumps(dict(settings or {}), indent=2, sort_keys=True)
    except TypeError as err:
        raise ValueError(f"project settings must be JSON values: {err}") from err
    folder.mkdir(parents=True, exist_ok=True)
    if image is not None:
        ref = _reference(folder, image, key, image_name)
        (folder / IMAGE_FILE).unlink(missing_ok=True)
        shape = None
    else:
        data = np.asarray(image_data)
        _write_tiff(folder / IMAGE_FILE, data)
        ref = ImageRef(IMAGE_FILE, str((folder / IMAGE_FILE).absolute()), None, image_name, True)
        shape = data.shape
    if labels is not None:
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iub":
            raise ValueError(f"labels must be integers, got {labels.dtype}")
        if shape is not None and labels.shape != shape:
            raise ValueError(f"labels {labels.shape} and image {shape} differ in shape")
        _write_tiff(folder / LABELS_FILE, labels)
    else:
        (folder / LABELS_FILE).unlink(missing_ok=True)
    if checkpoint is not None:
        checkpoint.save(folder / MODEL_FILE)
    else:
        (folder / MODEL_FILE).unlink(missing_ok=True)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "image": {"path": ref.path, "absolute": ref.absolute, "key": ref.key,
                  "name": ref.name, "embedded": ref.embedded},
        "labels": LABELS_FILE if labels is not None else None,
        "class_names": [str(n) for n in class_names],
        "checkpoint": MODEL_FILE if checkpoint is not None else None,
        "settings": json.loads(text),
    }
    body = json.dumps(manifest, indent=2) + "\n"
    _replace_atomically(folder / MANIFEST, lambda tmp: Path(tmp).write_text(body))
    return folder


def load_project(path: str | os.PathLike[str]) -> Project:
    """Read a project folder (``project.json`` itself may also be given).

    The image is located but not read (:meth:`Project.read_image`); labels
    and the checkpoint are loaded. Raises ``FileNotFoundError`` for a
    missing project or file it names, ``ValueError`` for another format or
    a newer version.
    """
    folder = Path(path)
    if folder.name == MANIFEST:
        folder = folder.parent
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"{folder} is not a napari-greentea project (no {MANIFEST})")
    try:
        meta = json.loads(manifest.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{manifest} is damaged: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{manifest} is not a napari-greentea project file")
    version = meta.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(f"{folder} was saved by a newer napari-greentea (project version "
                         f"{version}); this version reads up to {VERSION}: update napari-greentea")
    ref = ImageRef(**meta["image"])
    labels = None
    if meta.get("labels"):
        import tifffile

        labels_path = folder / meta["labels"]
        if not labels_path.is_file():
            raise FileNotFoundError(f"project {folder} names labels {labels_path}, "
                                    "which are missing")
        labels = tifffile.imread(labels_path)
    checkpoint = None
    if meta.get("checkpoint"):
        checkpoint = Checkpoint.load(folder / meta["checkpoint"])
    return Project(folder, ref, labels, tuple(meta.get("class_names") or ()), checkpoint,
                   dict(meta.get("settings") or {}))


def attach_checkpoint(path: str | os.PathLike[str]) -> None:
    """Record that ``model.npz`` in the project folder is its model (after training into it)."""
    folder = Path(path)
    meta = json.loads((folder / MANIFEST).read_text())
    meta["checkpoint"] = MODEL_FILE
    body = json.dumps(meta, indent=2) + "\n"
    _replace_atomically(folder / MANIFEST, lambda tmp: Path(tmp).write_text(body))


def layer_data(project: Project) -> list[tuple[Any, dict[str, Any], str]]:
    """The project as napari layer data: its image and, if painted, its linked labels."""
    name = project.image.name
    meta = {PROJECT_KEY: str(project.folder)}
    layers: list[tuple[Any, dict[str, Any], str]] = [
        (project.read_image(), {"name": name, "metadata": meta}, "image")]
    if project.labels is not None:
        link = {**meta, IMAGE_LINK: name, "class_names": list(project.class_names)}
        layers.append((project.labels, {"name": f"{name} labels", "metadata": link}, "labels"))
    return layers
