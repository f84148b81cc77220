"""ISBI metrics: hand-computed cases, invariances and the documented sanity value."""

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from napari_greentea.metrics import (
    ISBI_THRESHOLDS,
    _slice_scores,
    isbi_scores,
    pixel_error,
    v_info_thinned,
    v_rand_thinned,
)

ISBI = Path("/work/shared/data/isbi2012")


def _voronoi_gt(size=64, cells=12, seed=0):
    """Binary GT (True = interior) with 1-px membranes between Voronoi cells."""
    rng = np.random.default_rng(seed)
    seeds = np.zeros((size, size), dtype=np.int32)
    pts = rng.integers(0, size, size=(cells, 2))
    seeds[pts[:, 0], pts[:, 1]] = np.arange(1, cells + 1)
    _, (iy, ix) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    lab = seeds[iy, ix]
    membrane = np.zeros_like(lab, dtype=bool)
    membrane[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    membrane[:-1, :] |= lab[:-1, :] != lab[1:, :]
    return ~membrane, lab


def test_thresholds_follow_fiji_loop():
    assert len(ISBI_THRESHOLDS) == 11
    assert ISBI_THRESHOLDS[3] == 0.30000000000000004
    assert ISBI_THRESHOLDS[-1] == pytest.approx(1.0) and ISBI_THRESHOLDS[-1] < 1.0


def test_gt_against_itself_is_perfect():
    gt, _ = _voronoi_gt()
    stack = np.stack([gt, np.roll(gt, 5, axis=1)])
    scores = isbi_scores(stack.astype(float), (stack * 255).astype(np.uint8))
    assert scores["v_rand"] == 1.0 and scores["v_info"] == pytest.approx(1.0)
    assert scores["pixel_error"] == 0.0
    assert v_rand_thinned(gt.astype(float), gt) == 1.0
    assert v_info_thinned(gt.astype(float), gt) == pytest.approx(1.0)
    assert pixel_error(gt.astype(float), gt) == 0.0


def test_slice_scores_by_hand():
    gt_seg = np.array([[1, 1, 0, 2], [1, 1, 0, 2], [0, 0, 0, 2], [3, 3, 0, 2]])
    prop = np.array([[1, 1, 0, 2], [1, 0, 0, 2], [0, 0, 0, 2], [2, 2, 2, 2]])
    # Restricted to GT foreground (n = 10): counts (A1,B1)=3, (A1,line)=1,
    # (A2,B2)=4, (A3,B2)=2. So p = [.3, .4, .2], a = [.4, .4, .2],
    # b = [.3, .6], q = 0.1 (one line pixel = one singleton of mass 1/n).
    n, q = 10, 0.1
    s_ab = 0.3**2 + 0.4**2 + 0.2**2 + q / n
    s_a = 0.4**2 + 0.4**2 + 0.2**2
    s_b = 0.3**2 + 0.6**2 + q / n
    split, merge = s_ab / s_a, s_ab / s_b
    v_rand_ref = 2 * split * merge / (split + merge)

    def xlogx(x):
        return x * np.log(x)

    sum_a = 2 * xlogx(0.4) + xlogx(0.2)
    sum_b = xlogx(0.3) + xlogx(0.6) - q * np.log(n)
    sum_ab = xlogx(0.3) + xlogx(0.4) + xlogx(0.2) - q * np.log(n)
    h_a, h_b = -sum_a, -sum_b
    mutual = h_a - (sum_b - sum_ab)
    v_info_ref = 2 * mutual / (h_a + h_b)

    v_rand, v_info = _slice_scores(gt_seg, prop)
    assert v_rand == pytest.approx(v_rand_ref)
    assert v_rand == pytest.approx(0.3 / 0.41)  # sum p^2 / (sum a^2/2 + sum b^2/2)
    assert v_info == pytest.approx(v_info_ref)
    assert mutual == pytest.approx(-xlogx(0.4) - xlogx(0.6))


def test_single_proposal_segment_edge_cases():
    gt_seg = np.array([[1, 1, 0, 2], [1, 1, 0, 2], [0, 0, 0, 2], [3, 3, 0, 2]])
    v_rand, v_info = _slice_scores(gt_seg, np.ones_like(gt_seg))
    # Everything merged: p = a = [.4, .4, .2], b = [1]; V_Rand = 0.36 / 0.68.
    assert v_rand == pytest.approx(0.36 / 0.68)
    assert v_info == 0.0  # H(B) = 0 -> (precision, recall) = (1, 0)


def test_merge_lowers_v_rand_and_dilation_barely_matters():
    gt, lab = _voronoi_gt(size=96, cells=15, seed=1)
    # Merge two neighbouring cells by deleting the membrane between them.
    a, b = lab[0, 0], None
    edge = (lab[:, :-1] == a) & (lab[:, 1:] != a)
    b = lab[:, 1:][edge][0]
    merged = gt.copy()
    merged[(lab == a) | (lab == b)] = True
    v_merged = v_rand_thinned(merged.astype(float), gt)
    assert v_merged < 0.99
    assert v_info_thinned(merged.astype(float), gt) < 1.0
    # Thicker membranes (dilated by 1 px) are thinned back: almost no change.
    thick = ~ndimage.binary_dilation(~gt)
    v_thick = v_rand_thinned(thick.astype(float), gt)
    assert v_thick > 0.98 and v_thick > v_merged
    assert pixel_error(thick.astype(float), gt) > 0.0


def test_labels_format_ignores_unlabeled():
    gt, _ = _voronoi_gt(size=40, cells=6, seed=2)
    labels = np.where(gt, 2, 1)
    labels[:10] = 0  # unlabeled band
    prob = gt.astype(float)
    prob[:10] = 1 - prob[:10]  # wrong only where unlabeled
    assert pixel_error(prob, labels, gt_format="labels") == 0.0
    assert pixel_error(prob, gt) > 0.0
    with pytest.raises(ValueError):
        pixel_error(prob, labels, gt_format="nope")
    with pytest.raises(ValueError):
        isbi_scores(prob, labels[:-1])


@pytest.mark.skipif(
    not (ISBI / "train-labels.tif").exists(),
    reason="ISBI 2012 data not present in /work/shared/data/isbi2012",
)
def test_isbi_dilated_membranes_sanity():
    tifffile = pytest.importorskip("tifffile")
    gt = tifffile.imread(ISBI / "train-labels.tif")
    dilated = np.stack([~ndimage.binary_dilation(g == 0, iterations=2) for g in gt])
    scores = isbi_scores(dilated.astype(float), gt)
    assert scores["v_rand"] == pytest.approx(0.998, abs=0.003)
    assert scores["v_info"] == pytest.approx(0.9967, abs=0.003)
    assert scores["pixel_error"] == pytest.approx(0.0754, abs=0.002)
