"""The loss seam: what a backend hands a loss, and what a loss gives back.

A loss is an object (:class:`Loss`). Backends call it and never look at
``LossConfig.kind``; the registry (``losses/__init__.py``) turns a
:class:`~napari_greentea.config.LossConfig` into one. Every loss receives a
:class:`LossBatch`: the target labels, the per-class weights and the input
image cropped to the output grid, so losses that look at the image (for
example a smoothness term on unlabeled pixels) need no new plumbing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ..config import LossConfig

#: Target value of pixels that carry no label (they never enter a supervised term).
UNLABELED = 0


@dataclass(frozen=True)
class LossBatch:
    """Everything a loss may use besides the logits, aligned to the output grid.

    ``target`` (N,Y,X) int64: 0 = unlabeled (``ignore_label``), 1..K = class.
    ``image`` (N,C,Y,X) float32: the network input under each output pixel.
    ``class_weights`` (K,) float32 or None: per-class weights of the data's
    class-balance choice.
    ``regression`` (N,F,Y,X) float32 or None: per-pixel float targets, for
    losses that regress the logits instead of classifying (pretraining).
    """

    target: np.ndarray
    image: np.ndarray
    class_weights: np.ndarray | None = None
    ignore_label: int = UNLABELED
    regression: np.ndarray | None = None

    @classmethod
    def from_patches(
        cls,
        images: np.ndarray,
        labels: np.ndarray | None,
        *,
        context_lo: int,
        class_weights: np.ndarray | None = None,
        regression: np.ndarray | None = None,
    ) -> LossBatch:
        """Crop the input patches (N,C,Hin,Win) to the label grid (N,Hout,Wout).

        Output pixel ``(i, j)`` sees input pixel ``(i + context_lo, j + context_lo)``
        at the centre of its receptive field (``context_lo = graph.context // 2``).
        ``regression`` (N,F,Hout,Wout) lies on the label grid already; without
        ``labels`` every pixel is unlabeled on its grid.
        """
        if regression is not None:
            regression = np.asarray(regression, np.float32)
            if regression.ndim != 4:
                raise ValueError(f"regression targets must be (N, F, Y, X), got shape "
                                 f"{regression.shape}")
            if labels is None:
                labels = np.full((len(regression), *regression.shape[2:]), UNLABELED)
        if labels is None:
            raise ValueError("give labels, regression targets or both")
        target = np.asarray(labels, np.int64)
        if target.ndim != 3:
            raise ValueError(f"labels must be (N, Y, X), got shape {target.shape}")
        n, h, w = target.shape
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[0] != n:
            raise ValueError(f"images {images.shape} do not match labels {target.shape}")
        lo = context_lo
        if images.shape[2] < lo + h or images.shape[3] < lo + w:
            raise ValueError(
                f"input patch {images.shape[2:]} is too small for output {(h, w)} "
                f"at context offset {lo}"
            )
        crop = np.ascontiguousarray(images[:, :, lo : lo + h, lo : lo + w])
        if regression is not None and (regression.shape[0], *regression.shape[2:]) != (n, h, w):
            raise ValueError(f"regression targets {regression.shape} do not match labels "
                             f"{target.shape}")
        weights = None if class_weights is None else np.asarray(class_weights, np.float32)
        return cls(target, crop, weights, regression=regression)

    def check_grid(self, output_shape: tuple[int, ...]) -> None:
        """Raise ``ValueError`` unless the targets cover the network's (Y, X) output."""
        for what, grid in (("label", self.target), ("regression", self.regression)):
            if grid is not None and tuple(grid.shape[-2:]) != tuple(output_shape):
                raise ValueError(
                    f"{what} patch {tuple(grid.shape[-2:])} does not match network "
                    f"output {tuple(output_shape)}"
                )


class Loss:
    """A training loss over logits (N,K,Y,X) and a :class:`LossBatch`.

    Subclasses implement :meth:`torch` (a differentiable scalar). They may
    override :meth:`value_and_grad` with a numpy implementation, or name a
    ``device_kernel`` that a backend runs instead; the default
    :meth:`value_and_grad` differentiates :meth:`torch` on the host, which is
    what a backend without a kernel for this loss falls back to.
    """

    #: Name of a backend kernel computing this loss and dL/dlogits, if any.
    device_kernel: ClassVar[str | None] = None

    def torch(self, logits: Any, batch: LossBatch) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no torch implementation")

    def value_and_grad(
        self, logits: np.ndarray, batch: LossBatch
    ) -> tuple[float, np.ndarray | None]:
        """Loss value and dL/dlogits on the host; the gradient is None when the
        loss does not depend on the logits (nothing to back-propagate)."""
        import torch

        z = torch.tensor(np.asarray(logits, np.float32), requires_grad=True)
        value = self.torch(z, batch)
        if not value.requires_grad:
            return float(value), None
        value.backward()
        return float(value.detach()), z.grad.numpy()


@dataclass(frozen=True)
class LossEntry:
    """A registered loss: its display name and how to build it from a config."""

    name: str
    display_name: str
    factory: Callable[[LossConfig], Loss]


LOSSES: dict[str, LossEntry] = {}


def register_loss(name: str, display_name: str, factory: Callable[[LossConfig], Loss]) -> None:
    """Make loss ``name`` known to the config, the CLI and the Train widget."""
    LOSSES[name] = LossEntry(name, display_name, factory)


def loss_names() -> tuple[str, ...]:
    return tuple(LOSSES)


def make_loss(config: LossConfig) -> Loss:
    """The loss object for ``config`` (``config.kind`` is a registered name)."""
    try:
        entry = LOSSES[config.kind]
    except KeyError:
        raise ValueError(
            f"unknown loss {config.kind!r}; accepted: {', '.join(LOSSES)}"
        ) from None
    return entry.factory(config)
