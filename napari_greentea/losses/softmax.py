"""Softmax cross-entropy on partially labeled label images.

Label convention: 0 = unlabeled (ignored), 1..K = classes. This matches Caffe's
``SoftmaxWithLoss`` with ``ignore_label`` and ``normalize: true`` as Greentea
trained with it: the loss is the mean of ``-log p`` over the labeled pixels
only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import Loss, LossBatch

if TYPE_CHECKING:
    from ..config import LossConfig

__all__ = [
    "SoftmaxCrossEntropy",
    "cross_entropy_value_and_grad",
    "inverse_frequency_weights",
    "softmax_cross_entropy",
]


class SoftmaxCrossEntropy(Loss):
    """Class-weighted softmax cross-entropy over the labeled pixels.

    The OpenCL backend runs it as the ``softmax_xent`` kernel.
    """

    device_kernel = "softmax_xent"

    @classmethod
    def from_config(cls, config: LossConfig) -> SoftmaxCrossEntropy:
        return cls()

    def torch(self, logits: Any, batch: LossBatch) -> Any:
        return softmax_cross_entropy(logits, batch.target, class_weights=batch.class_weights)


def softmax_cross_entropy(logits, labels, class_weights=None):
    """Mean cross-entropy over labeled pixels.

    Parameters
    ----------
    logits : torch.Tensor, shape (N, K, ...)
        Unnormalised class scores; channel ``k`` scores label ``k + 1``.
    labels : torch.Tensor of int, shape (N, ...)
        0 = unlabeled (ignored), 1..K = class.
    class_weights : sequence or torch.Tensor of length K, optional
        Per-class weights. The result is then the *weighted* mean
        ``sum w_y * (-log p_y) / sum w_y`` (PyTorch semantics), so the scale
        of the weights does not change the loss magnitude.

    Returns
    -------
    torch.Tensor
        Scalar loss. When no pixel is labeled it is an exact 0 that still
        depends on ``logits`` (so ``backward`` works and yields zeros) instead
        of the NaN a plain mean would give.
    """
    import torch
    import torch.nn.functional as F

    labels = torch.as_tensor(labels, device=logits.device).long()
    if labels.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(
            f"labels shape {tuple(labels.shape)} does not match logits shape "
            f"{tuple(logits.shape)} without the class axis"
        )
    num_classes = logits.shape[1]
    if labels.numel() and (labels.min() < 0 or labels.max() > num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes}")
    weight = None
    if class_weights is not None:
        weight = torch.as_tensor(class_weights, dtype=logits.dtype, device=logits.device)
        if weight.shape != (num_classes,):
            raise ValueError(f"class_weights must have length {num_classes}")
    if not bool((labels > 0).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits, labels - 1, weight=weight, ignore_index=-1)


def cross_entropy_value_and_grad(
    prob: np.ndarray, labels: np.ndarray, class_weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """:func:`softmax_cross_entropy` and its dL/dlogits in numpy, from the probabilities.

    ``prob`` (N,K,...) softmax output, ``labels`` (N,...) with 0 = ignored. The
    gradient of the weighted mean ``sum w_y (-log p_y) / sum w_y`` with
    respect to the logits is ``w_y (p - onehot(y)) / sum w_y``.
    """
    prob = np.asarray(prob, np.float64)
    labels = np.asarray(labels)
    num_classes = prob.shape[1]
    grad = np.zeros_like(prob)
    mask = labels > 0
    if not mask.any():
        return 0.0, grad
    target = np.where(mask, labels - 1, 0)
    weights = np.ones(num_classes) if class_weights is None else np.asarray(class_weights)
    w = np.where(mask, weights[target], 0.0)
    p_true = np.take_along_axis(prob, target[:, None], 1)[:, 0]
    total = w.sum()
    value = float((w * -np.log(np.maximum(p_true, 1e-30))).sum() / total)
    onehot = np.moveaxis(np.eye(num_classes)[target], -1, 1)
    grad = w[:, None] * (prob - onehot) / total
    return value, grad


def inverse_frequency_weights(
    label_images: np.ndarray | Iterable[np.ndarray],
    num_classes: int,
    clip: tuple[float, float] = (0.1, 10.0),
) -> np.ndarray:
    """Class weights ``1 / (K f_k)`` from labeled-pixel frequencies, clipped.

    Parameters
    ----------
    label_images : ndarray or iterable of ndarray
        Label images in the package convention (0 ignored).
    num_classes : int
        K; classes are 1..K.
    clip : (float, float)
        Bounds applied after normalisation. Balanced classes get weight 1; a
        class absent from the data gets the upper bound (its weight is moot
        for the loss, but a finite value keeps the tensor well defined).

    Returns
    -------
    ndarray of float32, shape (K,)
    """
    if isinstance(label_images, np.ndarray):
        label_images = [label_images]
    counts = np.zeros(num_classes + 1, dtype=np.int64)
    for lab in label_images:
        lab = np.asarray(lab)
        if lab.size and (lab.min() < 0 or lab.max() > num_classes):
            raise ValueError(f"labels must lie in 0..{num_classes}")
        counts += np.bincount(lab.ravel().astype(np.int64), minlength=num_classes + 1)
    counts = counts[1:].astype(np.float64)
    if counts.sum() == 0:
        raise ValueError("no labeled pixels to compute class frequencies from")
    freqs = counts / counts.sum()
    with np.errstate(divide="ignore"):
        weights = np.where(freqs > 0, 1.0 / (num_classes * freqs), np.inf)
    return np.clip(weights, clip[0], clip[1]).astype(np.float32)
