"""The classical baseline: an ilastik-style random forest on a filter bank.

scikit-learn's RandomForestClassifier with 100 trees on the ilastik default
pixel features of :mod:`napari_greentea.features`.
"""

from __future__ import annotations

import numpy as np

from napari_greentea.features import SIGMAS, filter_bank

__all__ = ["SIGMAS", "filter_bank", "forest_probability"]


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
