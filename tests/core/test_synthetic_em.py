"""The synthetic EM sections that train the built-in starter model."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_greentea.sample import CELL, MEMBRANE
from napari_greentea.synthetic_em import synthetic_em_section, synthetic_em_stack


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
    membrane, cell = img[labels == MEMBRANE], img[labels == CELL]
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
