"""Typed events yielded by the training and prediction generators.

Widgets and the CLI consume these; the core never shows anything itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrainingStarted:
    total_iterations: int
    start_iteration: int = 0


@dataclass(frozen=True)
class IterationDone:
    iteration: int
    loss: float
    lr: float
    labels_per_second: float


@dataclass(frozen=True)
class Validated:
    iteration: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointSaved:
    iteration: int
    path: str


@dataclass(frozen=True)
class TrainingFinished:
    iteration: int
    checkpoint: str | None


@dataclass(frozen=True)
class TrainingStopped:
    iteration: int
    reason: str
    checkpoint: str | None = None


@dataclass(frozen=True)
class PredictionStarted:
    total_blocks: int
    already_done: int
    path: str | None


@dataclass(frozen=True)
class BlockWritten:
    """One output block is in the sink: ``z`` slice (or None) and its extent."""

    index: int
    done: int
    total: int
    z: int | None
    y: tuple[int, int]
    x: tuple[int, int]


@dataclass(frozen=True)
class PredictionFinished:
    path: str | None
    blocks: int
    seconds: float


@dataclass(frozen=True)
class PretrainProgress:
    """Where pretraining stands (:class:`~napari_greentea.pretrain.Pretrainer`).

    ``stage`` is ``"features"`` while the filter responses are computed
    (``iteration`` 0, ``loss`` NaN: nothing trained yet) and ``"training"``
    after; ``loss`` is then the mean of the iterations since the previous
    event. ``budget_s`` is the time budget, 0 when there is none.
    """

    iteration: int
    loss: float
    elapsed_s: float
    budget_s: float
    stage: str


TrainEvent = (
    TrainingStarted
    | IterationDone
    | Validated
    | CheckpointSaved
    | TrainingFinished
    | TrainingStopped
)
PredictEvent = PredictionStarted | BlockWritten | PredictionFinished


def throttle_iterations(events: Iterable[TrainEvent], seconds: float) -> Iterator[TrainEvent]:
    """Pass every event, but :class:`IterationDone` at most once per ``seconds``.

    The newest skipped iteration is flushed before any other event, so the
    last iteration is never lost. Keeps a GUI's event rate bounded when a
    small network runs hundreds of iterations per second.
    """
    last = -float("inf")
    pending: IterationDone | None = None
    for event in events:
        if isinstance(event, IterationDone):
            now = time.monotonic()
            if now - last >= seconds:
                last, pending = now, None
                yield event
            else:
                pending = event
            continue
        if pending is not None:
            yield pending
            pending = None
        yield event
    if pending is not None:
        yield pending

