"""ISBI 2012 segmentation metrics (V_Rand / V_Info after thinning, pixel error).

Re-implements the Fiji ``trainableSegmentation.metrics`` definitions used by
the ISBI 2012 challenge: everything is per 2-D slice with 4-connectivity,
restricted to the ground-truth foreground, and the proposal is thresholded at
each ``t`` (interior iff ``p > t``), its boundary thinned by a watershed flood
from the interior components (leaving 1-px watershed lines), and boundary
pixels on those lines count as singleton segments. V_Rand / V_Info are
macro-averaged over slices, the pixel error is micro-averaged; each metric
reports its best threshold. The thinning uses ``skimage`` rather than Fiji's
Vincent-Soille implementation, so line placement (and thus the last digits)
can differ slightly.

:func:`instance_scores` and :func:`merge_split_counts` score an instance
segmentation (one label per cell, e.g. from :mod:`napari_greentea.segment`)
as it is, without thresholding or thinning: its label 0 pixels count as
singleton segments, exactly like the thinned watershed lines above.

Accepted inputs
---------------
``prob``: ``(Y, X)`` or ``(Z, Y, X)`` probability of *cell interior* in [0, 1]
(ISBI polarity: 0 = membrane). ``gt`` (same shape), per ``gt_format``:

* ``"binary"`` (default): nonzero = interior, e.g. boolean, {0, 1} or the ISBI
  {0, 255} label TIFFs.
* ``"labels"``: the package label convention, 2 = interior, 1 = membrane,
  0 = unlabeled. Unlabeled pixels are excluded from the pixel error and are
  treated as non-foreground (hence ignored) by V_Rand / V_Info.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = [
    "ISBI_THRESHOLDS",
    "instance_scores",
    "isbi_scores",
    "merge_split_counts",
    "pixel_error",
    "v_info_thinned",
    "v_rand_thinned",
]


def _java_thresholds(lo: float = 0.0, hi: float = 1.0, step: float = 0.1):
    # Fiji loops ``for (th = min; th <= max; th += step)``; accumulating the
    # float step gives 0.30000000000000004 ... 0.9999999999999999.
    out, t = [], lo
    while t <= hi:
        out.append(t)
        t += step
    return np.array(out)


#: The 11 thresholds Fiji evaluates for a [0, 1] proposal.
ISBI_THRESHOLDS = _java_thresholds()


def _prepare(prob, gt, gt_format: str):
    prob = np.asarray(prob, dtype=np.float64)
    gt = np.asarray(gt)
    if prob.shape != gt.shape:
        raise ValueError(f"prob shape {prob.shape} != gt shape {gt.shape}")
    if prob.ndim not in (2, 3):
        raise ValueError(f"expected (Y, X) or (Z, Y, X), got shape {prob.shape}")
    if gt_format == "binary":
        fg, valid = gt != 0, np.ones(gt.shape, dtype=bool)
    elif gt_format == "labels":
        fg, valid = gt == 2, gt != 0
    else:
        raise ValueError(f"gt_format must be 'binary' or 'labels', got {gt_format!r}")
    if prob.ndim == 2:
        prob, fg, valid = prob[None], fg[None], valid[None]
    return prob, fg, valid


def _thinned_partition(interior: np.ndarray) -> np.ndarray:
    """Label interior components and flood the boundary, keeping 1-px lines."""
    from skimage.segmentation import watershed

    markers, count = ndimage.label(interior)  # default structure: 4-connected
    if count == 0 or interior.all():
        return markers
    return watershed((~interior).astype(np.uint8), markers, connectivity=1, watershed_line=True)


def _slice_scores(gt_seg: np.ndarray, prop: np.ndarray) -> tuple[float, float]:
    """(V_Rand, V_Info) of one slice; NaN when the GT has no foreground."""
    mask = gt_seg > 0
    n = int(mask.sum())
    if n == 0:
        return np.nan, np.nan
    a, b = gt_seg[mask].astype(np.int64), prop[mask].astype(np.int64)
    n_b = int(b.max()) + 1
    keys, cnt = np.unique(a * n_b + b, return_counts=True)
    on_line = keys % n_b == 0
    p_ij = cnt[~on_line] / n
    a_i = np.bincount(a)[1:] / n
    b_j = np.bincount(b[b > 0]) / n
    b_j = b_j[b_j > 0]
    a_i = a_i[a_i > 0]
    q = float((b == 0).sum()) / n

    s_ab = (p_ij**2).sum() + q / n
    s_a = (a_i**2).sum()
    s_b = (b_j**2).sum() + q / n
    split, merge = s_ab / s_a, s_ab / s_b
    v_rand = 2 * split * merge / (split + merge)

    log_n = np.log(n)
    sum_a = (a_i * np.log(a_i)).sum()
    sum_b = (b_j * np.log(b_j)).sum() - q * log_n
    sum_ab = (p_ij * np.log(p_ij)).sum() - q * log_n
    h_a, h_b = -sum_a, -sum_b
    mutual = h_a - (sum_b - sum_ab)
    if h_a <= 0:
        prec, rec = 0.0, 1.0
    elif h_b <= 0:
        prec, rec = 1.0, 0.0
    else:
        prec, rec = mutual / h_a, mutual / h_b
    v_info = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
    return float(v_rand), float(v_info)


def _thinned_scores(prob, fg, thresholds) -> tuple[np.ndarray, np.ndarray]:
    """Macro-averaged (V_Rand, V_Info) per threshold, shape (T,) each."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    scores = np.full((len(prob), thresholds.size, 2), np.nan)
    for z in range(len(prob)):
        gt_seg, _ = ndimage.label(fg[z])
        cache: dict[bytes, tuple[float, float]] = {}
        for k, t in enumerate(thresholds):
            interior = prob[z] > t
            # Thresholds that binarise identically share one evaluation.
            key = np.packbits(interior).tobytes()
            if key not in cache:
                cache[key] = _slice_scores(gt_seg, _thinned_partition(interior))
            scores[z, k] = cache[key]
    if np.isnan(scores).all():
        raise ValueError("the ground truth has no foreground (interior) pixels")
    mean = np.nanmean(scores, axis=0)
    return mean[:, 0], mean[:, 1]


def _pixel_f1(prob, fg, valid, thresholds) -> np.ndarray:
    f1 = np.empty(len(thresholds))
    for k, t in enumerate(thresholds):
        pred = prob > t
        tp = np.count_nonzero(pred & fg & valid)
        fp = np.count_nonzero(pred & ~fg & valid)
        fn = np.count_nonzero(~pred & fg & valid)
        f1[k] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 1.0
    return f1


def v_rand_thinned(prob, gt, thresholds=ISBI_THRESHOLDS, *, gt_format: str = "binary") -> float:
    """Best (over thresholds) slice-averaged foreground-restricted V_Rand."""
    prob, fg, _ = _prepare(prob, gt, gt_format)
    return float(np.max(_thinned_scores(prob, fg, thresholds)[0]))


def v_info_thinned(prob, gt, thresholds=ISBI_THRESHOLDS, *, gt_format: str = "binary") -> float:
    """Best (over thresholds) slice-averaged foreground-restricted V_Info."""
    prob, fg, _ = _prepare(prob, gt, gt_format)
    return float(np.max(_thinned_scores(prob, fg, thresholds)[1]))


def pixel_error(prob, gt, thresholds=ISBI_THRESHOLDS, *, gt_format: str = "binary") -> float:
    """``1 - max_t F1`` of interior-vs-membrane pixel classification.

    TP/FP/FN are summed over all slices before the F1 (micro average).
    """
    prob, fg, valid = _prepare(prob, gt, gt_format)
    return float(1.0 - np.max(_pixel_f1(prob, fg, valid, thresholds)))


def isbi_scores(prob, gt, thresholds=ISBI_THRESHOLDS, *, gt_format: str = "binary") -> dict:
    """All ISBI 2012 scores with their best thresholds.

    Parameters
    ----------
    prob, gt : ndarray
        See the module docstring for the accepted forms.
    thresholds : sequence of float
        Binarisation thresholds; defaults to Fiji's 11 values 0.0 ... ~1.0
        (pass ``np.arange(0, 1.0001, 0.1)`` for round values).
    gt_format : {"binary", "labels"}
        How to read ``gt``.

    Returns
    -------
    dict
        ``v_rand``, ``v_info`` (higher is better), ``pixel_error`` (lower is
        better), each with ``<name>_threshold``, plus the per-threshold
        curves ``v_rand_curve``, ``v_info_curve``, ``pixel_error_curve`` and
        ``thresholds``.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    prob, fg, valid = _prepare(prob, gt, gt_format)
    v_rand, v_info = _thinned_scores(prob, fg, thresholds)
    pix = 1.0 - _pixel_f1(prob, fg, valid, thresholds)
    out = {"thresholds": thresholds}
    for name, curve, best in (
        ("v_rand", v_rand, np.argmax),
        ("v_info", v_info, np.argmax),
        ("pixel_error", pix, np.argmin),
    ):
        k = int(best(curve))
        out[name] = float(curve[k])
        out[f"{name}_threshold"] = float(thresholds[k])
        out[f"{name}_curve"] = curve
    return out


def _prepare_instances(seg, gt, gt_format: str) -> tuple[np.ndarray, np.ndarray]:
    seg = np.asarray(seg)
    if seg.dtype.kind not in "iu":
        raise ValueError(f"instance labels must be integers, got {seg.dtype}")
    if seg.size and seg.min() < 0:
        raise ValueError("instance labels must be >= 0 (0 = no object)")
    _, fg, _ = _prepare(np.zeros(seg.shape), gt, gt_format)
    return (seg[None] if seg.ndim == 2 else seg), fg


def _ground_truth_cells(fg_slice: np.ndarray) -> np.ndarray:
    """GT objects: 4-connected components of the interior (ISBI definition)."""
    return ndimage.label(fg_slice)[0]


def instance_scores(seg, gt, *, gt_format: str = "binary") -> dict:
    """V_Rand and V_Info of instance labels ``seg`` against the GT cells.

    Same definitions as :func:`isbi_scores` (per slice, restricted to the GT
    foreground, GT cells = 4-connected interior components, macro-averaged
    over slices) but the proposal partition is ``seg`` itself, per slice;
    pixels with ``seg == 0`` are singleton segments.
    """
    seg, fg = _prepare_instances(seg, gt, gt_format)
    scores = []
    for z in range(len(seg)):
        _, compact = np.unique(seg[z], return_inverse=True)
        compact = compact.reshape(seg[z].shape) + (0 if (seg[z] == 0).any() else 1)
        scores.append(_slice_scores(_ground_truth_cells(fg[z]), compact))
    scores = np.array(scores)
    if np.isnan(scores).all():
        raise ValueError("the ground truth has no foreground (interior) pixels")
    v_rand, v_info = np.nanmean(scores, axis=0)
    return {"v_rand": float(v_rand), "v_info": float(v_info)}


def merge_split_counts(seg, gt, *, fraction: float = 0.25, gt_format: str = "binary") -> dict:
    """How many predicted objects merge GT cells and how many GT cells are split.

    Per 2-D slice, with GT cells the 4-connected interior components and
    only GT-interior pixels counted, object ``j`` *substantially covers* GT
    cell ``i`` when their overlap is at least ``fraction`` of the cell's
    area. An object that substantially covers two or more GT cells is a
    *merge*; a GT cell substantially covered by two or more objects is
    *split*. Label 0 of ``seg`` is never an object.

    Returns
    -------
    dict
        ``gt_cells``, ``objects`` (labels overlapping the GT interior),
        ``merges`` (merging objects), ``merged_cells`` (GT cells inside a
        merge), ``splits`` (split GT cells), and ``merge_percent`` /
        ``split_percent`` (``merges`` / ``splits`` as % of ``gt_cells``),
        summed over slices.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    seg, fg = _prepare_instances(seg, gt, gt_format)
    totals = dict.fromkeys(("gt_cells", "objects", "merges", "merged_cells", "splits"), 0)
    for z in range(len(seg)):
        cells = _ground_truth_cells(fg[z])
        inside = cells > 0
        pairs, overlap = np.unique(
            np.stack([cells[inside], seg[z][inside]]), axis=1, return_counts=True)
        is_object = pairs[1] > 0
        pairs, overlap = pairs[:, is_object], overlap[is_object]
        area = np.bincount(cells[inside])
        covers = overlap >= fraction * area[pairs[0]]
        _, per_cell = np.unique(pairs[0][covers], return_counts=True)
        obj_ids, per_obj = np.unique(pairs[1][covers], return_counts=True)
        merging = obj_ids[per_obj > 1]
        totals["gt_cells"] += int(cells.max())
        totals["objects"] += int(np.unique(pairs[1]).size)
        totals["merges"] += int(merging.size)
        totals["merged_cells"] += int(np.unique(pairs[0][covers & np.isin(pairs[1], merging)]).size)
        totals["splits"] += int((per_cell > 1).sum())
    n = max(totals["gt_cells"], 1)
    return {**totals, "merge_percent": 100.0 * totals["merges"] / n,
            "split_percent": 100.0 * totals["splits"] / n}
