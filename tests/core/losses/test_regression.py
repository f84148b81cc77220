"""FeatureRegression: torch and numpy agree; the batch carries float targets."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.losses import LOSSES, FeatureRegression, LossBatch


def _batch(rng, n=2, f=3, size=6, lo=2):
    images = rng.standard_normal((n, 1, size + 2 * lo, size + 2 * lo)).astype(np.float32)
    targets = rng.standard_normal((n, f, size, size)).astype(np.float32)
    return LossBatch.from_patches(images, None, context_lo=lo, regression=targets)


def test_torch_and_numpy_agree():
    import torch

    rng = np.random.default_rng(0)
    batch = _batch(rng)
    logits = rng.standard_normal(batch.regression.shape).astype(np.float32)
    value, grad = FeatureRegression().value_and_grad(logits, batch)
    z = torch.tensor(logits, requires_grad=True)
    ref = FeatureRegression().torch(z, batch)
    ref.backward()
    assert value == pytest.approx(float(ref), abs=1e-6)
    np.testing.assert_allclose(grad, z.grad.numpy(), atol=1e-6)
    assert value == pytest.approx(np.mean((logits - batch.regression) ** 2), rel=1e-6)


def test_batch_without_labels_is_unlabeled_on_the_regression_grid():
    batch = _batch(np.random.default_rng(1))
    assert batch.target.shape == (2, 6, 6) and not batch.target.any()
    assert batch.image.shape == (2, 1, 6, 6)
    batch.check_grid((6, 6))
    with pytest.raises(ValueError, match="regression patch"):
        LossBatch(np.zeros((2, 5, 5), np.int64), batch.image,
                  regression=batch.regression).check_grid((5, 5))


def test_mismatched_targets_are_refused():
    rng = np.random.default_rng(2)
    images = np.zeros((2, 1, 10, 10), np.float32)
    with pytest.raises(ValueError, match="do not match labels"):
        LossBatch.from_patches(images, np.zeros((2, 6, 6)), context_lo=2,
                               regression=np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match="needs a LossBatch with regression"):
        FeatureRegression().value_and_grad(rng.random((2, 3, 6, 6)),
                                           LossBatch.from_patches(images, np.zeros((2, 6, 6)),
                                                                  context_lo=2))


def test_not_a_stroke_training_choice():
    from napari_greentea.config import LossConfig

    made = [entry.factory(LossConfig(kind=name)) for name, entry in LOSSES.items()]
    assert not any(isinstance(loss, FeatureRegression) for loss in made)
