"""The trainer's view of the data: patches, augmentation, class weights, RNG state.

Wraps :class:`~napari_greentea.data.sampling.PatchSampler` and
:class:`~napari_greentea.data.augment.Augmenter` according to a
:class:`~napari_greentea.config.LossConfig`, and exposes the random state so
a resumed run draws exactly the patches an uninterrupted run would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import LossConfig
from ..graph import PatchGeometry
from .augment import Augmenter
from .sampling import PatchSampler


class TrainingSampler:
    """Batches ``(N,1,Hin,Win) float32, (N,Hout,Wout) int64`` for the trainer."""

    def __init__(
        self,
        images: Sequence[np.ndarray],
        labels: Sequence[np.ndarray],
        *,
        patch: PatchGeometry,
        num_classes: int,
        loss: LossConfig,
        augment: bool,
        seed: int,
    ) -> None:
        seeds = np.random.SeedSequence(seed).spawn(2)
        self.augmenter = Augmenter(augment, seed=np.random.default_rng(seeds[0]))
        histeq = loss.class_balance == "histeq"
        self.patches = PatchSampler(
            list(zip(images, labels, strict=True)),
            patch.input_size,
            patch.output_size,
            num_classes=num_classes,
            context_lo=patch.context_lo,
            mode="histeq" if histeq else "uniform",
            patch_prior=loss.patch_prior,
            masking=loss.masking,
            boost=loss.label_boost or None,
            augmenter=self.augmenter if augment else None,
            seed=np.random.default_rng(seeds[1]),
        )
        self.class_weights: np.ndarray | None = None
        if loss.class_balance == "weights":
            from ..losses.softmax import inverse_frequency_weights

            self.class_weights = inverse_frequency_weights(
                list(labels), num_classes, clip=loss.weight_clip
            )

    def sample(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        return self.patches.sample(batch)

    def get_state(self) -> dict[str, Any]:
        return {
            "patches": self.patches.rng.bit_generator.state,
            "augment": self.augmenter.rng.bit_generator.state,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.patches.rng.bit_generator.state = state["patches"]
        self.augmenter.rng.bit_generator.state = state["augment"]
