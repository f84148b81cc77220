"""The backend interface: everything the trainer and the predictor call.

A backend turns a :class:`~napari_greentea.graph.Graph` plus a weight mapping
into a :class:`Predictor` (inference) and a :class:`TrainableModel`
(training). Weights are plain ``numpy`` arrays keyed ``<layer>.weight`` /
``<layer>.bias`` and optimiser state is keyed ``<layer>.weight/exp_avg``,
``/exp_avg_sq``, ``/momentum`` plus ``step`` (torch's names), so
checkpoints move between backends. With ``TrainConfig.anchor_decay`` > 0
every optimiser step is followed by ``w += anchor_decay * (anchor - w)``
(torch's ``lerp_``); the anchor is the weights the trainable was built
with, or ``<layer>.weight/anchor`` of the optimiser state it was given,
and the exported state carries it, so a resumed run pulls toward the
same weights. ``build(..., bf16=True)`` asks for
bfloat16 inference (probabilities still float32); a backend that cannot
do it raises ``ValueError`` rather than silently computing in float32.
``tests/backend/test_conformance.py`` is the suite a new backend has to pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from ..config import TrainConfig
    from ..graph import Graph
    from ..losses import Loss, LossBatch


@dataclass(frozen=True)
class DeviceInfo:
    """What a backend runs on, for ``greentea info`` and the device picker."""

    backend: str
    name: str
    type: str
    memory_bytes: int | None = None
    driver: str = ""


@runtime_checkable
class Predictor(Protocol):
    """``__call__(batch)``: ``N,C,Y,X`` float32 in, class probabilities out."""

    graph: Graph

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class TrainableModel(Protocol):
    """A network and its optimiser on one device; weights stay on the device."""

    graph: Graph

    def train_step(self, images: np.ndarray, batch: LossBatch, lr: float) -> float:
        """Forward ``images`` (N,C,Hin,Win) to logits, apply the loss to them and
        ``batch`` (aligned to the output), back-propagate, take one optimiser
        step at learning rate ``lr``; return the loss value."""
        ...

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities with the current weights (no optimiser step)."""
        ...

    def weights(self) -> dict[str, np.ndarray]: ...

    def optimizer_state(self) -> dict[str, np.ndarray]: ...

    def load_optimizer_state(self, state: Mapping[str, np.ndarray]) -> None: ...


@runtime_checkable
class Backend(Protocol):
    """A compute backend (``torch-cpu``, ``torch-cuda``, ``torch-rocm``, ``opencl``...)."""

    name: str
    supports_training: bool

    def device_info(self) -> DeviceInfo: ...

    def build(
        self, graph: Graph, weights: Mapping[str, np.ndarray], *, bf16: bool = False
    ) -> Predictor:
        """A predictor of ``graph``; ``bf16``: bfloat16 compute, float32 output, or
        ``ValueError`` where the backend has no bfloat16."""
        ...

    def trainable(
        self,
        graph: Graph,
        weights: Mapping[str, np.ndarray],
        *,
        train: TrainConfig,
        loss: Loss,
        optimizer_state: Mapping[str, np.ndarray] | None = None,
    ) -> TrainableModel: ...


_BACKEND_MEMBERS = ("name", "supports_training", "device_info", "build", "trainable")


def bf16_refusal(backend: str) -> ValueError:
    """The error for bfloat16 asked of a backend that computes in float32 only."""
    return ValueError(f"bf16 (bfloat16 autocast, --bf16) runs on a torch backend; {backend} "
                      "computes in float32 only: drop --bf16 or choose a torch backend")


def assert_backend(obj: object) -> None:
    """Raise ``TypeError`` listing every :class:`Backend` member ``obj`` lacks."""
    missing = [m for m in _BACKEND_MEMBERS if not hasattr(obj, m)]
    if missing:
        raise TypeError(f"{type(obj).__name__} is not a Backend; missing: {missing}")
