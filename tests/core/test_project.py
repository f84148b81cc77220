"""Project folders: save -> load round trip, moved files, versions, ``train --project``, reader."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tifffile

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.cli import main
from napari_greentea.config import LossConfig, TrainConfig
from napari_greentea.models import dense_graph, preset
from napari_greentea.project import (
    IMAGE_FILE,
    MANIFEST,
    is_project,
    load_project,
    save_project,
)
from napari_greentea.weights import init_weights


@pytest.fixture
def pieces(synthetic_pair):
    image, gt = synthetic_pair
    labels = np.zeros(gt.shape, np.uint8)
    labels[::7] = gt[::7]  # every 7th row painted with the true classes (1, 2)
    spec = preset("u", "interactive", base_fmaps=4)
    ckpt = Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0), iteration=7,
                      class_names=("membrane", "cell"))
    train, loss = TrainConfig(iterations=3, lr=5e-4, output_size=32), LossConfig()
    settings = {"train": {"spec": spec.to_dict(), "train": train.to_dict(),
                          "loss": loss.to_dict(), "widget": {"preset": "interactive"}},
                "predict": {"block": 64, "threshold": 0.35, "method": "watershed"}}
    return image, labels, ckpt, settings


def test_round_trip_keeps_labels_model_and_settings(pieces, tmp_path):
    image, labels, ckpt, settings = pieces
    folder = save_project(tmp_path / "cells", image_data=image, image_name="raw",
                          labels=labels, class_names=("membrane", "cell"), checkpoint=ckpt,
                          settings=settings)
    assert folder.name == "cells.greentea" and is_project(folder)
    project = load_project(folder)
    np.testing.assert_array_equal(project.labels, labels)
    assert project.labels.dtype == labels.dtype
    np.testing.assert_array_equal(project.read_image(), image)
    assert project.image.name == "raw" and project.image.embedded
    assert project.class_names == ("membrane", "cell")
    assert project.settings == settings
    assert project.checkpoint.spec == ckpt.spec and project.checkpoint.iteration == 7
    for key, value in ckpt.weights.items():
        np.testing.assert_array_equal(project.checkpoint.weights[key], value)
    spec, train, loss = project.train_configs()
    assert spec == ckpt.spec and train.lr == 5e-4 and loss == LossConfig()
    # saving again without a model removes the old one instead of leaving it named nowhere
    save_project(folder, image_data=image, labels=labels, settings={})
    assert load_project(folder / MANIFEST).checkpoint is None
    assert not (folder / "model.npz").exists()


def test_a_referenced_image_survives_moves_and_a_missing_one_is_named(pieces, tmp_path):
    image, labels, _, _ = pieces
    work = tmp_path / "work"
    work.mkdir()
    tifffile.imwrite(work / "raw.tif", image)
    folder = save_project(work / "p", image=work / "raw.tif", labels=labels)
    assert json.loads((folder / MANIFEST).read_text())["image"]["path"] == "../raw.tif"
    assert not (folder / IMAGE_FILE).exists()
    moved = shutil.move(work, tmp_path / "moved")  # image and project together: relative path
    project = load_project(tmp_path / "moved" / "p.greentea")
    np.testing.assert_array_equal(project.read_image(), image)
    alone = shutil.move(tmp_path / "moved" / "p.greentea", tmp_path / "p.greentea")
    with pytest.raises(FileNotFoundError, match=r"raw\.tif.*missing"):
        load_project(alone).read_image()
    shutil.move(moved, work)  # the image back at its absolute path: found again
    np.testing.assert_array_equal(load_project(alone).read_image(), image)


def test_versions_formats_and_foreign_folders_are_refused(pieces, tmp_path):
    image, labels, _, _ = pieces
    folder = save_project(tmp_path / "p", image_data=image, labels=labels)
    meta = json.loads((folder / MANIFEST).read_text())
    (folder / MANIFEST).write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(ValueError, match="newer napari-greentea"):
        load_project(folder)
    (folder / MANIFEST).write_text(json.dumps({**meta, "format": "something-else"}))
    with pytest.raises(ValueError, match="not a napari-greentea project"):
        load_project(folder)
    other = tmp_path / "mine.greentea"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a napari-greentea project"):
        save_project(other, image_data=image)
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(FileNotFoundError, match="not a napari-greentea project"):
        load_project(tmp_path / "nothing.greentea")
    with pytest.raises(ValueError, match="differ in shape"):
        save_project(tmp_path / "q", image_data=image, labels=labels[:10])


def test_train_project_writes_the_model_back(pieces, tmp_path, capsys):
    image, labels, ckpt, settings = pieces
    folder = save_project(tmp_path / "p", image_data=image, labels=labels,
                          class_names=("membrane", "cell"), settings=settings)
    assert main(["train", "--project", str(folder), "--iterations", "3",
                 "--backend", "torch-cpu"]) == 0
    assert "wrote checkpoint" in capsys.readouterr().out
    trained = load_project(folder).checkpoint
    assert trained.iteration == 3 and trained.spec == ckpt.spec
    assert trained.train.lr == 5e-4 and trained.train.output_size == 32  # the project's settings
    assert trained.class_names == ("membrane", "cell")
    out = tmp_path / "elsewhere.npz"
    assert main(["train", "--project", str(folder), "--iterations", "2", "--output", str(out),
                 "--backend", "torch-cpu"]) == 0
    assert Checkpoint.load(out).iteration == 2 and load_project(folder).checkpoint.iteration == 3
    assert main(["train", "--project", str(folder), str(tmp_path / "x.tif")]) == 2
    assert main(["train", "--project", str(folder), "--depth", "3"]) == 2
    assert main(["train", str(tmp_path / "x.tif")]) == 2
    assert "--project" in capsys.readouterr().err


def test_npe2_reader_opens_image_and_linked_labels(pieces, tmp_path):
    npe2 = pytest.importorskip("npe2")
    image, labels, ckpt, _ = pieces
    folder = save_project(tmp_path / "p", image_data=image, image_name="raw", labels=labels,
                          class_names=("membrane", "cell"), checkpoint=ckpt)
    npe2.PluginManager.instance().discover()
    for path in (folder, folder / MANIFEST):
        layers = npe2.read([str(path)], stack=False, plugin_name="napari-greentea")
        (img, img_meta, img_kind), (lab, lab_meta, lab_kind) = layers
        assert (img_kind, lab_kind) == ("image", "labels")
        np.testing.assert_array_equal(img, image)
        np.testing.assert_array_equal(lab, labels)
        assert lab_meta["metadata"]["greentea_image"] == img_meta["name"] == "raw"
        assert lab_meta["metadata"]["class_names"] == ["membrane", "cell"]
