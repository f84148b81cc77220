"""Instance segmentation: exact cell counts on images whose cells are known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_greentea.sample import CELL, MEMBRANE, synthetic_membranes
from napari_greentea.segment import BOUNDARY_CHANNEL, boundary_from_classes, segment


def _grid(rows: int, cols: int, cell: int = 24, wall: int = 2) -> np.ndarray:
    """Boundary map (1 = membrane) of a rows x cols grid of rectangles."""
    h, w = rows * cell + wall, cols * cell + wall
    b = np.zeros((h, w), np.float32)
    for k in range(rows + 1):
        b[k * cell : k * cell + wall] = 1
    for k in range(cols + 1):
        b[:, k * cell : k * cell + wall] = 1
    return b


def _punch_gaps(b: np.ndarray, cell: int = 24, wall: int = 2, gap: int = 3,
                horizontal: bool = False) -> np.ndarray:
    """Open a ``gap``-px hole in the middle of every inner vertical wall segment.

    With ``horizontal`` also in every horizontal one: the inner wall crossings
    are then islands cut off from the membrane network.
    """
    b = b.copy()
    rows, cols = (b.shape[0] - wall) // cell, (b.shape[1] - wall) // cell
    mid = cell // 2
    for r in range(rows):
        for c in range(1, cols):
            b[r * cell + mid : r * cell + mid + gap, c * cell : c * cell + wall] = 0
    for r in range(1, rows if horizontal else 1):
        for c in range(cols):
            b[r * cell : r * cell + wall, c * cell + mid : c * cell + mid + gap] = 0
    return b


def _touching_disks(radius: int = 12, gap: int = 2) -> tuple[np.ndarray, int]:
    """Boundary map of a 3 x 4 pack of disks whose shared walls are 1 px with gaps."""
    centres = [(14 + 2 * radius * r, 14 + 2 * radius * c) for r in range(3) for c in range(4)]
    yy, xx = np.mgrid[0 : 6 * radius + 28, 0 : 8 * radius + 28]
    dist = np.stack([np.hypot(yy - y, xx - x) for y, x in centres])
    nearest = dist.argmin(0) + 1
    nearest[dist.min(0) > radius] = 0
    edge = np.zeros(nearest.shape, bool)
    edge[:-1] |= nearest[:-1] != nearest[1:]
    edge[:, :-1] |= nearest[:, :-1] != nearest[:, 1:]
    b = (edge | (nearest == 0)).astype(np.float32)
    for y, x in centres:  # a gap in the wall towards the right neighbour
        b[y - gap // 2 : y + gap - gap // 2, x + radius - 1 : x + radius + 1] = 0
    return b, len(centres)


@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (2, 3), (4, 5)])
def test_grid_of_cells_gives_exactly_that_many(rows, cols):
    b = _grid(rows, cols)
    for method in ("watershed", "threshold"):
        labels = segment(b, method=method)
        assert labels.max() == rows * cols, method
        assert len(np.unique(labels[b == 0])) == rows * cols


def _one_object_per_cell(labels: np.ndarray, walls: np.ndarray, n: int) -> None:
    interiors, found = ndi.label(ndi.binary_erosion(walls == 0, iterations=3))
    assert found == n
    pairs = {(int(i), int(o)) for i, o in zip(interiors.ravel(), labels.ravel(), strict=True)
             if i}
    assert len(pairs) == n and len({o for _, o in pairs}) == n


@pytest.mark.parametrize("seeds", ["distance", "hminima"])
def test_walls_with_small_gaps_do_not_merge_cells(seeds):
    walls = _grid(3, 4)
    b = _punch_gaps(walls)
    assert segment(b, method="threshold").max() == 3  # each row joined through the gaps
    if seeds == "hminima":  # h-minima need some boundary signal in each gap
        b = np.maximum(b, 0.4 * (ndi.gaussian_filter(walls, 2) > 0.2))
    labels = segment(b, seeds=seeds)
    assert labels.max() == 12
    _one_object_per_cell(labels, walls, 12)


def test_wall_islands_need_hole_filling_off():
    walls = _grid(3, 4)
    b = _punch_gaps(walls, horizontal=True)
    assert segment(b, method="threshold").max() == 1
    assert segment(b).max() < 12  # the islands were filled as holes
    labels = segment(b, max_hole=0)
    assert labels.max() == 12
    _one_object_per_cell(labels, walls, 12)


def test_touching_disks_with_gapped_walls():
    b, n = _touching_disks()
    assert segment(b, method="threshold").max() < n
    assert segment(b).max() == n


def test_elongated_and_irregular_cells_get_one_seed_each():
    b = np.ones((60, 130), np.float32)
    b[5:25, 5:125] = 0  # a 20 x 120 rod
    yy, xx = np.mgrid[:60, :130]
    lobes = (np.hypot(yy - 42, xx - 20) < 12) | (np.hypot(yy - 42, xx - 48) < 12)
    b[lobes | ((yy > 36) & (yy < 48) & (xx > 20) & (xx < 48))] = 0  # two lobes, wide neck
    labels = segment(b, min_size=0)
    assert labels.max() == 2


def test_synthetic_sample_from_its_ground_truth():
    """The sample's GT membranes, blurred as a network would predict them."""
    for seed in range(4):
        _, gt = synthetic_membranes((256, 256), seed=seed)
        cells, _ = ndi.label(gt == CELL)
        sizes = np.bincount(cells.ravel())[1:]
        min_size = 20
        # no GT cell near the size limit, so the expected count is unambiguous
        assert not ((sizes >= min_size // 4) & (sizes < 2 * min_size)).any()
        expected = int((sizes >= min_size).sum())
        boundary = ndi.gaussian_filter((gt == MEMBRANE).astype(np.float32), 1.0)
        assert segment(boundary, min_size=min_size).max() == expected, seed
        prob = np.stack([boundary, 1 - boundary])  # what prediction writes
        channel_map = boundary_from_classes(prob, BOUNDARY_CHANNEL)
        assert segment(channel_map, seeds="hminima", min_size=min_size).max() == expected


def test_small_objects_merge_into_neighbours():
    b = _grid(1, 2)
    b[10:12, 2:8] = 1  # a closed 8 x 6 px compartment in the corner of cell 1
    b[2:12, 8:10] = 1
    assert segment(b, min_size=0).max() == 3
    kept = segment(b, min_size=100)
    assert kept.max() == 2 and (kept > 0).all()  # merged, no hole left
    thresholded = segment(b, method="threshold", min_size=100)
    assert thresholded.max() == 2 and thresholded[4, 4] == 0  # removed


def test_stack_is_per_slice_with_labels_unique_across_slices():
    b = np.ones((3, 50, 74), np.float32)
    b[0, :50, :50] = _grid(2, 2)
    b[1, :26, :] = _grid(1, 3)
    b[2, :26, :26] = _grid(1, 1)
    calls = []
    labels = segment(b, on_slice=lambda done, total: calls.append((done, total)))
    assert labels.dtype == np.uint32 and labels.shape == b.shape
    assert [len(np.unique(s[s > 0])) for s in labels] == [4, 3, 1]
    assert np.unique(labels[labels > 0]).tolist() == list(range(1, 9))
    assert calls == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize(
    ("array", "kwargs", "message"),
    [
        (np.zeros(10), {}, r"\(Y, X\) or \(Z, Y, X\)"),
        (np.zeros((2, 2, 8, 8)), {}, r"\(Y, X\) or \(Z, Y, X\)"),
        (np.full((8, 8), np.nan), {}, "NaN"),
        (np.full((8, 8), 1.5), {}, r"\[0, 1\]"),
        (np.full((8, 8), -0.2), {}, r"\[0, 1\]"),
        (np.zeros((8, 8)), {"method": "mws"}, "method"),
        (np.zeros((8, 8)), {"seeds": "random"}, "seeds"),
        (np.zeros((8, 8)), {"seed_depth": 1.0}, "seed_depth"),
        (np.zeros((8, 8)), {"seeds": "hminima", "seed_depth": 0}, "seed_depth"),
        (np.zeros((8, 8)), {"threshold": 1.0}, "threshold"),
        (np.zeros((8, 8)), {"min_size": -1}, "min_size"),
        (np.zeros((8, 8)), {"max_hole": -1}, "max_hole"),
    ],
)
def test_bad_inputs(array, kwargs, message):
    with pytest.raises(ValueError, match=message):
        segment(array, **kwargs)


def test_bad_class_probabilities():
    with pytest.raises(ValueError, match="out of range"):
        boundary_from_classes(np.zeros((2, 8, 8)), 2)
    with pytest.raises(ValueError, match="out of range"):
        boundary_from_classes(np.zeros((2, 8, 8)), -1)
    with pytest.raises(ValueError, match=r"\(C, Y, X\)"):
        boundary_from_classes(np.zeros((8, 8)), 0)
