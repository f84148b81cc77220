"""The starter models shipped with the plugin (``napari_greentea.starters``)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.backend import get_backend
from napari_greentea.checkpoint import Checkpoint
from napari_greentea.models import dense_graph, preset
from napari_greentea.predict import predict_image
from napari_greentea.sample import CELL, MEMBRANE, synthetic_membranes
from napari_greentea.starters import STARTERS, starter
from napari_greentea.transfer import load_start


def test_every_starter_ships_a_model_of_its_network():
    for shipped in STARTERS.values():
        assert shipped.path.is_file(), f"{shipped.name}: {shipped.path} is missing"
        model = shipped.load()
        assert model.spec.num_classes == len(model.class_names) == 2
        assert model.iteration > 0 and not model.optimizer_state and not model.history


def test_the_em_starter_fits_its_own_unet_only():
    shipped = starter("em-membranes")
    assert shipped.preset == "interactive" and shipped.spec.kind == "u"
    own = preset("u", "interactive", depth=shipped.spec.depth)
    assert shipped.fits(own)
    assert shipped.fits(own.replace(num_classes=3))  # fresh classifier then
    assert not shipped.fits(own.replace(base_fmaps=8))
    assert not shipped.fits(own.replace(depth=shipped.spec.depth - 1))
    assert not shipped.fits(preset("sk", "interactive"))


def test_loads_are_independent_copies_and_names_are_checked():
    a, b = starter("em-membranes").load(), starter("em-membranes").load()
    key = next(iter(a.weights))
    a.weights[key][...] = 0
    assert np.any(b.weights[key] != 0)
    with pytest.raises(ValueError, match="em-membranes"):
        starter("no-such-model")


def test_init_accepts_a_starter_by_name_but_a_file_of_that_name_wins(tmp_path, monkeypatch):
    assert isinstance(load_start("em-membranes"), Checkpoint)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "em-membranes").write_text("not a model")
    with pytest.raises(ValueError, match="neither"):
        load_start("em-membranes")


def test_the_em_starter_finds_membranes_in_an_image_it_never_saw():
    """The plugin's own synthetic sample (another generator than the starter's
    training data): membranes get a higher membrane probability than cells."""
    img, truth = synthetic_membranes((128, 128), seed=5)
    model = starter("em-membranes").load()
    graph = dense_graph(model.spec)
    prob = predict_image(get_backend("torch-cpu").build(graph, model.weights), graph, img,
                         block=128, preprocess=model.preprocess)
    membrane_prob = prob[MEMBRANE - 1]
    assert membrane_prob[truth == MEMBRANE].mean() > membrane_prob[truth == CELL].mean() + 0.3
