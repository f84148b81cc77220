"""Ctrl-C and SIGTERM as a request to stop cleanly, not as an exception anywhere.

Inside :func:`stop_requests` the first SIGINT or SIGTERM only sets a flag
and calls the registered callbacks: the training loop then saves a
checkpoint, the prediction loop finishes the block it is writing. A second
signal raises ``KeyboardInterrupt`` for a user who does not want to wait.
The ``greentea`` command holds one for its whole run, so that a signal
during start-up (imports, reading the image) is a request as well; a
``KeyboardInterrupt`` raised inside a library's start-up code would make
Python exit by SIGINT even after it was caught.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: The exit status of a run stopped by a signal (128 + SIGINT), as shells expect.
EXIT_INTERRUPTED = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set once a stop was asked for; callbacks registered later run at once."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], Any]] = []

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()
        for callback in list(self._callbacks):
            callback()

    def on_stop(self, callback: Callable[[], Any]) -> None:
        self._callbacks.append(callback)
        if self.is_set():
            callback()


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """Yield a :class:`StopRequest` set by the first SIGINT/SIGTERM while inside.

    Only the main thread can install handlers; elsewhere the request is
    returned unconnected and signals keep their usual meaning.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
