"""The classical baseline: an ilastik-style random forest on a filter bank.

ilastik's default pixel features at sigma 0.7, 1, 1.6, 3.5, 5 and 10:
Gaussian smoothing, Laplacian of Gaussian, Gaussian gradient magnitude,
structure-tensor eigenvalues (ilastik: inner scale sigma, outer scale
sigma / 2; here gradients of the image smoothed by sigma, products smoothed
by sigma / 2) and Hessian-of-Gaussian eigenvalues; scikit-learn's
RandomForestClassifier with 100 trees.
"""

from __future__ import annotations

import numpy as np

SIGMAS = (0.7, 1.0, 1.6, 3.5, 5.0, 10.0)


def filter_bank(plane: np.ndarray, sigmas=SIGMAS) -> np.ndarray:
    """(Y, X, F) float32 features of one 2-D slice."""
    from scipy import ndimage as ndi
    from skimage.feature import (
        hessian_matrix,
        hessian_matrix_eigvals,
        structure_tensor,
        structure_tensor_eigenvalues,
    )

    img = plane.astype(np.float32)
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


def forest_probability(train_images, train_labels, test_images, seed: int = 0) -> np.ndarray:
    """Cell-class probability ``(Z, Y, X)`` of ``test_images`` from sparse labels (1, 2)."""
    from sklearn.ensemble import RandomForestClassifier

    xs, ys = [], []
    for img, lab in zip(train_images, train_labels):
        sel = lab > 0
        xs.append(filter_bank(img)[sel])
        ys.append(lab[sel])
    forest = RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=seed)
    forest.fit(np.concatenate(xs), np.concatenate(ys))
    cell = list(forest.classes_).index(2)
    out = []
    for img in test_images:
        f = filter_bank(img)
        out.append(forest.predict_proba(f.reshape(-1, f.shape[-1]))[:, cell].reshape(img.shape))
    return np.stack(out).astype(np.float32)
