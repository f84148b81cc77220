"""Work handed to the training thread and run there between two steps.

A prediction beside training (the live preview) in a second thread
oversubscribes the CPU: torch's OpenMP threads wait for each other at the
end of every parallel region, so while the preview holds a core, every
training step waits for its descheduled thread. On the 2-core test machine a
preview of a 512² slice every second cut training from 9.6 to 0.6-3.3
iterations/s. Run between steps instead, the preview gets the training's
threads and training only loses the preview's own time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")

__all__ = ["BetweenSteps"]


class BetweenSteps:
    """A queue of calls that the training loop runs between its steps.

    While the loop is open (:meth:`open` … :meth:`close`), :meth:`call`
    queues the function and waits for the loop to run it (:meth:`serve`);
    otherwise, or when called from the training thread itself, it runs the
    function at once in the caller. :meth:`close` serves what is still
    queued, so no caller waits for a loop that has ended.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[tuple[Callable[[], object], Future]] = []
        self._owner: int | None = None

    def open(self) -> None:
        """The calling thread's loop serves calls from now on."""
        with self._lock:
            self._owner = threading.get_ident()

    def close(self) -> None:
        """Stop queueing; run what is queued (in the closing thread)."""
        with self._lock:
            self._owner = None
            queued, self._queue = self._queue, []
        _run_all(queued)

    def pending(self) -> bool:
        return bool(self._queue)

    def serve(self) -> None:
        """Run every queued call (from the training loop, between steps)."""
        with self._lock:
            queued, self._queue = self._queue, []
        _run_all(queued)

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()``, run between two steps of an open loop, else right here."""
        future: Future = Future()
        with self._lock:
            queued = self._owner is not None and self._owner != threading.get_ident()
            if queued:
                self._queue.append((fn, future))
        if not queued:
            return fn()
        return future.result()


def _run_all(queued: list[tuple[Callable[[], object], Future]]) -> None:
    for fn, future in queued:
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(fn())
        except BaseException as err:  # noqa: BLE001 - handed to the waiting caller
            future.set_exception(err)
