"""Starting a new run from a model trained on other data (``napari_greentea.transfer``)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.config import PreprocessConfig
from napari_greentea.models import dense_graph, preset
from napari_greentea.pretrain import Pretrained, classifier_keys
from napari_greentea.transfer import load_start, starting_checkpoint
from napari_greentea.weights import init_weights

SPEC = preset("u", depth=1, base_fmaps=8)


def _trained(spec=SPEC) -> Checkpoint:
    """A model as training leaves it: moved weights, optimiser state, history."""
    weights = {k: v + 0.5 for k, v in init_weights(dense_graph(spec), 9).items()}
    return Checkpoint(spec=spec, weights=weights, class_names=("membrane", "cell"),
                      preprocess=PreprocessConfig(normalize="percentile"), iteration=321,
                      optimizer_state={"conv1.weight/m": np.ones(3, np.float32)},
                      history=[0.5, 0.4])


def test_same_classes_carry_every_weight_and_drop_the_run_state():
    model = _trained()
    start = starting_checkpoint(model)
    assert set(start.weights) == set(model.weights)
    for key, value in model.weights.items():
        np.testing.assert_array_equal(start.weights[key], value)
        assert start.weights[key] is not value  # training the new run leaves the model alone
    assert start.iteration == 0 and not start.optimizer_state and not start.history
    assert start.preprocess == model.preprocess and start.class_names == ("membrane", "cell")
    assert starting_checkpoint(model, class_names=("a", "b")).class_names == ("a", "b")


def test_another_class_count_draws_the_classifier_afresh():
    model = _trained()
    spec = SPEC.replace(num_classes=3)
    start = starting_checkpoint(model, spec, seed=4, class_names=("a", "b", "c"))
    graph = dense_graph(spec)
    fresh, classifier = init_weights(graph, 4), classifier_keys(graph)
    assert classifier and set(start.weights) == set(fresh)
    for key, value in start.weights.items():
        np.testing.assert_array_equal(value, fresh[key] if key in classifier
                                      else model.weights[key])
    assert start.spec.num_classes == 3 and start.class_names == ("a", "b", "c")


def test_other_layers_are_refused_by_name():
    with pytest.raises(ValueError, match=r"depth 1 \(trained\) vs 2"):
        starting_checkpoint(_trained(), SPEC.replace(depth=2))


def test_load_start_tells_the_file_kinds_apart(tmp_path):
    model = _trained().save(tmp_path / "model.npz")
    assert isinstance(load_start(model), Checkpoint)
    skip = classifier_keys(dense_graph(SPEC))
    pre = Pretrained(spec=SPEC, weights={k: v for k, v in init_weights(dense_graph(SPEC)).items()
                                         if k not in skip},
                     preprocess=PreprocessConfig(), iterations=1, seconds=0.1, loss=1.0)
    assert isinstance(load_start(pre.save(tmp_path / "pre.npz")), Pretrained)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(2))
    with pytest.raises(ValueError, match="neither a napari-greentea checkpoint nor a pretrained"):
        load_start(other)


def test_a_run_from_the_starter_predicts_as_the_starter_before_its_first_step():
    from napari_greentea.config import TrainConfig
    from napari_greentea.predict import predict_image
    from napari_greentea.sample import synthetic_membranes
    from napari_greentea.train import LabeledImage, Trainer

    image, labels = synthetic_membranes((48, 48), seed=1)
    model = _trained()
    trainer = Trainer(SPEC, [LabeledImage(image, labels)], preprocess=model.preprocess,
                      train=TrainConfig(iterations=1, output_size=24), backend="torch-cpu",
                      init_from=starting_checkpoint(model))
    from napari_greentea.backend import get_backend

    graph = dense_graph(SPEC)
    ours = predict_image(trainer.predict, graph, image, preprocess=trainer.preprocess)
    theirs = predict_image(get_backend("torch-cpu").build(graph, model.weights), graph,
                           image, preprocess=model.preprocess)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
