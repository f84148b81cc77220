"""Softmax cross-entropy and class weights against a plain numpy reference."""

import numpy as np
import pytest

from napari_greentea.losses.softmax import (
    inverse_frequency_weights,
    softmax_cross_entropy,
)

torch = pytest.importorskip("torch")


def _reference(logits, labels, weights=None):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    num, den = 0.0, 0.0
    for n, *pos in zip(*np.nonzero(labels), strict=True):
        k = labels[(n, *pos)] - 1
        w = 1.0 if weights is None else weights[k]
        num += -w * logp[(n, k, *pos)]
        den += w
    return num / den


@pytest.mark.parametrize("weights", [None, [0.5, 2.0, 1.0]])
def test_matches_reference(weights):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 4, 5))
    labels = rng.integers(0, 4, size=(2, 4, 5))
    got = softmax_cross_entropy(torch.tensor(logits), torch.tensor(labels), weights)
    assert got.item() == pytest.approx(_reference(logits, labels, weights))


def test_unlabeled_pixels_do_not_matter():
    rng = np.random.default_rng(1)
    logits = torch.tensor(rng.normal(size=(1, 2, 3, 3)), requires_grad=True)
    labels = torch.zeros(1, 3, 3, dtype=torch.long)
    labels[0, 1, 1] = 2
    softmax_cross_entropy(logits, labels).backward()
    grad = logits.grad.numpy()
    mask = np.ones((3, 3), bool)
    mask[1, 1] = False
    assert np.all(grad[0][:, mask] == 0)
    assert np.any(grad[0, :, 1, 1] != 0)


def test_no_labels_gives_zero_with_grad():
    logits = torch.randn(1, 2, 3, 3, requires_grad=True)
    loss = softmax_cross_entropy(logits, torch.zeros(1, 3, 3, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.all(logits.grad == 0)


def test_rejects_out_of_range_labels():
    with pytest.raises(ValueError):
        softmax_cross_entropy(torch.zeros(1, 2, 2, 2), torch.full((1, 2, 2), 3))


def test_inverse_frequency_weights():
    labels = np.array([[0, 1, 1, 1], [1, 1, 1, 2]])  # 6 of class 1, 1 of class 2
    w = inverse_frequency_weights([labels], num_classes=3, clip=(0.1, 10.0))
    f1, f2 = 6 / 7, 1 / 7
    np.testing.assert_allclose(w, [1 / (3 * f1), 1 / (3 * f2), 10.0], rtol=1e-6)
    w = inverse_frequency_weights(labels, num_classes=2, clip=(0.7, 2.0))
    np.testing.assert_allclose(w, [0.7, 2.0])
    with pytest.raises(ValueError):
        inverse_frequency_weights(np.zeros((2, 2), int), num_classes=2)
