"""Trainer: loss drops, resume reproduces an uninterrupted run, clear errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.config import LossConfig, TrainConfig
from napari_greentea.events import (
    CheckpointSaved,
    IterationDone,
    TrainingFinished,
    TrainingStarted,
    TrainingStopped,
)
from napari_greentea.models import preset
from napari_greentea.train import LabeledImage, Trainer, TrainingError, learning_rate


@pytest.fixture(scope="module")
def pair():
    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.sample import synthetic_membranes

    image, gt = synthetic_membranes((96, 96), seed=1)
    return image, scribbles_from_ground_truth(gt, fraction=0.05, seed=1), gt


def _trainer(pair, init_from=None, **train):
    cfg = dict(iterations=30, batch_size=2, output_size=32, lr=2e-3, seed=3)
    cfg.update(train)
    return Trainer(preset("usk"), [LabeledImage(pair[0], pair[1])],
                   train=TrainConfig(**cfg), backend="torch-cpu", init_from=init_from)


def test_events_and_loss_drops(pair):
    trainer = _trainer(pair, iterations=60)
    events = list(trainer.run())
    assert isinstance(events[0], TrainingStarted)
    assert isinstance(events[-1], TrainingFinished)
    losses = [e.loss for e in events if isinstance(e, IterationDone)]
    assert len(losses) == 60
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10])
    assert all(e.labels_per_second > 0 for e in events if isinstance(e, IterationDone))


@pytest.mark.parametrize("anchor_decay", [0.0, 0.05])
def test_resume_continues_the_same_trajectory(pair, tmp_path, anchor_decay):
    """With ``anchor_decay`` the resumed run still pulls toward the first run's start."""
    start = _trainer(pair, iterations=3).fit()
    full = _trainer(pair, start, iterations=12, anchor_decay=anchor_decay)
    full.fit()
    part = _trainer(pair, start, iterations=12, output=str(tmp_path / "m.npz"),
                    anchor_decay=anchor_decay)
    for event in part.run():
        if isinstance(event, IterationDone) and event.iteration == 5:
            part.stop()
    assert part.iteration == 5
    resumed = Trainer(preset("usk"), [LabeledImage(pair[0], pair[1])],
                      resume=Checkpoint.load(tmp_path / "m.npz"), backend="torch-cpu")
    resumed.fit()
    np.testing.assert_allclose(resumed.history, full.history, rtol=1e-5)


def test_fine_tune_from_checkpoint_with_new_labels(pair):
    base = _trainer(pair, iterations=5).fit()
    relabeled = pair[1].copy()
    relabeled[:10] = 0
    tuned = Trainer(preset("usk"), [LabeledImage(pair[0], relabeled)], init_from=base,
                    train=TrainConfig(iterations=3, output_size=32), backend="torch-cpu")
    ck = tuned.fit()
    assert ck.iteration == 3


def test_painted_labels_are_never_modified(pair):
    labels = pair[1].copy()
    trainer = Trainer(preset("usk"), [LabeledImage(pair[0], labels)],
                      train=TrainConfig(iterations=3, output_size=32),
                      loss=LossConfig(class_balance="histeq"), backend="torch-cpu")
    trainer.fit()
    np.testing.assert_array_equal(labels, pair[1])


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.zeros((10, 10), np.uint8), "shape"),
        (None, "no labeled pixels"),
        ("single", "only class 2"),
        ("three", "3 but the network has 2"),
    ],
)
def test_bad_labels(pair, labels, message):
    image = pair[0]
    if labels is None:
        labels = np.zeros(image.shape, np.uint8)
    elif isinstance(labels, str):
        labels = np.zeros(image.shape, np.uint8)
        labels[5:9, 5:9] = 2
        if labels is not None and message.startswith("3"):
            labels[20:24, 20:24] = 3
    with pytest.raises(TrainingError, match=message):
        Trainer(preset("usk"), [LabeledImage(image, labels)], backend="torch-cpu")


def test_unwritable_checkpoint_path(pair, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    if os.access(locked, os.W_OK):
        pytest.skip("running as a user that can write anywhere (root)")
    with pytest.raises(TrainingError, match="cannot write"):
        _trainer(pair, output=str(locked / "m.npz"))


def test_checkpoint_path_under_a_file_is_refused(pair, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TrainingError, match="cannot write"):
        _trainer(pair, output=str(blocker / "m.npz"))


def test_nan_loss_stops_and_keeps_last_good(pair, tmp_path):
    trainer = _trainer(pair, iterations=20, checkpoint_every=2, output=str(tmp_path / "m.npz"))
    real_step = trainer.model.train_step

    def poisoned(images, labels, lr):
        if trainer.iteration >= 5:
            return float("nan")
        return real_step(images, labels, lr)

    trainer.model.train_step = poisoned
    events = list(trainer.run())
    assert isinstance(events[-1], TrainingStopped)
    assert "nan" in events[-1].reason and "iteration 4" in events[-1].reason
    assert any(isinstance(e, CheckpointSaved) for e in events)
    assert Checkpoint.load(tmp_path / "m.npz").iteration == 4


def test_inv_policy():
    cfg = TrainConfig(lr=1e-3, lr_policy="inv")
    assert learning_rate(cfg, 0) == pytest.approx(1e-3)
    assert learning_rate(cfg, 10000) == pytest.approx(1e-3 * 2 ** -0.75)


def test_malis_loss_trains(pair):
    trainer = Trainer(preset("usk"), [LabeledImage(pair[0], pair[2])],
                      train=TrainConfig(iterations=4, output_size=32),
                      loss=LossConfig(kind="malis"), backend="torch-cpu")
    trainer.fit()
    assert len(trainer.history) == 4 and all(np.isfinite(trainer.history))


def test_throttle_iterations_keeps_other_events_and_the_last_iteration():
    from napari_greentea.events import throttle_iterations

    events = [TrainingStarted(5)] + [IterationDone(i, 1.0, 0.1, 1.0) for i in range(1, 6)]
    events.append(TrainingFinished(5, None))
    out = list(throttle_iterations(iter(events), seconds=3600))
    assert out[0] == events[0] and out[-1] == events[-1]
    iterations = [e.iteration for e in out if isinstance(e, IterationDone)]
    assert iterations == [1, 5]  # the first, then the newest before the next other event


def test_threads_cap_torch_in_the_training_thread_only(pair):
    """``threads`` applies where training runs (OpenMP's count is per thread)."""
    import threading

    import torch

    if torch.get_num_threads() < 2:
        pytest.skip("needs torch with >= 2 threads to see a cap")
    before = torch.get_num_threads()
    seen = {}

    def train() -> None:
        trainer = Trainer(preset("u"), [LabeledImage(pair[0], pair[1])],
                          train=TrainConfig(iterations=2, threads=1),
                          backend="torch-cpu")
        list(trainer.run())
        seen["training thread"] = torch.get_num_threads()

    worker = threading.Thread(target=train)
    worker.start()
    worker.join()
    assert seen["training thread"] == 1
    assert torch.get_num_threads() == before  # the caller's threads are left alone
    with pytest.raises(ValueError, match="threads"):
        TrainConfig(threads=-2)


def test_anchor_decay_applies_only_to_a_run_with_start_weights(pair):
    """Pulling toward random initial weights only slows learning: a fresh run turns it off."""
    fresh = _trainer(pair, iterations=2, anchor_decay=0.01)
    assert fresh.train_config.anchor_decay == 0.0
    assert not any(k.endswith("/anchor") for k in fresh.model.optimizer_state())
    tuned = Trainer(preset("usk"), [LabeledImage(pair[0], pair[1])], init_from=fresh.fit(),
                    train=TrainConfig(iterations=2, output_size=32, anchor_decay=0.01),
                    backend="torch-cpu")
    assert tuned.train_config.anchor_decay == 0.01
    assert any(k.endswith("/anchor") for k in tuned.model.optimizer_state())


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_anchor_decay_outside_0_1_is_refused(value):
    with pytest.raises(ValueError, match="anchor_decay"):
        TrainConfig(anchor_decay=value)
