"""Synthetic EM sections with exact membrane labels: training data for a starter model.

A network that already knows what a membrane in an electron micrograph looks
like learns a new image from a few strokes far better than one that starts
from random weights. Real labeled EM stacks come with licences that bind
the weights trained on them; these sections are drawn here, procedurally,
so a model trained on them can ship with the plugin
(:mod:`napari_greentea.starters`).

Each section holds what makes membranes hard to find in EM, each drawn at
random per section:

* cells of very different sizes side by side (a power diagram of seeds whose
  radii follow a smooth random size field, about 6 to 110 px), their
  boundaries curved by a smooth random displacement;
* in most sections, a region of processes cut lengthwise: bundles of long
  parallel cells (a power diagram in a frame stretched 3-10x along one
  direction) with fainter membranes and cytoplasm streaked along the fibres.
  Most of the ISBI 2012 membrane that a starter trained on round cells alone
  missed lay in such bundles;
* dark membranes whose width and contrast vary along them (faint stretches
  are still labeled membrane, so the network learns to close gaps);
* what is *not* membrane although it is dark: granular cytoplasm, clusters
  of vesicles (small dark rings), mitochondria (dark-rimmed, darker textured
  ellipses inside one cell) and dark blotches of uneven staining;
* the acquisition: blur, noise, uneven illumination, random gamma and
  contrast.

Labels follow :mod:`napari_greentea.sample`: 1 = membrane (a band of 5-10 px
around each boundary, as in ISBI 2012's labels), 2 = cell.
"""

from __future__ import annotations

import numpy as np

from .sample import CELL, MEMBRANE

__all__ = ["synthetic_em_section", "synthetic_em_stack"]

#: Candidate seeds drawn per section (rejected where they overlap a neighbour).
_SEED_TRIES = 6000
#: Seeds closer than this fraction of the sum of their radii are rejected.
_SEED_SPACING = 0.85
#: Share of the sections that hold a region of fibres (processes cut lengthwise).
_FIBRE_SHARE = 0.6
#: Pixels per cell of the coarse grid on which the cell-size field is drawn.
_SIZE_GRID = 16


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise, scaled to unit standard deviation."""
    from scipy import ndimage as ndi

    noise = ndi.gaussian_filter(rng.standard_normal(shape), sigma)
    return noise / (noise.std() + 1e-9)


def _cell_seeds(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Seed positions and radii: small cells in some regions, large ones in others."""
    from scipy import ndimage as ndi

    field = ndi.gaussian_filter(rng.standard_normal((h // _SIZE_GRID + 1, w // _SIZE_GRID + 1)), 2)
    field = (field - field.min()) / (np.ptp(field) + 1e-9)
    smallest, largest = np.log(rng.uniform(6, 12)), np.log(rng.uniform(40, 110))
    points, radii = np.empty((0, 2)), np.empty(0)
    for _ in range(_SEED_TRIES):
        y, x = rng.uniform(-20, h + 20), rng.uniform(-20, w + 20)
        size = field[int(np.clip(y, 0, h - 1)) // _SIZE_GRID,
                     int(np.clip(x, 0, w - 1)) // _SIZE_GRID]
        r = np.exp(smallest + (largest - smallest) * np.clip(size + rng.normal(0, 0.15), 0, 1))
        if len(radii) and np.any(np.hypot(points[:, 0] - y, points[:, 1] - x)
                                 < _SEED_SPACING * (radii + r)):
            continue
        points, radii = np.vstack([points, (y, x)]), np.append(radii, r)
    return points, radii


def _cells(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Cell ids (1..n): a power diagram of the seeds on smoothly displaced coordinates."""
    points, radii = _cell_seeds(rng, h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    amplitude = rng.uniform(3, 10)
    wy = yy + amplitude * _smooth_noise(rng, (h, w), 18)
    wx = xx + amplitude * _smooth_noise(rng, (h, w), 18)
    return _nearest(((wy - py) ** 2 + (wx - px) ** 2 - 0.6 * r * r
                     for (py, px), r in zip(points, radii, strict=True)), (h, w))


def _nearest(distances, shape: tuple[int, int]) -> np.ndarray:
    """Cell ids (1..n): each pixel goes to the seed whose (power) distance is smallest."""
    best = np.full(shape, np.inf, np.float32)
    cells = np.zeros(shape, np.int32)
    for i, d in enumerate(distances):
        closer = d < best
        best[closer] = d[closer]
        cells[closer] = i + 1
    return cells


def _fibre_cells(rng: np.random.Generator, h: int, w: int, theta: float) -> np.ndarray:
    """Cell ids (1..n) of long parallel processes: a power diagram in a frame stretched
    along the direction ``theta``, on smoothly displaced coordinates."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    amplitude = rng.uniform(2, 6)
    wy = yy + amplitude * _smooth_noise(rng, (h, w), 25)
    wx = xx + amplitude * _smooth_noise(rng, (h, w), 25)
    along = wx * np.cos(theta) + wy * np.sin(theta)
    across = -wx * np.sin(theta) + wy * np.cos(theta)
    stretch = rng.uniform(3, 10)
    span = 1.5 * max(h, w)
    n = int(rng.integers(60, 200))
    pa, pc = rng.uniform(-span, span, n), rng.uniform(-span, span, n)
    radii = rng.uniform(6, 22, n)
    return _nearest((((along - pa[i]) / stretch) ** 2 + (across - pc[i]) ** 2
                     - 0.6 * radii[i] ** 2 for i in range(n)), (h, w))


def _with_fibre_bundle(rng: np.random.Generator, cells: np.ndarray, theta: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``cells`` with a smooth random region replaced by fibres along ``theta`` (in
    ``_FIBRE_SHARE`` of the sections), and that region's mask."""
    h, w = cells.shape
    if rng.random() >= _FIBRE_SHARE:
        return cells, np.zeros((h, w), bool)
    fibres = _fibre_cells(rng, h, w, theta)
    region = _smooth_noise(rng, (h, w), 40) > rng.uniform(-0.3, 0.8)
    merged = np.where(region, fibres + cells.max() + 1, cells)
    _, ids = np.unique(merged, return_inverse=True)
    return ids.reshape(h, w).astype(np.int32) + 1, region


def _add_streaks(rng: np.random.Generator, img: np.ndarray, where: np.ndarray,
                 theta: float) -> None:
    """Texture streaked along ``theta`` (microtubules in processes cut lengthwise)."""
    from scipy import ndimage as ndi

    streak = ndi.gaussian_filter(rng.standard_normal(img.shape), (0.8, rng.uniform(6, 15)))
    streak = ndi.rotate(streak, np.degrees(theta), reshape=False, mode="reflect")
    streak /= streak.std() + 1e-9
    img += where * rng.uniform(8, 25) * streak


def _boundary_distance(cells: np.ndarray) -> np.ndarray:
    """Distance (px) of every pixel to the nearest boundary between two cells."""
    from scipy import ndimage as ndi

    edge = np.zeros(cells.shape, bool)
    edge[:-1] |= cells[:-1] != cells[1:]
    edge[:, :-1] |= cells[:, :-1] != cells[:, 1:]
    return ndi.distance_transform_edt(~edge).astype(np.float32)


def _add_vesicles(rng: np.random.Generator, img: np.ndarray, interior: np.ndarray) -> None:
    """Clusters of small dark rings, inside cells only."""
    h, w = img.shape
    for _ in range(rng.integers(10, 40)):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        for _ in range(rng.integers(3, 25)):
            vy, vx = cy + rng.normal(0, 15), cx + rng.normal(0, 15)
            r = rng.uniform(1.5, 4.5)
            y0, y1 = int(max(vy - 7, 0)), int(min(vy + 8, h))
            x0, x1 = int(max(vx - 7, 0)), int(min(vx + 8, w))
            if y1 <= y0 or x1 <= x0:
                continue
            yy, xx = np.mgrid[y0:y1, x0:x1]
            ring = np.exp(-((np.hypot(yy - vy, xx - vx) - r) ** 2) / 0.8) * rng.uniform(40, 90)
            img[y0:y1, x0:x1] -= ring * interior[y0:y1, x0:x1]


def _add_mitochondria(rng: np.random.Generator, img: np.ndarray, cells: np.ndarray,
                      interior: np.ndarray) -> None:
    """Dark-rimmed ellipses with a darker granular inside, each within one cell."""
    h, w = img.shape
    for _ in range(rng.integers(3, 16)):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        a, b = rng.uniform(6, 40), rng.uniform(4, 20)
        angle = rng.uniform(0, np.pi)
        y0, y1 = int(max(cy - 45, 0)), int(min(cy + 45, h))
        x0, x1 = int(max(cx - 45, 0)), int(min(cx + 45, w))
        if y1 <= y0 or x1 <= x0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        ly, lx = yy - cy, xx - cx
        u = (lx * np.cos(angle) + ly * np.sin(angle)) / a
        v = (-lx * np.sin(angle) + ly * np.cos(angle)) / b
        rr = np.sqrt(u * u + v * v)
        host = cells[int(np.clip(cy, 0, h - 1)), int(np.clip(cx, 0, w - 1))]
        own = (cells[y0:y1, x0:x1] == host) & interior[y0:y1, x0:x1]
        inside = (rr < 1) & own
        rim = np.exp(-((rr - 1) * min(a, b)) ** 2 / 1.5) * own
        darker = rng.uniform(20, 80) + 15 * rng.standard_normal(inside.shape)
        img[y0:y1, x0:x1] -= inside * darker + rim * rng.uniform(20, 70)


def synthetic_em_section(shape: tuple[int, int] = (512, 512), *, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray]:
    """One EM-like section (uint8) and its labels (1 = membrane, 2 = cell)."""
    from scipy import ndimage as ndi

    h, w = shape
    if h < 32 or w < 32:
        raise ValueError(f"a synthetic EM section needs at least 32 x 32 pixels, got {shape}")
    rng = np.random.default_rng(seed)
    cells = _cells(rng, h, w)
    theta = rng.uniform(0, np.pi)  # direction of the fibres
    cells, fibre_region = _with_fibre_bundle(rng, cells, theta)
    dist = _boundary_distance(cells)
    typical_half_width = rng.uniform(1.0, 3.5)  # of the dark membrane
    half_width = typical_half_width * np.clip(1 + 0.3 * _smooth_noise(rng, (h, w), 25), 0.5, 1.6)
    label_half = max(typical_half_width, 2.0) + rng.uniform(0.5, 1.5)
    labels = np.where(dist <= label_half, MEMBRANE, CELL).astype(np.uint8)
    interior = labels == CELL

    img = rng.uniform(160, 190, cells.max() + 1)[cells].astype(np.float32)
    for sigma, (lo, hi) in ((0.6, (15, 35)), (1.5, (8, 20)), (8, (0, 12))):
        img += rng.uniform(lo, hi) * _smooth_noise(rng, (h, w), sigma)
    if fibre_region.any():
        _add_streaks(rng, img, fibre_region & interior, theta)
    _add_vesicles(rng, img, interior)
    _add_mitochondria(rng, img, cells, interior)
    img -= np.clip(_smooth_noise(rng, (h, w), 30) - 1.5, 0, None) * rng.uniform(0, 40)

    contrast = np.clip(0.75 + rng.uniform(0.1, 0.35) * _smooth_noise(rng, (h, w), 10), 0.25, 1)
    fibre_dimming = rng.uniform(0.4, 0.9)  # membranes between fibres are fainter
    contrast = np.where(fibre_region, contrast * fibre_dimming, contrast)
    profile = np.exp(-(dist**2) / (2 * half_width**2)) * contrast
    membrane_grey = rng.uniform(40, 90) + 10 * rng.standard_normal((h, w))
    img = img * (1 - profile) + profile * membrane_grey

    img = ndi.gaussian_filter(img, rng.uniform(0.4, 1.0))
    img += rng.normal(0, rng.uniform(6, 18), (h, w))
    img += 15 * rng.uniform(0, 1) * _smooth_noise(rng, (h, w), 80)
    img = (np.clip(img, 0, 255) / 255) ** rng.uniform(0.7, 1.4)
    img = (img - img.mean()) * rng.uniform(0.8, 1.2) + rng.uniform(0.45, 0.6)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8), labels


def synthetic_em_stack(n: int, shape: tuple[int, int] = (512, 512), *, seed: int = 0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` independent sections ``(n, Y, X)``: section ``i`` is drawn with seed ``seed + i``."""
    if n < 1:
        raise ValueError(f"need at least one section, got {n}")
    pairs = [synthetic_em_section(shape, seed=seed + i) for i in range(n)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
