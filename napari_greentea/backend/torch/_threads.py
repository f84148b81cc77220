"""How many CPU threads torch trains with, including an adaptive choice for shared CPUs.

torch's OpenMP threads wait for each other at the end of every parallel
region, so when another busy thread (napari's GUI and renderer) takes one
of the cores, a step on all cores waits for the descheduled one: on a
2-core CPU with one core busy, 2 threads ran 6.7 iterations/s and 1 thread
12.6, while on an idle CPU 2 threads ran 23.0 and 1 thread 12.5
(``benchmarks/results/train_speed.md``). Neither count is right all the
time, so :class:`ThreadTuner` measures: it times a few steps with each
candidate count, trains with the faster one, and measures again every few
hundred steps, since the other load comes and goes.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ThreadTuner:
    """Alternates between probing thread counts and training with the fastest one.

    A probe runs ``window`` timed steps per candidate (after one untimed
    step, which pays for the switch); then ``exploit`` steps use the
    candidate with the shortest median step; then it probes again.
    """

    def __init__(self, candidates: tuple[int, ...], window: int = 8, exploit: int = 300,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.candidates = tuple(dict.fromkeys(c for c in candidates if c >= 1)) or (1,)
        self.window, self.exploit, self._clock = window, exploit, clock
        self.times: dict[int, list[float]] = {c: [] for c in self.candidates}
        self.chosen = self.candidates[0]
        self._plan: list[tuple[int, bool]] = []
        self._current, self._timed, self._tic = self.chosen, False, 0.0

    @classmethod
    def for_this_cpu(cls) -> ThreadTuner:
        cores = usable_cores()
        return cls((cores, max(1, cores - 1)))

    def _probe(self) -> list[tuple[int, bool]]:
        if len(self.candidates) == 1:
            return [(self.chosen, False)]
        plan: list[tuple[int, bool]] = []
        for c in self.candidates:
            plan += [(c, False)] + [(c, True)] * self.window
        return plan

    def threads(self) -> int:
        """The thread count for the next step (then call :meth:`step_done`)."""
        if not self._plan:
            if all(self.times.values()):
                self.chosen = min(self.candidates,
                                  key=lambda c: statistics.median(self.times[c]))
                self.times = {c: [] for c in self.candidates}
                self._plan = [(self.chosen, False)] * self.exploit
            self._plan += self._probe()
        self._current, self._timed = self._plan.pop(0)
        self._tic = self._clock()
        return self._current

    def step_done(self) -> None:
        if self._timed:
            self.times[self._current].append(self._clock() - self._tic)


def cap_threads_here(threads: int) -> None:
    """At most ``threads`` torch CPU threads for the work of the calling thread.

    A no-op when torch is not imported yet (nothing of torch runs here then).
    """
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() > threads:
        torch.set_num_threads(max(1, threads))
