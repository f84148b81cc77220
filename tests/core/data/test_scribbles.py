"""The simulated annotator: brush width, budget, correction strokes."""

import numpy as np
import pytest

from napari_greentea.data.scribbles import correction_scribbles, scribbles_from_ground_truth


def _cells(size: int = 96) -> np.ndarray:
    """Square cells (class 2) on a 4-px membrane grid (class 1)."""
    gt = np.full((size, size), 2, np.uint8)
    for k in range(0, size, 24):
        gt[k : k + 4] = 1
        gt[:, k : k + 4] = 1
    return gt


def test_strokes_stay_inside_their_class_and_budget():
    gt = _cells()
    for brush in (1, 3, 5):
        s = scribbles_from_ground_truth(gt, fraction=0.05, brush=brush, seed=2)
        painted = s > 0
        assert 0 < painted.mean() <= 0.05
        assert (s[painted] == gt[painted]).all()
        assert set(np.unique(s[painted])) == {1, 2}


def test_wider_brush_paints_wider_strokes():
    gt = _cells()
    thin = scribbles_from_ground_truth(gt, fraction=0.3, brush=1, seed=0)
    wide = scribbles_from_ground_truth(gt, fraction=0.3, brush=3, seed=0)
    # a 1-px stroke along a membrane centre line has no labeled neighbour across it;
    # a 3-px one covers the full 3-px width in most places
    def across(lab):
        m = lab == 1
        return (m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1]).sum() + (
            m[1:-1, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]).sum()
    assert across(wide) > 2 * across(thin)


def test_brush_must_be_positive():
    with pytest.raises(ValueError, match="brush"):
        scribbles_from_ground_truth(_cells(), brush=0)


def test_corrections_go_where_the_prediction_is_wrong():
    gt = _cells()
    start = np.zeros_like(gt)
    prob = np.stack([(gt == 1), (gt == 2)]).astype(np.float32)
    prob[:, :48, :48] = prob[::-1, :48, :48]  # top-left quarter predicted inverted
    out = correction_scribbles(gt, prob, start, fraction=0.02, brush=3)
    new = out > 0
    assert 0 < new.mean() <= 0.02
    assert (out[new] == gt[new]).all()
    ys, xs = np.nonzero(new)
    # every stroke centre lies in the wrong quarter; strokes reach at most a radius beyond
    assert ys.max() < 48 + 13 and xs.max() < 48 + 13


def test_corrections_keep_old_strokes_and_check_shapes():
    gt = _cells()
    old = scribbles_from_ground_truth(gt, fraction=0.01, brush=3, seed=1)
    prob = np.full((2, *gt.shape), 0.5, np.float32)
    out = correction_scribbles(gt, prob, old, fraction=0.01)
    assert (out[old > 0] == old[old > 0]).all()
    with pytest.raises(ValueError, match="do not match"):
        correction_scribbles(gt, prob[:, :10], old, fraction=0.01)
