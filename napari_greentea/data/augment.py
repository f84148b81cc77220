"""Training-time patch augmentation as in caffe_neural_tool (Greentea's training tool).

Geometric operations (mirror, 90° rotation) are applied identically to the
image and the label patch; photometric ones (blur, intensity) to the image
only. The label patch must be *centred* in the image patch (equal margins on
opposite sides) so that flips and rotations keep them aligned;
:class:`~napari_greentea.data.sampling.PatchSampler` guarantees this by
cutting a symmetric patch and cropping the (possibly asymmetric) network
context only after augmentation.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["Augmenter", "gaussian_blur", "gaussian_kernel_1d"]


# cv::getGaussianKernel's fixed kernels for odd ksize <= 7 when sigma <= 0.
_SMALL_GAUSSIAN = {
    1: [1.0],
    3: [0.25, 0.5, 0.25],
    5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
    7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
}


def gaussian_kernel_1d(ksize: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian kernel with OpenCV's ``getGaussianKernel`` rules.

    The original tool drew sigma from N(0, 0.1), so about half of the draws are
    non-positive. OpenCV then derives the width from ``ksize``: for odd
    ``ksize <= 7`` it uses a fixed binomial kernel (``[1, 4, 6, 4, 1] / 16``
    for ksize 5, close to a Gaussian with sigma 1.1), otherwise
    ``sigma = 0.3 ((ksize - 1) / 2 - 1) + 0.8``. Both rules are reproduced.
    """
    if ksize < 1 or ksize % 2 == 0:
        raise ValueError(f"ksize must be odd and positive, got {ksize}")
    if sigma <= 0:
        if ksize in _SMALL_GAUSSIAN:
            return np.array(_SMALL_GAUSSIAN[ksize])
        sigma = 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8
    x = np.arange(ksize, dtype=np.float64) - (ksize - 1) / 2
    k = np.exp(-(x**2) / (2.0 * sigma**2))
    return k / k.sum()


def gaussian_blur(image: np.ndarray, sigma: float, ksize: int = 5) -> np.ndarray:
    """Separable Gaussian blur with OpenCV's default border (reflect-101)."""
    k = gaussian_kernel_1d(ksize, sigma)
    out = ndimage.correlate1d(image, k, axis=-1, mode="mirror")
    return ndimage.correlate1d(out, k, axis=-2, mode="mirror")


class Augmenter:
    """Random mirror / rotation / blur / intensity augmentation of patch pairs.

    Parameters
    ----------
    enabled : bool
        Master switch; when False ``__call__`` returns its inputs unchanged
        (use this, or no augmenter at all, for validation).
    mirror : bool
        Flip along a random choice of {rows, columns, both}, drawn uniformly
        like ``cv::flip`` with flipcode in {0, 1, -1} (never the identity).
    rotate : bool
        Rotate by a multiple of 90° drawn uniformly. Patches that are not
        square are only rotated by 0° or 180° (a 90° turn would change their
        shape).
    blur : bool
        Gaussian blur, kernel ``blur_ksize``, sigma ~ N(blur_mean, blur_std);
        a non-positive sigma gives OpenCV's default kernel (binomial for
        ksize <= 7, see :func:`gaussian_kernel_1d`).
    intensity_scale, intensity_shift : float
        ``image * U(1 - s, 1 + s) + U(-b, b)``; 0 disables (the paper had none).
    seed : int or numpy.random.Generator, optional
        Seed of the augmenter's own generator.
    """

    def __init__(
        self,
        enabled: bool = True,
        *,
        mirror: bool = True,
        rotate: bool = True,
        blur: bool = True,
        blur_mean: float = 0.0,
        blur_std: float = 0.1,
        blur_ksize: int = 5,
        intensity_scale: float = 0.0,
        intensity_shift: float = 0.0,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.enabled = enabled
        self.mirror = mirror
        self.rotate = rotate
        self.blur = blur
        self.blur_mean = blur_mean
        self.blur_std = blur_std
        self.blur_ksize = blur_ksize
        self.intensity_scale = intensity_scale
        self.intensity_shift = intensity_shift
        self.rng = np.random.default_rng(seed)

    def __call__(self, image: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Augment a 2-D image patch, or a ``(C, Y, X)`` one, and its centred
        2-D label patch.

        Every channel gets the same transform (the same random draws as a
        2-D patch). Returns new arrays (the inputs are never modified in place).
        """
        if not self.enabled:
            return image, labels
        image, labels = np.asarray(image), np.asarray(labels)
        rng = self.rng
        if self.mirror:
            axes = [(-2,), (-1,), (-2, -1)][rng.integers(3)]
            image, labels = np.flip(image, axes), np.flip(labels, axes)
        if self.rotate:
            square = image.shape[-2] == image.shape[-1] and (labels.shape[0] == labels.shape[1])
            k = int(rng.integers(4)) if square else 2 * int(rng.integers(2))
            image, labels = np.rot90(image, k, (-2, -1)), np.rot90(labels, k)
        image = np.ascontiguousarray(image, dtype=np.float32)
        labels = np.ascontiguousarray(labels)
        if self.blur:
            sigma = rng.normal(self.blur_mean, self.blur_std)
            image = gaussian_blur(image, sigma, self.blur_ksize).astype(np.float32)
        if self.intensity_scale > 0 or self.intensity_shift > 0:
            scale = rng.uniform(1 - self.intensity_scale, 1 + self.intensity_scale)
            shift = rng.uniform(-self.intensity_shift, self.intensity_shift)
            image = (image * scale + shift).astype(np.float32)
        return image, labels
