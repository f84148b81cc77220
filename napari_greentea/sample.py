"""Sample data shared by the CLI and the napari sample menu.

* :func:`synthetic_membranes`: an offline, procedurally generated EM-like
  image (cells with dark membranes, vesicles, texture, blur and noise) with
  its ground truth, so everything works without a download.
* :func:`load_isbi2012`: the ISBI 2012 stacks, from ``GREENTEA_DATA_DIR``
  when it holds the TIFFs, else downloaded once with pooch and verified by
  the sha256 of the pixel data.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

MEMBRANE, CELL = 1, 2
CLASS_NAMES = ("membrane", "cell")

ISBI_URL = "https://downloads.imagej.net/ISBI-2012-challenge.zip"
ISBI_FILES = {
    "train-volume": "200da3d452d726e6c9ca1ce04b869d4edb727320d23b516d01cce707dc8c4760",
    "train-labels": "a7cb64000a1a7e542682927e19c91339f58f9f178e0bcce4e207371116f0ca36",
    "test-volume": "1b58fa7ec1d0ff9d39a855622db3ff66a97863036339b0d04be51b2f5a99b0e9",
}
ISBI_CITATION = (
    "ISBI 2012 EM segmentation challenge (Drosophila first instar larva VNC, ssTEM): "
    "Arganda-Carreras et al., Front. Neuroanat. 2015, doi:10.3389/fnana.2015.00142; "
    "Cardona et al., PLoS Biol. 2010, doi:10.1371/journal.pbio.1000502. "
    "Data: https://imagej.net/events/isbi-2012-segmentation-challenge"
)
DOWNLOAD_TIMEOUT_S = 30


def synthetic_membranes(
    shape: tuple[int, ...] = (256, 256), *, cell_size: float = 24.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """An EM-like image (uint8) and its labels (1 = membrane, 2 = cell).

    ``shape`` is (Y, X) or (Z, Y, X); slices of a stack are independent
    draws. Cells are Voronoi regions of jittered-grid seeds; membranes are
    their 2-3 px boundaries; interiors carry texture and dark vesicles that a
    threshold alone cannot separate from membranes.
    """
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    if len(shape) == 3:
        pairs = [synthetic_membranes(shape[1:], cell_size=cell_size, seed=int(s))
                 for s in rng.integers(0, 2**31, shape[0])]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    h, w = shape
    gy, gx = np.mgrid[0 : h + cell_size : cell_size, 0 : w + cell_size : cell_size]
    jitter = rng.uniform(-0.45, 0.45, (gy.size, 2)) * cell_size
    seeds = np.stack([gy.ravel(), gx.ravel()], 1) + jitter
    markers = np.zeros((h, w), np.int32)
    inside = (seeds[:, 0] >= 0) & (seeds[:, 0] < h) & (seeds[:, 1] >= 0) & (seeds[:, 1] < w)
    pts = seeds[inside].astype(int)
    markers[pts[:, 0], pts[:, 1]] = np.arange(1, len(pts) + 1)
    _, (iy, ix) = ndi.distance_transform_edt(markers == 0, return_indices=True)
    cells = markers[iy, ix]
    edge = np.zeros((h, w), bool)
    edge[:-1] |= cells[:-1] != cells[1:]
    edge[:, :-1] |= cells[:, :-1] != cells[:, 1:]
    membrane = ndi.binary_dilation(edge, iterations=1)
    labels = np.where(membrane, MEMBRANE, CELL).astype(np.uint8)

    brightness = rng.uniform(150, 200, cells.max() + 1)[cells]
    texture = ndi.gaussian_filter(rng.standard_normal((h, w)), 3) * 40
    img = brightness + texture
    n_ves = int(h * w / cell_size**2)
    vy, vx = rng.uniform(0, h, n_ves), rng.uniform(0, w, n_ves)
    yy, xx = np.mgrid[0:h, 0:w]
    for cy, cx, r in zip(vy, vx, rng.uniform(1.5, 3.0, n_ves), strict=True):
        disk = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        img[disk & ~membrane] -= 70
    img[membrane] = rng.uniform(55, 85)
    img = ndi.gaussian_filter(img, 1.0) + rng.normal(0, 14, (h, w))
    return np.clip(img, 0, 255).astype(np.uint8), labels


def pixel_sha256(array: np.ndarray) -> str:
    """sha256 of the C-order uint8 pixel bytes (container independent)."""
    return hashlib.sha256(np.ascontiguousarray(array, np.uint8).tobytes()).hexdigest()


class DataUnavailable(RuntimeError):
    """The ISBI data could not be found or downloaded; the message says how to fix it."""


def _from_folder(folder: Path, name: str) -> np.ndarray | None:
    import tifffile

    path = folder / f"{name}.tif"
    return tifffile.imread(path) if path.exists() else None


def _download(name: str) -> np.ndarray:
    import pooch
    import tifffile

    cache = Path(os.environ.get("GREENTEA_CACHE_DIR", pooch.os_cache("napari-greentea")))
    try:
        files = pooch.retrieve(
            ISBI_URL,
            known_hash=None,
            path=cache,
            processor=pooch.Unzip(),
            downloader=pooch.HTTPDownloader(timeout=DOWNLOAD_TIMEOUT_S, progressbar=False),
        )
    except Exception as err:
        raise DataUnavailable(
            f"could not download the ISBI 2012 data from {ISBI_URL} ({err}). Download it "
            "by hand and set GREENTEA_DATA_DIR to the folder holding train-volume.tif, "
            "train-labels.tif and test-volume.tif."
        ) from err
    match = [f for f in files if Path(f).name == f"{name}.tif"]
    if not match:
        raise DataUnavailable(f"{ISBI_URL} did not contain {name}.tif (got {files})")
    return tifffile.imread(match[0])


def load_isbi2012(name: str = "train-volume", *, verify: bool = True) -> np.ndarray:
    """One ISBI 2012 stack (30 x 512 x 512 uint8): train-volume/-labels, test-volume."""
    if name not in ISBI_FILES:
        raise ValueError(f"unknown ISBI file {name!r}; accepted: {list(ISBI_FILES)}")
    folder = os.environ.get("GREENTEA_DATA_DIR")
    array = _from_folder(Path(folder), name) if folder else None
    if array is None:
        array = _download(name)
    if verify and pixel_sha256(array) != ISBI_FILES[name]:
        raise DataUnavailable(
            f"{name}: pixel sha256 {pixel_sha256(array)} does not match the published "
            f"{ISBI_FILES[name]}; the file is corrupt or not the ISBI 2012 data"
        )
    return array


def isbi_labels_to_classes(labels: np.ndarray) -> np.ndarray:
    """Map ISBI train-labels (0 = membrane, 255 = cell) to 1 = membrane, 2 = cell."""
    labels = np.asarray(labels)
    values = set(np.unique(labels).tolist())
    if not values <= {0, 255}:
        raise ValueError(f"ISBI labels must hold only 0 and 255, found {sorted(values)[:10]}")
    return np.where(labels > 0, CELL, MEMBRANE).astype(np.uint8)
