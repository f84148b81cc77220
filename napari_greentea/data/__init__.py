"""Training data: patch sampling, histogram equalisation and augmentation."""

from .augment import Augmenter, gaussian_blur, gaussian_kernel_1d
from .sampling import (
    PatchSampler,
    apply_masking,
    border_weighted_frequencies,
    masking_keep_probabilities,
    patch_prior_weights,
)

__all__ = [
    "Augmenter",
    "PatchSampler",
    "apply_masking",
    "border_weighted_frequencies",
    "gaussian_blur",
    "gaussian_kernel_1d",
    "masking_keep_probabilities",
    "patch_prior_weights",
]
