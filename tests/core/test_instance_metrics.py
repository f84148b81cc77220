"""Scores of instance labels: a brute-force pair-counting reference and hand cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from napari_greentea.metrics import instance_scores, merge_split_counts


def _reference(seg: np.ndarray, gt_fg: np.ndarray) -> tuple[float, float]:
    """V_Rand by counting ordered pixel pairs, V_Info from entropies (one slice).

    Only GT-interior pixels count; GT cells are 4-connected components; every
    ``seg == 0`` pixel is its own segment.
    """
    cells = ndimage.label(gt_fg)[0]
    ys, xs = np.nonzero(gt_fg)
    a = cells[ys, xs]
    b = seg[ys, xs].astype(np.int64)
    singles = b == 0
    b[singles] = -(np.arange(singles.sum()) + 1)  # unique negative ids
    both = same_a = same_b = 0
    for u, v in itertools.product(range(len(a)), repeat=2):
        sa, sb = a[u] == a[v], b[u] == b[v]
        both += sa and sb
        same_a += sa
        same_b += sb
    v_rand = 2 * both / (same_a + same_b)

    def entropy(labels):
        p = np.unique(labels, return_counts=True)[1] / len(labels)
        return -(p * np.log(p)).sum()

    joint = entropy(a * (2 * len(a) + 1) + (b + len(a)))
    h_a, h_b = entropy(a), entropy(b)
    mutual = h_a + h_b - joint
    return v_rand, 2 * mutual / (h_a + h_b)


def _two_cells() -> np.ndarray:
    fg = np.ones((6, 9), bool)
    fg[:, 4] = False  # a membrane column: two 6 x 4 cells
    return fg


def test_perfect_segmentation_scores_one():
    fg = _two_cells()
    seg = ndimage.label(fg)[0] * 7  # label values do not matter
    assert instance_scores(seg, fg) == {"v_rand": 1.0, "v_info": 1.0}


def test_merge_of_two_equal_cells_by_hand():
    fg = _two_cells()
    seg = np.ones(fg.shape, np.int32)
    # sum p_ij^2 = 2 (1/2)^2 = 1/2; sum a_i^2 = 1/2, sum b_j^2 = 1 -> 0.5 / 0.75
    scores = instance_scores(seg, fg)
    assert scores["v_rand"] == pytest.approx(2 / 3)
    # one segment: H(B) = 0, so I(A; B) = 0 and V_Info = 0
    assert scores["v_info"] == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_random_partitions_match_the_pair_counting_reference(seed):
    rng = np.random.default_rng(seed)
    fg = rng.random((7, 8)) > 0.3
    seg = rng.integers(0, 4, (7, 8))  # 0 = boundary pixels (singletons)
    v_rand, v_info = _reference(seg, fg)
    scores = instance_scores(seg, fg)
    assert scores["v_rand"] == pytest.approx(v_rand)
    assert scores["v_info"] == pytest.approx(v_info)


def test_stack_is_the_mean_of_its_slices():
    rng = np.random.default_rng(3)
    fg = rng.random((2, 6, 6)) > 0.3
    seg = rng.integers(0, 3, (2, 6, 6))
    per_slice = [_reference(seg[z], fg[z]) for z in range(2)]
    scores = instance_scores(seg, fg)
    assert scores["v_rand"] == pytest.approx(np.mean([s[0] for s in per_slice]))
    assert scores["v_info"] == pytest.approx(np.mean([s[1] for s in per_slice]))
    labels_format = np.where(fg, 2, 1)
    assert instance_scores(seg, labels_format, gt_format="labels") == scores


def test_merge_and_split_counts_by_hand():
    fg = np.ones((10, 20), bool)
    fg[:, 5] = fg[:, 11] = False  # GT cells: 10x5, 10x5, 10x8 (cols 0-4, 6-10, 12-19)
    seg = np.zeros(fg.shape, np.int32)
    seg[:, 0:11] = 1  # one object over the first two cells: a merge
    seg[:5, 12:20] = 2  # the third cell split in two halves
    seg[5:, 12:20] = 3
    seg[0, 12] = 1  # a single pixel of the merged object leaks into cell 3
    counts = merge_split_counts(seg, fg)
    assert counts["gt_cells"] == 3 and counts["objects"] == 3
    assert counts["merges"] == 1 and counts["merged_cells"] == 2
    assert counts["splits"] == 1
    assert counts["merge_percent"] == pytest.approx(100 / 3)
    # a stricter rule (an object must hold >= 60 % of a cell) ignores the halves
    strict = merge_split_counts(seg, fg, fraction=0.6)
    assert strict["splits"] == 0 and strict["merges"] == 1


def test_bad_instance_inputs():
    fg = _two_cells()
    with pytest.raises(ValueError, match="integers"):
        instance_scores(fg.astype(float), fg)
    with pytest.raises(ValueError, match=">= 0"):
        instance_scores(-np.ones(fg.shape, int), fg)
    with pytest.raises(ValueError, match="shape"):
        instance_scores(np.ones((3, 3), int), fg)
    with pytest.raises(ValueError, match="fraction"):
        merge_split_counts(np.ones(fg.shape, int), fg, fraction=0)
    with pytest.raises(ValueError, match="no foreground"):
        instance_scores(np.ones(fg.shape, int), np.zeros(fg.shape, bool))
