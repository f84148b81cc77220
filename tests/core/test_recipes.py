from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.recipes import DENSE_SHARE, labeled_share, recipe


def test_labeled_share_counts_only_the_planes_that_hold_labels():
    stack = np.zeros((6, 40, 50), np.uint8)
    stack[:2] = 1  # two finished planes of six
    stack[1, :10] = 2
    assert labeled_share([stack]) == 1.0 >= DENSE_SHARE
    stack[1, :20] = 0  # half of one of the two planes unlabeled
    assert labeled_share([stack]) == pytest.approx((2000 + 1000) / 4000)


def test_strokes_are_not_dense_and_several_images_pool():
    strokes = np.zeros((64, 64), np.uint8)
    strokes[10:13, 5:60] = 1
    strokes[40:43, 5:60] = 2
    assert labeled_share([strokes]) == pytest.approx(2 * 3 * 55 / 64**2)
    assert labeled_share([strokes]) < DENSE_SHARE
    dense = np.ones((64, 64), np.uint8)
    assert labeled_share([strokes, dense]) == pytest.approx((330 + 64**2) / (2 * 64**2))
    assert labeled_share([np.zeros((8, 8), np.uint8)]) == 0.0


def test_dense_recipe_drops_the_stroke_remedies_and_options_still_win():
    strokes_train, strokes_loss = recipe("interactive")
    assert strokes_train.holdout > 0 and strokes_train.anchor_decay > 0
    assert strokes_loss.class_balance == "histeq"
    train, loss = recipe("interactive", dense_labels=True)
    assert (train.holdout, train.anchor_decay, train.average) == (0.0, 0.0, 0.998)
    assert loss.class_balance == "none"
    assert train.batch_size == strokes_train.batch_size  # the rest is the preset's
    both, _ = recipe("interactive", from_model=True, dense_labels=True)
    assert both.lr == recipe("interactive", from_model=True)[0].lr and both.holdout == 0.0
    chosen, chosen_loss = recipe("interactive", dense_labels=True, train={"holdout": 0.2},
                                 loss={"class_balance": "histeq"})
    assert chosen.holdout == 0.2 and chosen_loss.class_balance == "histeq"
    paper, paper_loss = recipe("paper", dense_labels=True)  # no dense section: unchanged
    assert paper == recipe("paper")[0] and paper_loss == recipe("paper")[1]
