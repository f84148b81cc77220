"""The filter bank and its standardised responses (pretraining targets)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_greentea.features import (
    PER_SIGMA,
    SIGMAS,
    feature_count,
    filter_bank,
    standardised_features,
)


def _zscore(values):
    return (values - values.mean()) / values.std()


@pytest.fixture(scope="module")
def planes():
    return np.random.default_rng(0).random((2, 24, 30)).astype(np.float32)


def test_features_are_standardised_over_all_planes(planes):
    feats = standardised_features(planes)
    assert feats.shape == (2, feature_count(), 24, 30) and feats.dtype == np.float32
    np.testing.assert_allclose(feats.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(feats.std(axis=(0, 2, 3)), 1, atol=1e-4)


def test_features_match_scipy_and_skimage(planes):
    from skimage.feature import hessian_matrix, hessian_matrix_eigvals

    feats = standardised_features(planes)
    for i, sigma in enumerate(SIGMAS):
        smooth = np.stack([ndi.gaussian_filter(p, sigma) for p in planes])
        log = np.stack([ndi.gaussian_laplace(p, sigma) for p in planes])
        hess = np.stack([hessian_matrix_eigvals(hessian_matrix(
            p, sigma=sigma, order="rc", use_gaussian_derivatives=False))[0] for p in planes])
        for offset, ref in ((0, smooth), (1, log), (5, hess)):
            np.testing.assert_allclose(feats[:, i * PER_SIGMA + offset], _zscore(ref),
                                       atol=2e-4)
    assert filter_bank(planes[0]).shape == (24, 30, feature_count())


def test_channels_are_concatenated(planes):
    two = np.stack([planes, 1 - planes], axis=1)  # (Z, C, Y, X)
    feats = standardised_features(two)
    assert feats.shape == (2, feature_count(2), 24, 30)
    np.testing.assert_allclose(feats[:, : feature_count()], standardised_features(planes),
                               atol=1e-5)
    # channel 1 is the negated image: its smoothing feature is the negated z-score
    np.testing.assert_allclose(feats[:, feature_count()], -feats[:, 0], atol=1e-4)


def test_constant_feature_becomes_zero():
    feats = standardised_features(np.zeros((1, 16, 16), np.float32))
    assert np.all(feats == 0)
