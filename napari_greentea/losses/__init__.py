"""Loss functions (no Qt/napari imports; torch is imported lazily)."""

from .malis import (
    affinities_2d,
    affinity_valid_mask,
    gt_affinities_2d,
    malis_loss_torch,
    malis_weights,
    maximin_pair_counts,
)
from .softmax import inverse_frequency_weights, softmax_cross_entropy

__all__ = [
    "affinities_2d",
    "affinity_valid_mask",
    "gt_affinities_2d",
    "inverse_frequency_weights",
    "malis_loss_torch",
    "malis_weights",
    "maximin_pair_counts",
    "softmax_cross_entropy",
]
