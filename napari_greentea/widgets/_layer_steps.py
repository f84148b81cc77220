"""Layer additions and removals spread over event-loop turns.

Inserting or removing a napari layer runs on the GUI thread and costs
100-300 ms on a software-GL display (vispy visual, layer controls, layer
list, the next paint). Two of them in one turn, e.g. the old prediction's
two layers removed by one click, freeze the window for half a second.
:class:`LayerSteps` runs them in order, one per turn, a short interval
apart, so paints and input get their turn in between.

``QTimer.singleShot(0, ...)`` is no substitute: Qt delivers it as a posted
event in the same pass, before any timer or paint.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any


class LayerSteps:
    """A FIFO of main-thread layer operations, one per event-loop turn."""

    def __init__(self, interval_ms: int = 30) -> None:
        from qtpy.QtCore import QTimer

        self._steps: deque[Callable[[], Any]] = deque()
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._run_next)

    def __len__(self) -> int:
        return len(self._steps)

    def add(self, step: Callable[[], Any], now: bool = True) -> None:
        """Run ``step`` after the pending ones; at once when none ran in the last
        interval and ``now`` (else on a later turn: the caller's turn is busy)."""
        self._steps.append(step)
        if not self._timer.isActive():
            if now:
                self._run_next()
            else:
                self._timer.start()

    def _run_next(self) -> None:
        if self._steps:
            self._steps.popleft()()
            self._timer.start()  # the next step waits at least one interval
