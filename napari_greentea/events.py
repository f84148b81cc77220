"""Typed events yielded by the training and prediction generators.

Widgets and the CLI consume these; the core never shows anything itself.
"""

from __future__ import annotations

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


TrainEvent = (
    TrainingStarted
    | IterationDone
    | Validated
    | CheckpointSaved
    | TrainingFinished
    | TrainingStopped
)
PredictEvent = PredictionStarted | BlockWritten | PredictionFinished
