"""The ilastik filter bank, and its standardised responses as regression targets.

ilastik's default pixel features at sigma 0.7, 1, 1.6, 3.5, 5 and 10:
Gaussian smoothing, Laplacian of Gaussian, Gaussian gradient magnitude,
structure-tensor eigenvalues (ilastik: inner scale sigma, outer scale
sigma / 2; here gradients of the image smoothed by sigma, products smoothed
by sigma / 2) and Hessian-of-Gaussian eigenvalues. The random-forest
baseline (``benchmarks/forest.py``) classifies them; :mod:`.pretrain` makes
a network regress them before any label exists, because a network that
reproduces them has learnt the edges, ridges and blobs strokes later name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SIGMAS = (0.7, 1.0, 1.6, 3.5, 5.0, 10.0)
#: Responses per sigma: smoothing, LoG, gradient magnitude, 2 structure-tensor
#: and 2 Hessian eigenvalues.
PER_SIGMA = 7


def filter_bank(plane: np.ndarray, sigmas: Sequence[float] = SIGMAS) -> np.ndarray:
    """(Y, X, F) float32 features of one 2-D slice."""
    from scipy import ndimage as ndi
    from skimage.feature import (
        hessian_matrix,
        hessian_matrix_eigvals,
        structure_tensor,
        structure_tensor_eigenvalues,
    )

    img = np.asarray(plane, np.float32)
    feats = []
    for s in sigmas:
        feats.append(ndi.gaussian_filter(img, s))
        feats.append(ndi.gaussian_laplace(img, s))
        feats.append(ndi.gaussian_gradient_magnitude(img, s))
        st = structure_tensor(ndi.gaussian_filter(img, s), sigma=s / 2, order="rc")
        feats.extend(structure_tensor_eigenvalues(st))
        hs = hessian_matrix(img, sigma=s, order="rc", use_gaussian_derivatives=False)
        feats.extend(hessian_matrix_eigvals(hs))
    return np.stack(feats, -1).astype(np.float32)


def feature_count(channels: int = 1, sigmas: Sequence[float] = SIGMAS) -> int:
    """How many features :func:`plane_features` gives for ``channels`` channels."""
    return channels * PER_SIGMA * len(sigmas)


def plane_features(plane: np.ndarray) -> np.ndarray:
    """(F, Y, X) raw filter responses of a (Y, X) plane or a (C, Y, X) channel plane.

    The features of each channel follow one another (channel 0's first).
    """
    plane = np.asarray(plane)
    channels = plane[None] if plane.ndim == 2 else plane
    if channels.ndim != 3:
        raise ValueError(f"a plane is (Y, X) or (C, Y, X), got shape {plane.shape}")
    return np.concatenate([np.moveaxis(filter_bank(c), -1, 0) for c in channels])


def standardise(features: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each (F, Y, X) array shifted and scaled in place, per feature, to zero mean and
    unit standard deviation over all of them together.

    Planes may differ in size; every pixel weighs the same. Without the
    scaling, the sigma-10 smoothing and the sigma-0.7 eigenvalues differ by
    orders of magnitude and the large ones would dominate a squared error.
    A constant feature becomes 0.
    """
    count = sum(f[0].size for f in features)
    mean = sum(f.sum(axis=(1, 2), dtype=np.float64) for f in features) / count
    var = sum(((f - mean[:, None, None]) ** 2).sum(axis=(1, 2)) for f in features) / count
    std = np.sqrt(var)
    std = np.where(std > 0, std, 1.0)
    for f in features:
        f -= mean[:, None, None].astype(f.dtype)
        f /= std[:, None, None].astype(f.dtype)
    return list(features)


def standardised_features(planes: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """(Z, F, Y, X) float32 standardised filter responses of (Z, Y, X) or (Z, C, Y, X) planes."""
    return np.stack(standardise([plane_features(p) for p in planes]))
