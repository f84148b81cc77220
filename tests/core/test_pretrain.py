"""Self-supervised pretraining: targets, training, stop, and the weights it hands on."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import numpy as np
import pytest

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.config import PretrainConfig
from napari_greentea.features import feature_count
from napari_greentea.models import dense_graph, preset
from napari_greentea.pretrain import Pretrained, Pretrainer, classifier_keys
from napari_greentea.weights import init_weights

SPEC = preset("u", depth=1, base_fmaps=8)
QUICK = PretrainConfig(seconds=0, iterations=40, output_size=24, lr=1e-2)


@pytest.fixture(scope="module")
def image():
    from napari_greentea.sample import synthetic_membranes

    return synthetic_membranes((64, 64), seed=3)[0]


def test_pretraining_lowers_the_regression_loss(image):
    trainer = Pretrainer([image], SPEC, QUICK, backend="torch-cpu")
    events = list(trainer.run())
    assert [e.stage for e in events[:2]] == ["features", "features"]
    assert all(e.iteration == 0 and math.isnan(e.loss) for e in events[:2])
    losses = [e.loss for e in events if e.stage == "training"]
    assert [e.iteration for e in events[2:]] == [10, 20, 30, 40]
    assert losses[-1] < 0.85 * losses[0]
    result = trainer.result()
    assert result.iterations == 40 and result.loss == losses[-1]
    assert result.spec.num_classes == feature_count()
    graph = dense_graph(result.spec)
    assert set(result.weights) == set(graph.weight_shapes()) - classifier_keys(graph)


def test_stop_ends_run_early_and_result_needs_a_step(image):
    trainer = Pretrainer([image], SPEC, QUICK.replace(iterations=10**6), backend="torch-cpu")
    with pytest.raises(RuntimeError, match="not taken a step"):
        trainer.result()
    for event in trainer.run():
        if event.stage == "training":
            threading.Thread(target=trainer.stop).start()
    assert 10 <= trainer.iteration < 100
    assert trainer.result().iterations == trainer.iteration

    early = Pretrainer([image], SPEC, QUICK, backend="torch-cpu")
    events = []
    for event in early.run():
        events.append(event)
        early.stop()
    assert [e.stage for e in events] == ["features"]
    with pytest.raises(RuntimeError):
        early.result()


def test_time_budget_ends_run(image):
    trainer = Pretrainer([image], SPEC, PretrainConfig(seconds=0.5, output_size=24),
                         backend="torch-cpu")
    last = list(trainer.run())[-1]
    assert last.stage == "training" and last.budget_s == 0.5
    assert 0.5 <= last.elapsed_s < 5


def test_stacks_and_channels_are_read_like_the_trainer(image):
    stack = np.stack([image, image[::-1]])
    colour = np.stack([image, image.T, 255 - image], axis=-1)  # RGB: channels (0, 1, 2)
    grey = Pretrainer([stack], SPEC, QUICK.replace(iterations=1), backend="torch-cpu")
    assert grey.preprocess.channels == ()
    assert sum(e.stage == "features" for e in grey.run()) == 3  # start + 2 planes
    rgb = Pretrainer([colour], preset("u", depth=1, base_fmaps=4, in_channels=3),
                     QUICK.replace(iterations=1), backend="torch-cpu")
    list(rgb.run())
    result = rgb.result()
    assert result.preprocess.channels == (0, 1, 2)
    assert result.spec.num_classes == feature_count(3)
    with pytest.raises(ValueError, match="channel"):
        Pretrainer([colour], SPEC)


def _pretrained(spec, seed=1):
    """A Pretrained of ``spec`` with weights no fresh initialisation gives."""
    from napari_greentea.config import PreprocessConfig

    spec = spec.replace(num_classes=feature_count())
    graph = dense_graph(spec)
    skip = classifier_keys(graph)
    weights = {k: v + 1.0 for k, v in init_weights(graph, seed).items() if k not in skip}
    return Pretrained(spec=spec, weights=weights,
                      preprocess=PreprocessConfig(normalize="percentile"), iterations=7,
                      seconds=1.5, loss=0.25)


@pytest.mark.parametrize("kind", ["u", "usk", "sk", "sw"])
def test_initial_checkpoint_copies_every_layer_but_the_classifier(kind):
    spec = preset(kind)
    pre = _pretrained(spec)
    ckpt = pre.initial_checkpoint(spec.replace(num_classes=3), seed=4, class_names=("a", "b", "c"))
    graph = dense_graph(ckpt.spec)
    fresh = init_weights(graph, 4)
    classifier = classifier_keys(graph)
    assert classifier and set(ckpt.weights) == set(fresh)
    for key, value in ckpt.weights.items():
        expected = fresh[key] if key in classifier else pre.weights[key]
        np.testing.assert_array_equal(value, expected)
    assert ckpt.iteration == 0 and not ckpt.optimizer_state and ckpt.class_names == ("a", "b", "c")
    assert ckpt.preprocess == pre.preprocess


def test_incompatible_architecture_is_refused_by_name():
    pre = _pretrained(SPEC)
    assert pre.compatible(SPEC.replace(num_classes=5))
    deeper = SPEC.replace(depth=2)
    assert not pre.compatible(deeper)
    with pytest.raises(ValueError, match=r"depth 1 \(pretrained\) vs 2"):
        pre.initial_checkpoint(deeper)
    with pytest.raises(ValueError, match="kind"):
        pre.initial_checkpoint(preset("usk"))


def test_save_load_round_trip(tmp_path):
    pre = _pretrained(SPEC)
    path = pre.save(tmp_path / "pre")
    assert path.name == "pre.npz" and not list(tmp_path.glob(".*partial"))
    back = Pretrained.load(path)
    assert (back.spec, back.preprocess, back.iterations, back.seconds, back.loss) == (
        pre.spec, pre.preprocess, 7, 1.5, 0.25)
    assert all(np.array_equal(back.weights[k], v) for k, v in pre.weights.items())
    assert back.config is None  # a file written without its settings still loads
    recorded = Pretrained.load(replace(pre, config=QUICK).save(tmp_path / "recorded"))
    assert recorded.config == QUICK
    with pytest.raises(ValueError, match=r"is a pretrained network .* not a checkpoint"):
        Checkpoint.load(path)
    ckpt = tmp_path / "model.npz"
    Checkpoint(spec=SPEC, weights=init_weights(dense_graph(SPEC))).save(ckpt)
    with pytest.raises(ValueError, match="is a napari-greentea checkpoint, not a pretrained"):
        Pretrained.load(ckpt)


def test_stroke_training_starts_from_the_pretrained_weights(image):
    from napari_greentea.config import TrainConfig
    from napari_greentea.sample import synthetic_membranes
    from napari_greentea.train import LabeledImage, Trainer

    pretrainer = Pretrainer([image], SPEC, QUICK.replace(iterations=2), backend="torch-cpu")
    list(pretrainer.run())
    pre = pretrainer.result()
    assert pre.config == QUICK.replace(iterations=2)
    _, labels = synthetic_membranes((64, 64), seed=3)
    trainer = Trainer(SPEC, [LabeledImage(image, labels)], preprocess=pre.preprocess,
                      train=TrainConfig(iterations=1, output_size=24), backend="torch-cpu",
                      init_from=pre.initial_checkpoint(SPEC))
    for key, value in pre.weights.items():
        np.testing.assert_array_equal(trainer.model.weights()[key], value)
    assert trainer.fit().iteration == 1
