"""View-first streaming of a :class:`~napari_greentea.predict.PredictionJob`.

Pure numpy/threading (no Qt): the Predict widget runs :func:`stream_blocks`
in a worker thread and moves :meth:`BlockQueue.set_focus` with the camera,
so the next block predicted is always the pending one nearest the view.

The block loop itself is the core's ``PredictionJob.run``, which consumes
the queue lazily, so the order follows the camera while it runs.
:func:`prepare_and_stream` also builds the job in the worker: opening or
creating the store, sampling normalisation statistics and hashing the input
read the image and take seconds on a large one, too long for the GUI thread.
It computes the block in view before the GUI creates the layers and the
others only after, so the CPU is free while the GUI thread works.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..events import BlockWritten
from ..predict import z_index

#: z distance counts like this many pixels, so the visible slice comes first.
Z_WEIGHT = 1e6


class BlockQueue:
    """Thread-safe set of pending blocks, popped nearest-to-focus first."""

    def __init__(self, blocks: list[Any]) -> None:
        self.blocks = list(blocks)
        self._centres = np.array(
            [(-1 if b.z is None else b.z, sum(b.y) / 2, sum(b.x) / 2) for b in self.blocks],
            float,
        ).reshape(-1, 3)
        self._pending = np.ones(len(self.blocks), bool)
        self._focus = np.zeros(3)
        self._lock = threading.Lock()
        self.cancelled = False

    def __len__(self) -> int:
        return int(self._pending.sum())

    def __iter__(self) -> Iterator[Any]:
        while (blk := self.pop()) is not None:
            yield blk

    def set_focus(self, z: float | None, y: float, x: float) -> None:
        with self._lock:
            self._focus = np.array([-1 if z is None else z, y, x], float)

    def pop(self) -> Any:
        """The pending block nearest the focus, or None when empty/cancelled."""
        with self._lock:
            if self.cancelled or not self._pending.any():
                return None
            d = self._centres - self._focus
            dist = Z_WEIGHT * np.abs(d[:, 0]) + np.hypot(d[:, 1], d[:, 2])
            dist[~self._pending] = np.inf
            i = int(np.argmin(dist))
            self._pending[i] = False
            return self.blocks[i]


class Pyramid:
    """Coarse in-memory copies of the probabilities, filled block by block.

    A single-scale layer of a huge image makes napari read the whole plane
    on every refresh; with these levels it reads only a screen's worth.
    ``written`` marks the blocks with values (those of ``done`` at the start,
    then every :meth:`update`), so the display can skip reading the store
    where nothing has been computed yet.
    """

    def __init__(self, prob: Any, block: int, max_edge: int = 2048, done: Any = None) -> None:
        self.levels: list[np.ndarray] = []
        self.steps: list[int] = []
        self.block = block
        shape = prob.shape
        grid = (*shape[1:-2], -(-shape[-2] // block), -(-shape[-1] // block))
        self.written = (np.zeros(grid, bool) if done is None
                        else np.asarray(done[...]).astype(bool).reshape(grid))
        step = 4
        while max(shape[-2:]) // (step // 4) > max_edge and block % step == 0:
            coarse = (*shape[:-2], -(-shape[-2] // step), -(-shape[-1] // step))
            # zeros are calloc'ed lazily: no main-thread cost for huge images (the
            # full-resolution level shows NaN = not computed yet; overviews show 0)
            self.levels.append(np.zeros(coarse, np.float32))
            self.steps.append(step)
            step *= 4

    def update(self, z: int | None, y0: int, x0: int, values: np.ndarray) -> None:
        zsel = z_index(z)
        self.written[(*zsel, y0 // self.block, x0 // self.block)] = True
        for step, level in zip(self.steps, self.levels, strict=True):
            sub = values[:, ::step, ::step]
            ys, xs = y0 // step, x0 // step
            level[(slice(None), *zsel, slice(ys, ys + sub.shape[1]),
                   slice(xs, xs + sub.shape[2]))] = sub


def stream_blocks(job: Any, queue: BlockQueue, pyramid: Pyramid | None = None,
                  ) -> Iterator[BlockWritten]:
    """Predict blocks in the order ``queue`` hands them out; yield one event each."""
    for event in job.run(queue):
        if not isinstance(event, BlockWritten):
            continue
        if pyramid is not None:
            zsel = z_index(event.z)
            written = job.prob[(slice(None), *zsel, slice(*event.y), slice(*event.x))]
            pyramid.update(event.z, event.y[0], event.x[0], np.asarray(written, np.float32))
        yield event


@dataclass(frozen=True)
class Prepared:
    """The first event of :func:`prepare_and_stream`: what the layers show."""

    job: Any
    queue: BlockQueue
    pyramid: Pyramid


def prepare_and_stream(make_job: Callable[[], Any],
                       focus: tuple[float | None, float, float] | None = None,
                       shown: threading.Event | None = None, wait_s: float = 5.0,
                       stop: threading.Event | None = None,
                       ) -> Iterator[Prepared | BlockWritten]:
    """Worker thread: build the job, compute the block in view, yield :class:`Prepared`,
    wait until the GUI has shown its layers (``shown``), then stream the rest.

    ``focus`` (z, y, x) is where the camera was at the click, so the first
    block computed is one the user sees. Creating the layers costs the GUI
    thread 2-3 times longer while prediction keeps every core busy, so the
    blocks after the first wait for ``shown`` (at most ``wait_s``); the
    first one is already in the store when the layers appear. ``stop`` set
    while the job is being built ends the worker before any block.
    """
    job = make_job()
    if stop is not None and stop.is_set():
        return
    queue = BlockQueue(job.blocks)
    if focus is not None:
        queue.set_focus(*focus)
    # reading ``done`` opens one tiny chunk per block (a second for 16384^2): only on resume
    pyramid = Pyramid(job.prob, job.geometry.block, done=job.done if job.reused else None)
    events = stream_blocks(job, queue, pyramid)
    first = next(events, None)
    yield Prepared(job, queue, pyramid)
    if shown is not None:
        shown.wait(wait_s)
    if first is not None:
        yield first
    yield from events
