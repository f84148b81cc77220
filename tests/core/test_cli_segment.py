"""``greentea segment`` end to end on tiny files."""

from __future__ import annotations

import numpy as np
import tifffile
import zarr
from scipy import ndimage as ndi

from napari_greentea.cli import main
from napari_greentea.sample import CELL, MEMBRANE, synthetic_membranes


def _files(tmp_path):
    """A 2-slice class-probability TIFF as predict writes it, and its GT labels."""
    _, gt = synthetic_membranes((2, 96, 96), seed=4)
    membrane = np.stack([ndi.gaussian_filter((g == MEMBRANE).astype(np.float32), 1.0)
                         for g in gt])
    tifffile.imwrite(tmp_path / "prob.tif", np.stack([membrane, 1 - membrane]))
    tifffile.imwrite(tmp_path / "gt.tif", gt)
    cells = [ndi.label(g == CELL)[0] for g in gt]
    expected = sum(int((np.bincount(c.ravel())[1:] >= 20).sum()) for c in cells)
    return tmp_path / "prob.tif", tmp_path / "gt.tif", expected


def test_segment_writes_one_label_per_cell_and_scores_it(tmp_path, capsys):
    prob, gt, expected = _files(tmp_path)
    out = tmp_path / "cells.tif"
    assert main(["segment", str(prob), str(out), "--min-size", "20", "--gt", str(gt)]) == 0
    labels = tifffile.imread(out)
    assert labels.shape == (2, 96, 96) and labels.dtype == np.uint32
    assert len(np.unique(labels[labels > 0])) == expected
    text = capsys.readouterr()
    assert f"{expected} objects in 2 slice(s)" in text.out
    assert "v_rand: 1.0000" in text.out and "merges: 0" in text.out
    assert "segment (watershed)" in text.err and "2/2" in text.err  # progress per slice


def test_segment_threshold_to_zarr_and_single_cell_map(tmp_path):
    prob, _, _ = _files(tmp_path)
    assert main(["segment", str(prob), str(tmp_path / "c.zarr"), "--method", "threshold"]) == 0
    labels = np.asarray(zarr.open_array(str(tmp_path / "c.zarr"), mode="r"))
    assert labels.shape == (2, 96, 96) and labels.max() > 10
    # a 2-D map is the cell probability (predict --last-class-only)
    cell = tifffile.imread(prob)[1, 0]
    tifffile.imwrite(tmp_path / "cell.tif", cell)
    assert main(["segment", str(tmp_path / "cell.tif"), str(tmp_path / "c2.tif")]) == 0
    assert tifffile.imread(tmp_path / "c2.tif").shape == (96, 96)


def test_segment_bad_inputs_are_one_line(tmp_path, capsys):
    prob, gt, _ = _files(tmp_path)
    out = str(tmp_path / "o.tif")
    assert main(["segment", str(prob), out, "--channel", "2"]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["segment", str(prob), out, "--threshold", "1.5"]) == 2
    assert main(["segment", str(prob), out, "--gt", str(gt), "--slices", "0:1"]) == 2
    assert "shape" in capsys.readouterr().err
    tifffile.imwrite(tmp_path / "nan.tif", np.full((2, 8, 8), np.nan, np.float32))
    assert main(["segment", str(tmp_path / "nan.tif"), out]) == 2
    err = capsys.readouterr().err
    assert "NaN" in err and "Traceback" not in err
    assert main(["segment", str(prob), out]) == 0
    assert main(["segment", str(prob), out]) == 2  # exists, no --overwrite
    assert main(["segment", str(prob), str(tmp_path / "o.png")]) == 2
