"""Mean squared error between the logits and per-pixel float targets.

Self-supervised pretraining (:mod:`napari_greentea.pretrain`) regresses
standardised filter responses with it. It is no choice for stroke
training, so it is not in the loss registry; the pretrainer hands it to a
backend as an object. The numpy :meth:`FeatureRegression.value_and_grad`
lets the OpenCL backend train it without torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Loss, LossBatch


def _targets(batch: LossBatch, shape: tuple[int, ...]) -> np.ndarray:
    if batch.regression is None:
        raise ValueError("FeatureRegression needs a LossBatch with regression targets")
    if tuple(batch.regression.shape) != tuple(shape):
        raise ValueError(f"regression targets {tuple(batch.regression.shape)} do not match "
                         f"the network output {tuple(shape)}")
    return batch.regression


class FeatureRegression(Loss):
    """``mean((logits - batch.regression) ** 2)`` over every element."""

    def torch(self, logits: Any, batch: LossBatch) -> Any:
        import torch

        target = torch.as_tensor(_targets(batch, tuple(logits.shape)), device=logits.device)
        return torch.mean((logits - target.to(logits.dtype)) ** 2)

    def value_and_grad(self, logits: np.ndarray, batch: LossBatch) -> tuple[float, np.ndarray]:
        """The mean square and its gradient ``2 (logits - target) / size``."""
        logits = np.asarray(logits, np.float32)
        diff = logits.astype(np.float64) - _targets(batch, logits.shape)
        return float(np.mean(diff**2)), (2.0 * diff / diff.size).astype(np.float32)
