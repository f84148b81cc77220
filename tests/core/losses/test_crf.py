"""The local CRF loss: brute-force reference, torch == numpy, and what it rewards."""

import numpy as np
import pytest

from napari_greentea.losses import LossBatch, SoftmaxCRFLoss, make_loss
from napari_greentea.losses.crf import crf_value_and_grad, half_window, kernel_mass, softmax


def _brute_force(prob, image, radius, sigma_xy, sigma_i):
    """Sum over all ordered pixel pairs within the window, one pair at a time."""
    n, _, h, w = prob.shape
    total = 0.0
    for b in range(n):
        for y in range(h):
            for x in range(w):
                for v in range(h):
                    for u in range(w):
                        d2 = (y - v) ** 2 + (x - u) ** 2
                        if d2 == 0 or d2 > radius * radius:
                            continue
                        k = np.exp(-d2 / (2 * sigma_xy**2)
                                   - ((image[b, :, y, x] - image[b, :, v, u]) ** 2).sum()
                                   / (2 * sigma_i**2))
                        total += k * (1 - prob[b, :, y, x] @ prob[b, :, v, u])
    return total / (n * h * w * kernel_mass(radius, sigma_xy))


def test_value_matches_brute_force_over_pixel_pairs():
    rng = np.random.default_rng(0)
    prob = softmax(rng.normal(size=(2, 3, 6, 7)))
    image = rng.normal(size=(2, 1, 6, 7)) * 0.2
    value, _ = crf_value_and_grad(prob, image, radius=3, sigma_xy=2.0, sigma_i=0.3)
    assert value == pytest.approx(_brute_force(prob, image, 3, 2.0, 0.3), rel=1e-10)


def test_window_enumerates_each_pair_once():
    offsets = half_window(2)
    assert len(offsets) == len(set(offsets)) == 6  # 12 non-zero offsets within radius 2
    assert all((-dy, -dx) not in offsets for dy, dx in offsets)
    with pytest.raises(ValueError, match="radius"):
        half_window(0)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    prob = softmax(rng.normal(size=(1, 2, 5, 5)))
    image = rng.normal(size=(1, 1, 5, 5)) * 0.2
    _, grad = crf_value_and_grad(prob, image, radius=2)
    eps = 1e-6
    for idx in [(0, 0, 1, 1), (0, 1, 4, 2), (0, 0, 0, 4)]:
        up, down = prob.copy(), prob.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric = (crf_value_and_grad(up, image, radius=2)[0]
                   - crf_value_and_grad(down, image, radius=2)[0]) / (2 * eps)
        assert grad[idx] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def _batch(rng, n=2, h=12, w=10, k=2):
    target = rng.integers(0, k + 1, (n, h, w))
    target[0, :4] = 0  # unlabeled rows
    image = rng.normal(size=(n, 1, h, w)).astype(np.float32) * 0.3
    return LossBatch(target, image, np.array([0.7, 2.0], np.float32)[:k])


def test_torch_and_numpy_agree_on_value_and_logit_gradient():
    import torch

    rng = np.random.default_rng(2)
    batch = _batch(rng)
    logits = rng.normal(size=(2, 2, 12, 10)).astype(np.float32)
    loss = SoftmaxCRFLoss(weight=0.7, radius=3, sigma_xy=2.0, sigma_i=0.2)
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    value = loss.torch(z, batch)
    value.backward()
    np_value, np_grad = loss.value_and_grad(logits, batch)
    assert np_value == pytest.approx(float(value), rel=1e-5)
    np.testing.assert_allclose(np_grad, z.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_weight_zero_is_plain_softmax_and_config_builds_it():
    from napari_greentea.config import LossConfig

    rng = np.random.default_rng(3)
    batch = _batch(rng)
    logits = rng.normal(size=(2, 2, 12, 10)).astype(np.float32)
    plain = make_loss(LossConfig(kind="softmax")).value_and_grad(logits, batch)
    zero = SoftmaxCRFLoss(weight=0.0).value_and_grad(logits, batch)
    assert zero[0] == pytest.approx(plain[0], rel=1e-5)
    np.testing.assert_allclose(zero[1], plain[1], rtol=1e-4, atol=1e-7)
    built = make_loss(LossConfig(kind="softmax+crf", crf_weight=0.5, crf_radius=4))
    assert isinstance(built, SoftmaxCRFLoss) and (built.weight, built.radius) == (0.5, 4)
    with pytest.raises(ValueError, match="crf"):
        LossConfig(kind="softmax+crf", crf_sigma_i=0.0)


def test_predictions_that_follow_image_edges_cost_less():
    image = np.zeros((1, 1, 16, 16))
    image[..., 8:] = 1.0  # a vertical edge between columns 7 and 8
    aligned = np.zeros((1, 2, 16, 16))
    aligned[:, 0, :, :8], aligned[:, 1, :, 8:] = 1, 1
    shifted = np.zeros((1, 2, 16, 16))
    shifted[:, 0, :, :5], shifted[:, 1, :, 5:] = 1, 1
    value = {name: crf_value_and_grad(p, image, radius=3, sigma_i=0.2)[0]
             for name, p in (("aligned", aligned), ("shifted", shifted))}
    assert value["aligned"] < 0.01 * value["shifted"]
    with pytest.raises(ValueError, match="output grid"):
        crf_value_and_grad(aligned, image[..., :8], radius=3)
