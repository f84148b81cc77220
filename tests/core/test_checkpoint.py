"""Checkpoints round-trip, are written atomically and refuse a mismatching net."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.config import PreprocessConfig
from napari_greentea.models import build_graph, preset
from napari_greentea.weights import init_weights


def test_round_trip(tmp_path):
    spec = preset("usk", num_classes=3)
    weights = init_weights(build_graph(spec), 1)
    ckpt = Checkpoint(spec=spec, weights=weights, preprocess=PreprocessConfig(clahe=True),
                      class_names=("a", "b", "c"), iteration=7,
                      optimizer_state={"step": np.asarray(7)})
    path = ckpt.save(tmp_path / "m.npz")
    assert not list(tmp_path.glob(".*partial"))
    back = Checkpoint.load(path)
    assert back.spec == spec and back.class_names == ("a", "b", "c") and back.iteration == 7
    assert back.preprocess.clahe
    for key, value in weights.items():
        np.testing.assert_array_equal(back.weights[key], value)


def test_mismatching_weights_are_refused():
    spec = preset("u")
    weights = init_weights(build_graph(preset("u", base_fmaps=8)), 0)
    with pytest.raises(ValueError, match="wrong shapes"):
        Checkpoint(spec=spec, weights=weights)
    with pytest.raises(ValueError, match="missing"):
        Checkpoint(spec=spec, weights={})


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, a=np.ones(3))
    with pytest.raises(ValueError, match="not a napari-greentea checkpoint"):
        Checkpoint.load(bad)
