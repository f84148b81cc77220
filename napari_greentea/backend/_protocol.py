"""The backend interface: small enough for torch and our OpenCL kernels.

A backend turns a :class:`~napari_greentea.graph.Graph` plus a weight mapping
into a :class:`Predictor` (inference) and, for training, a
:class:`TrainableModel`. Weights are plain ``numpy`` arrays keyed
``<layer>.weight`` / ``<layer>.bias`` so checkpoints are backend independent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from ..graph import Graph


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
    """One optimisation step at a time; weights stay on the device.

    ``step(images, loss_fn)`` runs forward, lets ``loss_fn`` turn the logits
    into a scalar loss, back-propagates and applies the optimiser; it returns
    the loss value.
    """

    graph: Graph

    def weights(self) -> dict[str, np.ndarray]: ...

    def optimizer_state(self) -> dict[str, np.ndarray]: ...


@runtime_checkable
class Backend(Protocol):
    """A compute backend (``torch-cpu``, ``torch-cuda``, ``torch-rocm``, ``opencl``...)."""

    name: str
    supports_training: bool

    def device_info(self) -> DeviceInfo: ...

    def build(self, graph: Graph, weights: Mapping[str, np.ndarray]) -> Predictor: ...


def assert_backend(obj: object) -> None:
    """Raise ``TypeError`` listing every :class:`Backend` member ``obj`` lacks."""
    required = ("name", "supports_training", "device_info", "build")
    missing = [m for m in required if not hasattr(obj, m)]
    if missing:
        raise TypeError(f"{type(obj).__name__} is not a Backend; missing: {missing}")
