"""Held-out strokes: whole components, seeded, and the validation windows."""

import numpy as np
import pytest

from napari_greentea.data.holdout import (
    balanced_accuracy,
    split_strokes,
    stroke_components,
    validation_windows,
)


def _strokes() -> np.ndarray:
    lab = np.zeros((2, 40, 40), np.uint8)
    for k in range(5):
        lab[0, 4 + 7 * k, 2:30] = 1  # five horizontal class-1 strokes
        lab[1, 2:30, 4 + 7 * k] = 2  # five vertical class-2 strokes
    lab[1, 35, 30:38] = 1
    return lab


def test_components_are_strokes_per_class_and_slice():
    comps = stroke_components(_strokes())
    assert sorted((c, z) for c, z, _ in comps).count((1, 0)) == 5
    assert sum(1 for c, z, _ in comps if c == 2) == 5
    assert sum(len(idx) for _, _, idx in comps) == (_strokes() > 0).sum()


def test_split_holds_out_whole_strokes_per_class():
    lab = _strokes()
    train, val = split_strokes(lab, 0.3, seed=4)
    assert ((train > 0) & (val > 0)).sum() == 0
    assert ((train > 0) | (val > 0)).sum() == (lab > 0).sum()
    for c in (1, 2):
        held = (val == c).sum() / (lab == c).sum()
        assert 0.3 <= held < 1
    # every held-out stroke is complete: no training pixel touches a held-out one
    from scipy import ndimage as ndi

    near_val = ndi.binary_dilation(val > 0, structure=np.ones((1, 3, 3)))
    assert not (near_val & (train > 0)).any()
    again = split_strokes(lab, 0.3, seed=4)
    assert (again[1] == val).all()
    assert not (split_strokes(lab, 0.3, seed=5)[1] == val).all()


def test_a_class_with_one_stroke_keeps_it_for_training():
    lab = np.zeros((20, 20), np.uint8)
    lab[2, :] = 1
    lab[10, :5], lab[10, 10:] = 2, 2
    train, val = split_strokes(lab, 0.5, seed=0)
    assert (train == 1).sum() == 20 and (val == 1).sum() == 0
    assert (val == 2).sum() > 0


def test_fraction_is_checked():
    with pytest.raises(ValueError, match="fraction"):
        split_strokes(_strokes(), 0.0)


def test_windows_cover_every_held_out_pixel_with_the_right_context():
    rng = np.random.default_rng(0)
    image = rng.random((2, 40, 40)).astype(np.float32)
    val = np.zeros((2, 40, 40), np.uint8)
    val[0, 3, 5], val[1, 38, 39], val[1, 20, 20] = 1, 2, 1
    win, tgt = validation_windows([image], [val], input_size=20, output_size=16, context_lo=2)
    assert win.shape[1:] == (1, 20, 20) and tgt.shape[1:] == (16, 16)
    assert (tgt > 0).sum() == 3 and len(win) == 3
    # the output pixel (i, j) of a window sees input pixel (i + 2, j + 2) at its centre
    k = int(np.nonzero((tgt == 1).any((1, 2)) & (win[:, 0, 5, 7] == image[0, 3, 5]))[0][0])
    assert tgt[k, 3, 5] == 1


def test_balanced_accuracy_weighs_classes_equally():
    labels = np.array([[[1, 1, 1, 2]]])
    prob = np.zeros((1, 2, 1, 4))
    prob[0, 0] = 1  # everything predicted class 1
    assert balanced_accuracy(prob, labels) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no labeled"):
        balanced_accuracy(prob, np.zeros((1, 1, 4), int))


def test_huge_strokes_are_not_held_out_wholesale():
    lab = np.zeros((30, 30), np.uint8)
    lab[:, :20] = 2  # one giant component
    lab[2, 22:28], lab[10, 22:28], lab[20, 22:28] = 1, 1, 1
    lab[25, 22:24] = 2  # a small class-2 stroke: 2 of 602 pixels
    train, val = split_strokes(lab, 0.1, seed=0)
    assert (val == 2).sum() == 2 and (train == 2).sum() == 600
    # each class-1 stroke is a third of the class, more than 2 x 10 %: none is held out
    assert (val == 1).sum() == 0 and (train == 1).sum() == 18
