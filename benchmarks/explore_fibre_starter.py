"""Prototype (phase 13 of results/scribbles_explore.md): a starter from synthetic sections
that also hold bundles of parallel processes cut lengthwise.

On ISBI 2012, after 60 s of strokes from the shipped starter, most missed membrane lies
along such bundles: long processes side by side, faint membranes, streaked cytoplasm.
``section`` is ``napari_greentea.synthetic_em.synthetic_em_section`` plus, in 60 % of
sections, a region of elongated cells (a power diagram in a frame stretched 3-10x along
one direction) with 0.4-0.9x the membrane contrast and streaks along the fibres.

  python explore_fibre_starter.py --output /tmp/syn4_u10.npz     # 10 min, as the shipped one
  python bench_scribbles.py --methods start --start-from /tmp/syn4_u10.npz --seeds 0,1,2 \\
      --times 0,60 --tta-methods start --tag syn4_proto
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

import napari_greentea.synthetic_em as se
from napari_greentea.sample import CELL, MEMBRANE


def _fibres(rng, h, w, theta):
    """Elongated cells: a power diagram in a frame stretched along ``theta``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    amp = rng.uniform(2, 6)
    wy = yy + amp * se._smooth_noise(rng, (h, w), 25)
    wx = xx + amp * se._smooth_noise(rng, (h, w), 25)
    u = wx * np.cos(theta) + wy * np.sin(theta)
    v = -wx * np.sin(theta) + wy * np.cos(theta)
    stretch = rng.uniform(3, 10)
    best = np.full((h, w), np.inf, np.float32)
    cells = np.zeros((h, w), np.int32)
    span = 1.5 * max(h, w)
    n = int(rng.integers(60, 200))
    pu, pv = rng.uniform(-span, span, n), rng.uniform(-span, span, n)
    r = rng.uniform(6, 22, n)
    for i in range(n):
        d = ((u - pu[i]) / stretch) ** 2 + (v - pv[i]) ** 2 - 0.6 * r[i] ** 2
        closer = d < best
        best[closer] = d[closer]
        cells[closer] = i + 1
    return cells


def section(shape=(512, 512), seed=0):
    h, w = shape
    rng = np.random.default_rng(seed)
    cells = se._cells(rng, h, w)
    fibre_region = np.zeros((h, w), bool)
    theta = rng.uniform(0, np.pi)
    if rng.random() < 0.6:
        fib = _fibres(rng, h, w, theta)
        fibre_region = se._smooth_noise(rng, (h, w), 40) > rng.uniform(-0.3, 0.8)
        cells = np.where(fibre_region, fib + cells.max() + 1, cells)
        _, cells = np.unique(cells, return_inverse=True)
        cells = cells.reshape(h, w) + 1
    dist = se._boundary_distance(cells)
    typical = rng.uniform(1.0, 3.5)
    half_width = typical * np.clip(1 + 0.3 * se._smooth_noise(rng, (h, w), 25), 0.5, 1.6)
    label_half = max(typical, 2.0) + rng.uniform(0.5, 1.5)
    labels = np.where(dist <= label_half, MEMBRANE, CELL).astype(np.uint8)
    interior = labels == CELL
    img = rng.uniform(160, 190, cells.max() + 1)[cells].astype(np.float32)
    for sigma, (lo, hi) in ((0.6, (15, 35)), (1.5, (8, 20)), (8, (0, 12))):
        img += rng.uniform(lo, hi) * se._smooth_noise(rng, (h, w), sigma)
    if fibre_region.any():  # streaks along the fibres (microtubules)
        streak = ndi.gaussian_filter(rng.standard_normal((h, w)), (0.8, rng.uniform(6, 15)))
        streak = ndi.rotate(streak, np.degrees(theta), reshape=False, mode="reflect")
        streak /= streak.std() + 1e-9
        img += fibre_region * interior * rng.uniform(8, 25) * streak
    se._add_vesicles(rng, img, interior)
    se._add_mitochondria(rng, img, cells, interior)
    img -= np.clip(se._smooth_noise(rng, (h, w), 30) - 1.5, 0, None) * rng.uniform(0, 40)
    contrast = np.clip(0.75 + rng.uniform(0.1, 0.35) * se._smooth_noise(rng, (h, w), 10), 0.25, 1)
    contrast = np.where(fibre_region, contrast * rng.uniform(0.4, 0.9), contrast)  # fainter
    profile = np.exp(-(dist**2) / (2 * half_width**2)) * contrast
    membrane_grey = rng.uniform(40, 90) + 10 * rng.standard_normal((h, w))
    img = img * (1 - profile) + profile * membrane_grey
    img = ndi.gaussian_filter(img, rng.uniform(0.4, 1.0))
    img += rng.normal(0, rng.uniform(6, 18), (h, w))
    img += 15 * rng.uniform(0, 1) * se._smooth_noise(rng, (h, w), 80)
    img = (np.clip(img, 0, 255) / 255) ** rng.uniform(0.7, 1.4)
    img = (img - img.mean()) * rng.uniform(0.8, 1.2) + rng.uniform(0.45, 0.6)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8), labels


def stack(n, shape=(512, 512), *, seed=0):
    pairs = [section(shape, seed=seed + i) for i in range(n)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import make_em_starter

    make_em_starter.synthetic_em_stack = stack
    make_em_starter.main()
