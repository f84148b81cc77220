"""The adaptive thread choice picks the faster count and follows a change of load."""

from __future__ import annotations

from napari_greentea.backend.torch._threads import ThreadTuner


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(tuner: ThreadTuner, clock: FakeClock, steps: int, seconds: dict[int, float]) -> list[int]:
    used = []
    for _ in range(steps):
        n = tuner.threads()
        clock.now += seconds[n]
        tuner.step_done()
        used.append(n)
    return used


def test_tuner_trains_with_the_faster_count_and_reprobes():
    clock = FakeClock()
    tuner = ThreadTuner((2, 1), window=4, exploit=50, clock=clock)
    busy = {2: 0.15, 1: 0.08}  # another thread holds a core: 1 thread is faster
    used = _run(tuner, clock, 10 + 50, busy)
    assert set(used[:10]) == {2, 1}  # the first probe tries both
    assert used[10:] == [1] * 50 and tuner.chosen == 1
    idle = {2: 0.04, 1: 0.08}  # the other load went away
    used = _run(tuner, clock, 10 + 50, idle)
    assert tuner.chosen == 2 and used[10:] == [2] * 50


def test_the_first_step_after_a_switch_is_not_timed():
    clock = FakeClock()
    tuner = ThreadTuner((2, 1), window=3, exploit=10, clock=clock)
    slow_first = iter([5.0, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2])  # a switch pays once
    for _ in range(8):
        tuner.threads()
        clock.now += next(slow_first)
        tuner.step_done()
    assert tuner.threads() == 2 and tuner.chosen == 2  # 2's switch step (5 s) not counted


def test_single_core_has_nothing_to_choose():
    clock = FakeClock()
    tuner = ThreadTuner((1, 1), clock=clock)
    assert _run(tuner, clock, 5, {1: 0.1}) == [1] * 5
