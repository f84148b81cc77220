"""Tests for the constrained MALIS loss against brute force and finite differences."""

import logging

import numpy as np
import pytest

from napari_greentea.losses.malis import (
    affinities_2d,
    affinity_valid_mask,
    gt_affinities_2d,
    malis_loss_torch,
    malis_weights,
    maximin_pair_counts,
)


def _edges(shape):
    """List of (channel, i, j, u, v) for every valid edge."""
    _, w = shape
    out = []
    for c, i, j in zip(*np.nonzero(affinity_valid_mask(shape)), strict=True):
        u = i * w + j
        v = u + 1 if c == 0 else u + w
        out.append((c, i, j, u, v))
    return out


def _brute_force_counts(weights, seg):
    """Per-edge pair counts via the definition of the maximin edge.

    For each pixel pair the maximin value is the largest t such that the two
    pixels are connected using only edges of weight >= t (checked by plain
    flood fill per threshold); with distinct weights the maximin edge is the
    unique edge with that weight.
    """
    h, w = seg.shape
    edges = _edges(seg.shape)
    flat_seg = seg.ravel()
    same = np.zeros(weights.shape, dtype=np.int64)
    diff = np.zeros(weights.shape, dtype=np.int64)
    thresholds = sorted({weights[c, i, j] for c, i, j, _, _ in edges}, reverse=True)
    first_level = {}
    for t in thresholds:
        adj = {p: [] for p in range(h * w)}
        for c, i, j, u, v in edges:
            if weights[c, i, j] >= t:
                adj[u].append(v)
                adj[v].append(u)
        for s in range(h * w):
            seen, stack = {s}, [s]
            while stack:
                x = stack.pop()
                for y in adj[x]:
                    if y not in seen:
                        seen.add(y)
                        stack.append(y)
            for x in seen:
                if x > s and (s, x) not in first_level:
                    first_level[(s, x)] = t
    by_weight = {weights[c, i, j]: (c, i, j) for c, i, j, _, _ in edges}
    for (s, x), t in first_level.items():
        if flat_seg[s] == 0 or flat_seg[x] == 0:
            continue
        target = same if flat_seg[s] == flat_seg[x] else diff
        target[by_weight[t]] += 1
    return same, diff


@pytest.mark.parametrize(
    "shape,seed,n_labels",
    # The 7x7 case has enough labels to exercise the hashed label lists.
    [((3, 4), 0, 3), ((4, 4), 1, 3), ((4, 3), 2, 3), ((7, 7), 3, 30)],
)
def test_kruskal_counts_match_brute_force(shape, seed, n_labels):
    rng = np.random.default_rng(seed)
    weights = rng.permutation(2 * shape[0] * shape[1]).reshape(2, *shape) / 100.0
    weights = weights * affinity_valid_mask(shape)
    seg = rng.integers(0, n_labels, size=shape)
    same, diff = maximin_pair_counts(weights, seg)
    ref_same, ref_diff = _brute_force_counts(weights, seg)
    np.testing.assert_array_equal(same, ref_same)
    np.testing.assert_array_equal(diff, ref_diff)
    # Every labeled pair is attributed exactly once.
    sizes = np.bincount(seg[seg > 0])
    n_pos = int((sizes * (sizes - 1) // 2).sum())
    n_lab = int(sizes.sum())
    assert same.sum() == n_pos
    assert diff.sum() == n_lab * (n_lab - 1) // 2 - n_pos


def _segments(shape):
    """Two or three connected segments separated by background pixels."""
    seg = np.zeros(shape, dtype=np.int64)
    h, w = shape
    seg[:, : w // 2 - 1] = 1
    seg[:, w // 2 :] = 2
    seg[h - 1, w // 2 :] = 3
    return seg


@pytest.mark.parametrize("loss", ["hinge", "square"])
@pytest.mark.parametrize("constrained", [True, False])
def test_gradient_matches_finite_differences(loss, constrained):
    rng = np.random.default_rng(3)
    shape = (5, 6)
    seg = _segments(shape)
    valid = affinity_valid_mask(shape)
    # Distinct values away from the hinge kinks at 0.2 and 0.8.
    pred = rng.permutation(np.linspace(0.01, 0.99, valid.size)).reshape(valid.shape)
    for kink in (0.2, 0.8):
        near = np.abs(pred - kink) < 0.01
        pred[near] += 0.02
    pred *= valid
    value, grad, _ = malis_weights(pred, seg, loss=loss, constrained=constrained)
    eps = 1e-6
    for idx in zip(*np.nonzero(valid), strict=True):
        up, down = pred.copy(), pred.copy()
        up[idx] += eps
        down[idx] -= eps
        fd = (
            malis_weights(up, seg, loss=loss, constrained=constrained)[0]
            - malis_weights(down, seg, loss=loss, constrained=constrained)[0]
        ) / (2 * eps)
        assert grad[idx] == pytest.approx(fd, abs=1e-6), idx
    assert np.all(grad[~valid] == 0)
    assert value > 0


def test_hinge_value_by_hand():
    # 1x3 image: pixels a, b in segment 1, c in segment 2; edges ab, bc.
    seg = np.array([[1, 1, 2]])
    pred = np.zeros((2, 1, 3))
    pred[0, 0, :2] = [0.6, 0.9]
    value, grad, stats = malis_weights(pred, seg, constrained=False)
    # Kruskal merges bc (0.9) first, then ab (0.6). Positive pair (a,b) -> ab,
    # dl = 0.8 - 0.6 = 0.2. Negative pairs: (b,c) -> bc, dl = 0.9 - 0.2 = 0.7;
    # (a,c) -> ab, dl = 0.6 - 0.2 = 0.4. n_pos = 1, n_neg = 2.
    assert stats["n_pos_pairs"] == 1 and stats["n_neg_pairs"] == 2
    assert value == pytest.approx(0.2 + (0.4 + 0.7) / 2)
    np.testing.assert_allclose(grad[0, 0], [-1 + 0.5, 0.5, 0.0])


def test_perfect_prediction_has_zero_loss():
    seg = _segments((6, 7))
    gt = gt_affinities_2d(seg)
    for loss in ("hinge", "square"):
        for constrained in (True, False):
            value, grad, stats = malis_weights(gt, seg, loss=loss, constrained=constrained)
            assert value == 0.0
            assert np.all(grad == 0)
            assert stats["rand_index"] == 1.0


def test_constrained_vs_unconstrained():
    rng = np.random.default_rng(5)
    seg = _segments((6, 8))
    gt = gt_affinities_2d(seg)
    valid = affinity_valid_mask(seg.shape)
    for _ in range(5):
        pred = rng.random(gt.shape) * valid
        lc, gc, _ = malis_weights(pred, seg, constrained=True)
        lu, gu, _ = malis_weights(pred, seg, constrained=False)
        # min(pred, gt) <= pred and max(pred, gt) >= pred only make things worse.
        assert lc >= lu - 1e-12
        # Constrained: only pull up inside segments, only push down elsewhere.
        assert np.all(gc[(gt == 1) & valid] <= 0)
        assert np.all(gc[(gt == 0) & valid] >= 0)
    # Unconstrained MALIS pulls up a boundary edge when it is the best path
    # between two pixels of the same segment: a 1x3 "a b c" with b background
    # and a, c in segment 1 (the only route goes through b).
    seg = np.array([[1, 0, 1], [2, 0, 3]])
    pred = np.zeros((2, 2, 3))
    pred[0, 0, :2] = [0.3, 0.4]
    _, gu, _ = malis_weights(pred, seg, constrained=False)
    _, gc, _ = malis_weights(pred, seg, constrained=True)
    assert gu[0, 0, 0] < 0
    assert gc[0, 0, 0] == 0 and gc[0, 0, 1] == 0


def test_affinities_layout():
    p = np.array([[0.1, 0.5, 0.9], [0.7, 0.3, 0.2]])
    aff = affinities_2d(p)
    np.testing.assert_allclose(aff[0], [[0.1, 0.5, 0.0], [0.3, 0.2, 0.0]])
    np.testing.assert_allclose(aff[1], [[0.1, 0.3, 0.2], [0.0, 0.0, 0.0]])


def test_torch_wrapper_matches_finite_differences():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    labels = np.ones((2, 6, 6), dtype=np.int64)  # membrane everywhere
    labels[:, 1:3, 1:5] = 2
    labels[:, 4:6, 0:3] = 2
    labels[:, 4:6, 4:6] = 2
    labels[1, 0, :] = 0  # some unlabeled pixels
    prob = rng.permutation(np.linspace(0.02, 0.98, labels.size)).reshape(labels.shape)
    for kink in (0.2, 0.8):
        prob[np.abs(prob - kink) < 0.012] += 0.025
    p = torch.tensor(prob, dtype=torch.float64, requires_grad=True)
    loss = malis_loss_torch(p, torch.as_tensor(labels))
    loss.backward()
    grad = p.grad.numpy()

    def value(x):
        return float(malis_loss_torch(torch.tensor(x), labels))

    assert loss.item() == pytest.approx(value(prob))
    eps = 1e-7
    for idx in np.ndindex(prob.shape):
        up, down = prob.copy(), prob.copy()
        up[idx] += eps
        down[idx] -= eps
        fd = (value(up) - value(down)) / (2 * eps)
        assert grad[idx] == pytest.approx(fd, abs=1e-5), idx


def test_torch_wrapper_skips_single_class_patch(caplog):
    torch = pytest.importorskip("torch")
    labels = np.full((1, 4, 4), 2)  # one segment only -> no negative pairs
    p = torch.full((1, 4, 4), 0.5, dtype=torch.float64, requires_grad=True)
    with caplog.at_level(logging.INFO, logger="napari_greentea.losses.malis"):
        loss = malis_loss_torch(p, labels)
    loss.backward()
    assert float(loss) == 0.0
    assert torch.all(p.grad == 0)
    assert "skipping patch" in caplog.text
