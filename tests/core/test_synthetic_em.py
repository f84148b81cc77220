"""The synthetic EM sections that train the built-in starter model."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_greentea.sample import CELL, MEMBRANE
from napari_greentea.synthetic_em import (
    _fibre_cells,
    _with_fibre_bundle,
    synthetic_em_section,
    synthetic_em_stack,
)


@pytest.fixture(scope="module")
def section():
    return synthetic_em_section((192, 160), seed=3)


def test_a_section_is_an_image_with_membrane_and_cell_labels(section):
    img, labels = section
    assert img.shape == labels.shape == (192, 160)
    assert img.dtype == labels.dtype == np.uint8
    assert set(np.unique(labels).tolist()) == {MEMBRANE, CELL}
    assert 0.1 < (labels == MEMBRANE).mean() < 0.7


def test_membranes_are_darker_than_cells_but_not_separable_by_a_threshold(section):
    img, labels = section
    # the labeled band is wider than the dark line (as in ISBI 2012): compare its middle
    line = ndi.binary_erosion(labels == MEMBRANE, iterations=2)
    membrane, cell = img[line], img[labels == CELL]
    assert np.median(membrane) < np.median(cell) - 20
    # organelles and noise make some cell pixels darker than the typical membrane pixel
    assert (cell < np.median(membrane)).mean() > 0.01


def test_every_cell_is_enclosed_by_membrane(section):
    _, labels = section
    cells, n = ndi.label(labels == CELL)
    assert n >= 5  # cells of 6-110 px radius in 192 x 160 px
    # the cell pixels split into regions, none of which spans most of the section
    sizes = np.bincount(cells.ravel())[1:]
    assert sizes.max() < 0.5 * labels.size


@pytest.mark.parametrize("theta", [0.0, 0.5, 2.0])
def test_fibres_are_cells_drawn_out_along_their_direction(theta):
    cells = _fibre_cells(np.random.default_rng(1), 256, 256, theta)
    along = np.array([np.cos(theta), np.sin(theta)])  # (x, y)
    across = np.array([-np.sin(theta), np.cos(theta)])
    elongation = []
    for i in np.unique(cells):
        ys, xs = np.nonzero(cells == i)
        if len(ys) < 300:
            continue
        points = np.stack([xs, ys], 1).astype(float)
        points -= points.mean(0)
        elongation.append((points @ along).std() / (points @ across).std())
    assert len(elongation) >= 10
    assert np.median(elongation) > 1.5


def test_the_fibre_region_replaces_part_of_the_cells_in_some_sections():
    cells = np.arange(64 * 64, dtype=np.int32).reshape(64, 64) // 700 + 1
    regions = [_with_fibre_bundle(np.random.default_rng(s), cells, 1.0)[1] for s in range(20)]
    shares = np.array([r.mean() for r in regions])
    assert 0 < (shares > 0).sum() < 20  # some sections have fibres, others none
    partly = int(np.flatnonzero((shares > 0.1) & (shares < 0.9))[0])
    with_fibres, region = _with_fibre_bundle(np.random.default_rng(partly), cells, 1.0)
    np.testing.assert_array_equal(with_fibres[~region] != with_fibres[~region][0],
                                  cells[~region] != cells[~region][0])  # outside: same cells
    assert set(np.unique(with_fibres[region])).isdisjoint(np.unique(with_fibres[~region]))


def test_the_seed_fixes_the_section_and_stacks_are_independent_draws():
    a_img, a_lab = synthetic_em_section((64, 64), seed=7)
    b_img, b_lab = synthetic_em_section((64, 64), seed=7)
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_lab, b_lab)
    stack, labels = synthetic_em_stack(2, (64, 64), seed=6)
    assert stack.shape == labels.shape == (2, 64, 64)
    np.testing.assert_array_equal(stack[1], a_img)
    np.testing.assert_array_equal(labels[1], a_lab)
    assert not np.array_equal(stack[0], stack[1])


@pytest.mark.parametrize("call", [lambda: synthetic_em_section((16, 64)),
                                  lambda: synthetic_em_stack(0, (64, 64))])
def test_bad_sizes_are_refused(call):
    with pytest.raises(ValueError):
        call()
