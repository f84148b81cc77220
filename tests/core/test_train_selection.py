"""Best-weights keeping on held-out strokes, weight averaging and the time budget."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.config import TrainConfig
from napari_greentea.events import Validated
from napari_greentea.models import preset
from napari_greentea.selection import HeldOutStrokes, WeightAverage
from napari_greentea.train import LabeledImage, Trainer, TrainingClock


@pytest.fixture(scope="module")
def pair():
    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.sample import synthetic_membranes

    image, gt = synthetic_membranes((128, 128), seed=2)
    return image, scribbles_from_ground_truth(gt, fraction=0.08, brush=3, seed=2)


def _trainer(pair, labels=None, **train):
    cfg = dict(iterations=60, batch_size=2, output_size=32, lr=3e-3, seed=1,
               holdout=0.2, validate_every=20)
    cfg.update(train)
    return Trainer(preset("u", depth=1, base_fmaps=8),
                   [LabeledImage(pair[0], pair[1] if labels is None else labels)],
                   train=TrainConfig(**cfg), backend="torch-cpu")


def _held_out_score(trainer, weights):
    return trainer.held_out.score(trainer.backend.build(trainer.graph, weights))


def test_held_out_strokes_are_not_trained_on(pair):
    trainer = _trainer(pair)
    held = trainer.held_out
    assert held is not None and held.pixels > 0
    trained = sum(int((lab > 0).sum()) for lab in trainer._labels)
    assert trained + held.pixels == int((pair[1] > 0).sum())


def test_a_run_whose_validation_worsens_keeps_the_earlier_weights(pair):
    trainer = _trainer(pair)
    first = [e for e in trainer.run() if isinstance(e, Validated)]
    assert [e.iteration for e in first] == [20, 40, 60]
    good_score, good_iteration = trainer.held_out.best_score, trainer.held_out.best_iteration
    assert good_score > 0.8
    # the user "paints" the classes the wrong way round and trains on: held-out accuracy drops
    swapped = np.where(pair[1] > 0, 3 - pair[1], 0)
    trainer._labels = [np.where(lab > 0, 3 - lab, 0) for lab in trainer._labels]
    trainer.sampler = trainer._make_sampler()
    trainer.train_config = trainer.train_config.replace(iterations=200)
    later = [e.metrics for e in trainer.run() if isinstance(e, Validated)]
    assert later[-1]["held_out_accuracy"] < good_score - 0.2
    assert trainer.held_out.best_iteration <= good_iteration + 20
    kept = trainer.checkpoint().weights
    current = trainer.model.weights()
    assert not all(np.array_equal(kept[k], current[k]) for k in kept)
    assert _held_out_score(trainer, kept) >= trainer.held_out.best_score - 0.02
    # preview/Predict use the kept weights too
    x = trainer.held_out.windows[:2]
    np.testing.assert_allclose(trainer.predict(x),
                               trainer.backend.build(trainer.graph, kept)(x), rtol=1e-6)
    assert swapped.any()


def test_without_holdout_nothing_is_held_back(pair):
    trainer = _trainer(pair, holdout=0.0, validate_every=0)
    assert trainer.held_out is None
    assert sum(int((lab > 0).sum()) for lab in trainer._labels) == int((pair[1] > 0).sum())


def test_weight_average_matches_the_recurrence():
    rng = np.random.default_rng(0)
    steps = [{"w": rng.normal(size=3).astype(np.float32)} for _ in range(30)]
    avg = WeightAverage(0.9, every=2)
    expected = None
    for n, w in enumerate(steps):
        avg.update(w)
        if expected is None:
            expected = w["w"].astype(np.float64)
        else:
            d = min(0.9**2, (1 + n) / (10 + n))  # n earlier updates
            expected = d * expected + (1 - d) * w["w"]
    np.testing.assert_allclose(avg.weights["w"], expected, rtol=1e-5)
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(1.0)


def test_averaged_run_predicts_with_the_average(pair):
    trainer = _trainer(pair, holdout=0.0, validate_every=0, average=0.9, iterations=40)
    trainer.fit()
    assert trainer.average.updates == 4
    served = trainer.checkpoint().weights
    for key, value in trainer.average.weights.items():
        np.testing.assert_array_equal(served[key], value)


def _offer_all(held, scores):
    """Offer weights ``{"w": [i]}`` with each score in turn; what each offer returned."""
    return [held.offer(10 * (i + 1), s, lambda i=i: {"w": np.full(1, float(i))})
            for i, s in enumerate(scores)]


def _held(**kw):
    return HeldOutStrokes(np.zeros((1, 1, 4, 4), np.float32), np.ones((1, 2, 2), np.int64), **kw)


def test_held_out_keeps_the_latest_weights_while_the_recent_mean_holds():
    held = _held(tolerance=0.005, window=3)
    # means of the last 3: .90, .905, .903, .9033 (best .905), .8933, .8867
    assert _offer_all(held, [0.90, 0.91, 0.90, 0.90, 0.88, 0.88]) == [
        True, True, True, True, False, False]
    assert held.best_iteration == 40 and held.best_weights["w"][0] == 3.0
    assert held.best_score == 0.91
    # a recovery brings the recent mean back: later weights are served again
    assert _offer_all(held, [0.92, 0.93, 0.93])[-1]
    assert held.best_weights["w"][0] == 2.0  # the last offer of the second call


def test_a_slow_decline_inside_single_score_tolerance_is_not_served():
    """Scores sliding 0.004 per validation stay within 0.02 of the best for five
    validations; the recent mean leaves the 0.005 tolerance after three."""
    held = _held()  # the defaults: tolerance 0.005, window 5
    scores = [0.96, 0.96, 0.96, 0.96, 0.96] + [0.96 - 0.004 * k for k in range(1, 9)]
    kept = _offer_all(held, scores)
    assert kept[:5] == [True] * 5 and not any(kept[8:])
    assert held.best_iteration <= 80
    with pytest.raises(ValueError, match="window"):
        _held(window=0)


def test_window_one_is_the_single_score_rule():
    held = _held(tolerance=0.02, window=1)
    assert _offer_all(held, [0.9, 0.8, 0.89, 0.95, 0.92]) == [True, False, True, True, False]
    assert held.best_score == 0.95 and held.best_weights["w"][0] == 3.0


def test_training_clock_excludes_pauses(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("napari_greentea.train.time.perf_counter", lambda: now[0])
    clock = TrainingClock(5.0)
    now[0] += 3.0
    with clock.paused():
        now[0] += 50.0
    assert clock.elapsed() == pytest.approx(3.0) and not clock.expired()
    now[0] += 2.0
    assert clock.expired()
    assert not TrainingClock(0.0).expired()


def test_time_budget_stops_training(pair):
    trainer = _trainer(pair, holdout=0.0, validate_every=0, iterations=10**9, seconds=1.0)
    trainer.fit()
    assert 0 < trainer.iteration < 10**9
