"""A local CRF loss on all pixels: neighbours that look alike should agree.

Strokes label about 2 % of the pixels; the softmax loss says nothing about
the rest, so a network fits the strokes within a few hundred iterations and
then drifts. This term (the gated CRF loss of Obukhov et al. 2019, the
dense-CRF regularised loss of Tang et al. 2018 restricted to a window)
charges every pair of pixels ``i, j`` closer than ``radius`` for disagreeing,
weighted by a bilateral kernel on position and intensity::

    k_ij = exp(-|x_i - x_j|^2 / (2 sigma_xy^2) - (I_i - I_j)^2 / (2 sigma_i^2))
    L    = sum_{i != j} k_ij (1 - p_i . p_j) / (n * sum_d exp(-|d|^2 / (2 sigma_xy^2)))

with ``p`` the class probabilities, ``n`` the number of output pixels and the
sum over ordered pairs inside the patch. The normalisation by the spatial
kernel mass keeps ``L`` in [0, 1] whatever the radius, so its weight means
the same for every window. Pairs are enumerated as shifts over the window,
so memory stays O(n).

Two implementations: :func:`crf_loss_torch` (differentiable) and
:func:`crf_value_and_grad` (numpy, value and dL/dp), which backends without
torch autograd use and which the tests compare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import Loss, LossBatch
from .softmax import cross_entropy_value_and_grad, softmax_cross_entropy

if TYPE_CHECKING:
    from ..config import LossConfig


def half_window(radius: int) -> list[tuple[int, int]]:
    """Offsets ``(dy, dx)`` with ``0 < |d| <= radius``, one of each +-pair."""
    if radius < 1:
        raise ValueError(f"the CRF window radius must be >= 1, got {radius}")
    return [
        (dy, dx)
        for dy in range(radius + 1)
        for dx in range(-radius, radius + 1)
        if (dy > 0 or dx > 0) and dy * dy + dx * dx <= radius * radius
    ]


def kernel_mass(radius: int, sigma_xy: float) -> float:
    """``sum_d exp(-|d|^2 / (2 sigma_xy^2))`` over all non-zero offsets of the window."""
    return 2.0 * sum(
        float(np.exp(-(dy * dy + dx * dx) / (2.0 * sigma_xy**2))) for dy, dx in half_window(radius)
    )


def _views(dy: int, dx: int, h: int, w: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Index pairs (a, b) so that ``b`` is ``a`` shifted by ``(dy, dx)``."""
    a = (slice(0, h - dy), slice(max(0, -dx), w - max(0, dx)))
    b = (slice(dy, h), slice(max(0, dx), w + min(0, dx)))
    return a, b


def _check(prob_shape: tuple[int, ...], image_shape: tuple[int, ...]) -> None:
    if len(prob_shape) != 4 or len(image_shape) != 4:
        raise ValueError(
            f"expected prob (N,K,Y,X) and image (N,C,Y,X), got {prob_shape} and {image_shape}"
        )
    if prob_shape[0] != image_shape[0] or prob_shape[2:] != image_shape[2:]:
        raise ValueError(
            f"image {image_shape} is not on the output grid of prob {prob_shape}; crop the "
            "network input to the output region first"
        )


def crf_loss_torch(
    prob: Any, image: Any, *, radius: int = 5, sigma_xy: float = 3.0, sigma_i: float = 0.15
) -> Any:
    """``L`` for torch tensors ``prob`` (N,K,Y,X) and ``image`` (N,C,Y,X)."""
    import torch

    _check(tuple(prob.shape), tuple(image.shape))
    image = torch.as_tensor(image, dtype=prob.dtype, device=prob.device)
    h, w = prob.shape[-2:]
    total = prob.new_zeros(())
    for dy, dx in half_window(radius):
        a, b = _views(dy, dx, h, w)
        diff = ((image[(..., *a)] - image[(..., *b)]) ** 2).sum(1)
        k = torch.exp(-(dy * dy + dx * dx) / (2.0 * sigma_xy**2) - diff / (2.0 * sigma_i**2))
        agree = (prob[(..., *a)] * prob[(..., *b)]).sum(1)
        total = total + (k * (1.0 - agree)).sum()
    return 2.0 * total / (prob.shape[0] * h * w * kernel_mass(radius, sigma_xy))


def crf_value_and_grad(
    prob: np.ndarray,
    image: np.ndarray,
    *,
    radius: int = 5,
    sigma_xy: float = 3.0,
    sigma_i: float = 0.15,
) -> tuple[float, np.ndarray]:
    """``L`` and ``dL/dprob`` in numpy (float64 accumulation)."""
    prob = np.asarray(prob, np.float64)
    image = np.asarray(image, np.float64)
    _check(prob.shape, image.shape)
    h, w = prob.shape[-2:]
    scale = 2.0 / (prob.shape[0] * h * w * kernel_mass(radius, sigma_xy))
    value = 0.0
    grad = np.zeros_like(prob)
    for dy, dx in half_window(radius):
        a, b = _views(dy, dx, h, w)
        diff = ((image[(..., *a)] - image[(..., *b)]) ** 2).sum(1)
        k = np.exp(-(dy * dy + dx * dx) / (2.0 * sigma_xy**2) - diff / (2.0 * sigma_i**2))
        pa, pb = prob[(..., *a)], prob[(..., *b)]
        value += float((k * (1.0 - (pa * pb).sum(1))).sum())
        grad[(..., *a)] -= k[:, None] * pb
        grad[(..., *b)] -= k[:, None] * pa
    return value * scale, grad * scale


def softmax_backward(prob: np.ndarray, grad_prob: np.ndarray) -> np.ndarray:
    """dL/dlogits from dL/dprob through a softmax over axis 1."""
    return prob * (grad_prob - (prob * grad_prob).sum(1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over axis 1 in float64."""
    z = np.asarray(logits, np.float64)
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


class SoftmaxCRFLoss(Loss):
    """Softmax cross-entropy on the strokes plus ``weight`` x the local CRF term.

    The CRF term regularises the unlabeled pixels with the image (the
    :class:`LossBatch` carries the input cropped to the output grid). torch
    backends differentiate :meth:`torch`; others call the numpy
    :meth:`value_and_grad`.
    """

    def __init__(self, weight: float = 0.3, radius: int = 5, sigma_xy: float = 3.0,
                 sigma_i: float = 0.15) -> None:
        self.weight, self.radius = weight, radius
        self.sigma_xy, self.sigma_i = sigma_xy, sigma_i

    @classmethod
    def from_config(cls, config: LossConfig) -> SoftmaxCRFLoss:
        return cls(config.crf_weight, config.crf_radius, config.crf_sigma_xy, config.crf_sigma_i)

    def _kernel(self) -> dict[str, Any]:
        return {"radius": self.radius, "sigma_xy": self.sigma_xy, "sigma_i": self.sigma_i}

    def torch(self, logits: Any, batch: LossBatch) -> Any:
        import torch

        value = softmax_cross_entropy(logits, batch.target, class_weights=batch.class_weights)
        if not self.weight:
            return value
        prob = torch.softmax(logits.float(), 1)
        image = torch.as_tensor(batch.image, device=logits.device)
        return value + self.weight * crf_loss_torch(prob, image, **self._kernel())

    def value_and_grad(
        self, logits: np.ndarray, batch: LossBatch
    ) -> tuple[float, np.ndarray | None]:
        prob = softmax(logits)
        value, grad = cross_entropy_value_and_grad(prob, batch.target, batch.class_weights)
        if self.weight:
            crf, crf_grad = crf_value_and_grad(prob, batch.image, **self._kernel())
            value += self.weight * crf
            grad = grad + self.weight * softmax_backward(prob, crf_grad)
        return value, grad.astype(np.float32)
