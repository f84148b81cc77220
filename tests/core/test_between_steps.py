"""BetweenSteps and Trainer.call_between_steps: calls run in the training
thread between steps while a run is going, in the caller otherwise, and no
caller is left waiting when the run ends."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from napari_greentea.between_steps import BetweenSteps
from napari_greentea.config import TrainConfig
from napari_greentea.events import IterationDone, TrainingStarted
from napari_greentea.models import preset
from napari_greentea.train import LabeledImage, Trainer


def test_closed_queue_runs_in_the_caller():
    between = BetweenSteps()
    assert between.call(threading.get_ident) == threading.get_ident()


def test_open_queue_runs_in_the_serving_thread_and_close_serves_the_rest():
    between = BetweenSteps()
    between.open()
    results: list[int] = []
    callers = [threading.Thread(target=lambda: results.append(between.call(threading.get_ident)))
               for _ in range(3)]
    for t in callers:
        t.start()
    while len(between._queue) < 2:
        threading.Event().wait(0.01)
    between.serve()  # the first two (or all three)
    between.close()  # whatever is left: nobody waits forever
    for t in callers:
        t.join(5)
    assert not any(t.is_alive() for t in callers)
    assert results == [threading.get_ident()] * 3


def test_owner_thread_call_does_not_deadlock_and_errors_reach_the_caller():
    between = BetweenSteps()
    between.open()
    assert between.call(lambda: 7) == 7  # the serving thread itself: runs at once
    errors: list[BaseException] = []

    def failing_caller():
        try:
            between.call(lambda: 1 / 0)
        except ZeroDivisionError as err:
            errors.append(err)

    t = threading.Thread(target=failing_caller)
    t.start()
    while not between.pending():
        threading.Event().wait(0.01)
    between.serve()
    t.join(5)
    assert len(errors) == 1


@pytest.fixture(scope="module")
def pair():
    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.sample import synthetic_membranes

    image, gt = synthetic_membranes((96, 96), seed=2)
    return LabeledImage(image, scribbles_from_ground_truth(gt, fraction=0.05, seed=2))


def _trainer(pair, iterations):
    return Trainer(preset("usk"), [pair], backend="torch-cpu",
                   train=TrainConfig(iterations=iterations, batch_size=1, output_size=16, seed=1))


def test_trainer_runs_calls_in_its_thread_between_steps(pair):
    trainer = _trainer(pair, 10_000)
    seen: dict[str, object] = {}
    done = threading.Event()

    def preview():
        seen["thread"] = threading.get_ident()
        seen["iteration"] = trainer.iteration
        batch = np.zeros((1, 1, trainer.patch.input_size, trainer.patch.input_size), np.float32)
        seen["prob"] = trainer.predict(batch)
        return "ok"

    def caller():
        seen["result"] = trainer.call_between_steps(preview)
        done.set()

    run = trainer.run()
    assert isinstance(next(run), TrainingStarted)
    training_thread = threading.get_ident()
    asker = threading.Thread(target=caller)
    for event in run:
        if isinstance(event, IterationDone) and event.iteration == 2:
            asker.start()
        if done.is_set():
            trainer.stop()
    asker.join(5)
    assert seen["result"] == "ok"
    assert seen["thread"] == training_thread
    assert 2 <= seen["iteration"] < trainer.iteration
    assert np.isfinite(seen["prob"]).all()


def test_paused_trainer_serves_calls_and_outside_a_run_calls_run_directly(pair):
    trainer = _trainer(pair, 10_000)
    asked: list[int] = []
    caller_result: list[str] = []

    def caller():
        caller_result.append(trainer.call_between_steps(
            lambda: asked.append(threading.get_ident()) or "served"))
        trainer.resume()

    runner_thread: list[int] = []
    asker = threading.Thread(target=caller)

    def consume():
        runner_thread.append(threading.get_ident())
        for event in trainer.run():
            if isinstance(event, IterationDone) and event.iteration == 1:
                trainer.pause()
                asker.start()
            if caller_result:
                trainer.stop()

    runner = threading.Thread(target=consume)
    runner.start()
    runner.join(60)
    asker.join(5)
    assert not runner.is_alive()
    assert caller_result == ["served"]
    assert asked == runner_thread  # served by the paused loop, in the training thread
    assert trainer.call_between_steps(threading.get_ident) == threading.get_ident()
