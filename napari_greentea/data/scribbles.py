"""Scribbles like a biologist paints them, generated from dense ground truth.

Procedure (seeded, documented for the benchmarks): per class, take the
1-px skeleton of the class mask (for the last class, the cell interior,
after a 2-px erosion, so strokes stay inside cells), pick random stroke
centres on it and keep the skeleton pixels within ``stroke_radius`` of each
centre: strokes along membrane centre lines and through cell cores. A
``brush`` wider than 1 px widens each stroke by a disk of that diameter,
clipped to the class mask (the annotator paints inside the structure).
Classes alternate until the next stroke would take the labeled pixels
past ``fraction`` of the slice (default 1.5 %).

:func:`correction_scribbles` is the second half of the interactive loop: it
adds strokes where a prediction is most wrong, as a user correcting the
network would.
"""

from __future__ import annotations

import numpy as np


def _skeleton(mask: np.ndarray, erode: int) -> np.ndarray:
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    if erode:
        mask = ndi.binary_erosion(mask, iterations=erode)
    return skeletonize(mask)


def _class_skeletons(gt: np.ndarray) -> dict[int, np.ndarray]:
    """Stroke centre lines per class: skeleton coordinates, shape (n, 2)."""
    classes = [int(c) for c in np.unique(gt) if c > 0]
    return {c: np.argwhere(_skeleton(gt == c, 2 if c == classes[-1] else 0)) for c in classes}


def _brush_offsets(brush: int) -> np.ndarray:
    if brush < 1:
        raise ValueError(f"brush must be >= 1 pixel, got {brush}")
    r = (brush - 1) / 2
    span = np.arange(-int(np.ceil(r)), int(np.ceil(r)) + 1)
    dy, dx = np.meshgrid(span, span, indexing="ij")
    keep = dy**2 + dx**2 <= r**2 + 0.5
    return np.stack([dy[keep], dx[keep]], 1)


def _paint(out: np.ndarray, gt: np.ndarray, pts: np.ndarray, c: int, offsets: np.ndarray) -> None:
    """Set the brush footprint around ``pts`` to class ``c`` where ``gt == c``."""
    yx = (pts[:, None, :] + offsets[None]).reshape(-1, 2)
    inside = (yx >= 0).all(1) & (yx[:, 0] < gt.shape[0]) & (yx[:, 1] < gt.shape[1])
    yy, xx = yx[inside, 0], yx[inside, 1]
    ok = gt[yy, xx] == c
    out[yy[ok], xx[ok]] = c


def _paint_within(
    out: np.ndarray, gt: np.ndarray, pts: np.ndarray, c: int, offsets: np.ndarray, target: float
) -> bool:
    """Paint one stroke unless it would take the labeled pixels past ``target``.

    Returns False when the stroke was left out (the budget is spent).
    """
    trial = out.copy()
    _paint(trial, gt, pts, c, offsets)
    if (trial > 0).sum() > target:
        return False
    out[...] = trial
    return True


def _stroke(pts: np.ndarray, centre: np.ndarray, radius: int) -> np.ndarray:
    cy, cx = centre
    return pts[(np.abs(pts[:, 0] - cy) <= radius) & (np.abs(pts[:, 1] - cx) <= radius)]


def scribbles_from_ground_truth(
    gt: np.ndarray,
    *,
    fraction: float = 0.015,
    stroke_radius: int = 12,
    brush: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """Sparse labels (0 = unlabeled) from dense labels ``gt`` (1..K), 2-D or 3-D.

    ``fraction`` is the labeled share of the pixels of each slice; ``brush``
    the stroke width in pixels.
    """
    gt = np.asarray(gt)
    if gt.ndim == 3:
        rng = np.random.default_rng(seed)
        seeds = rng.integers(0, 2**31, gt.shape[0])
        return np.stack(
            [
                scribbles_from_ground_truth(
                    s, fraction=fraction, stroke_radius=stroke_radius, brush=brush, seed=int(k)
                )
                for s, k in zip(gt, seeds)
            ]
        )
    rng = np.random.default_rng(seed)
    skeletons = _class_skeletons(gt)
    offsets = _brush_offsets(brush)
    out = np.zeros(gt.shape, np.uint8)
    target = fraction * gt.size
    budget = 10_000
    while (out > 0).sum() < target and budget:
        budget -= 1
        for c, pts in skeletons.items():
            if not len(pts):
                continue
            stroke = _stroke(pts, pts[rng.integers(len(pts))], stroke_radius)
            if not _paint_within(out, gt, stroke, c, offsets, target):
                return out
    return out


def correction_scribbles(
    gt: np.ndarray,
    prob: np.ndarray,
    labels: np.ndarray,
    *,
    fraction: float,
    stroke_radius: int = 12,
    brush: int = 3,
) -> np.ndarray:
    """``labels`` plus strokes where ``prob`` is most wrong, ``fraction`` more pixels.

    ``prob`` holds class probabilities ``(K, ...)`` of ``gt``'s shape. Per
    slice, candidate stroke centres are the centre-line pixels of each class
    that the prediction gets wrong, taken in order of decreasing error
    (``1 - p(true class)``), skipping centres already covered by a stroke.
    Classes alternate, as in :func:`scribbles_from_ground_truth`. The result
    is deterministic: the most wrong places are corrected first.
    """
    gt, labels = np.asarray(gt), np.asarray(labels)
    prob = np.asarray(prob)
    if prob.shape[1:] != gt.shape or labels.shape != gt.shape:
        raise ValueError(
            f"prob {prob.shape}, labels {labels.shape} and gt {gt.shape} do not match"
        )
    if gt.ndim == 3:
        return np.stack([
            correction_scribbles(g, p, lab, fraction=fraction, stroke_radius=stroke_radius,
                                 brush=brush)
            for g, p, lab in zip(gt, np.moveaxis(prob, 1, 0), labels)
        ])
    out = labels.astype(np.uint8, copy=True)
    offsets = _brush_offsets(brush)
    pred = prob.argmax(0) + 1
    all_pts = _class_skeletons(gt)
    queues = {}
    for c, pts in all_pts.items():
        wrong = pts[pred[pts[:, 0], pts[:, 1]] != c]
        error = 1.0 - prob[c - 1][wrong[:, 0], wrong[:, 1]]
        queues[c] = list(wrong[np.argsort(-error, kind="stable")])
    target = (labels > 0).sum() + fraction * gt.size
    while (out > 0).sum() < target and any(queues.values()):
        for c, queue in queues.items():
            while queue and out[tuple(queue[0])] == c:
                queue.pop(0)
            if not queue:
                continue
            stroke = _stroke(all_pts[c], queue.pop(0), stroke_radius)
            if not _paint_within(out, gt, stroke, c, offsets, target):
                return out
    return out
