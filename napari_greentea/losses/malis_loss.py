"""MALIS as a training loss: affinities from the cell probability of a softmax.

The maximin computation lives in :mod:`.malis` (numba), imported on first
use so that the registry stays cheap to import. There is no device kernel:
the maximum spanning tree is host code, so backends use the host
:meth:`Loss.value_and_grad`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..sample import CELL
from ._base import Loss, LossBatch

if TYPE_CHECKING:
    from ..config import LossConfig


@dataclass(frozen=True)
class MalisLoss(Loss):
    """Constrained MALIS on the softmax probability of the cell class."""

    margin: float = 0.3
    threshold: float = 0.5
    variant: str = "hinge"
    constrained: bool = True

    @classmethod
    def from_config(cls, config: LossConfig) -> MalisLoss:
        return cls(
            margin=config.malis_margin,
            threshold=config.malis_threshold,
            variant=config.malis_variant,
            constrained=config.malis_constrained,
        )

    def torch(self, logits: Any, batch: LossBatch) -> Any:
        import torch

        from .malis import malis_loss_torch

        prob = torch.softmax(logits, 1)
        return malis_loss_torch(
            prob[:, CELL - 1],
            batch.target,
            margin=self.margin,
            threshold=self.threshold,
            loss=self.variant,
            constrained=self.constrained,
        )
