"""Exploration: dense ISBI training from the starter with elastic deformation added to
the training augmentation (the core's augmenter has mirror, rotation, blur and
intensity only).

Elastic deformation was the augmentation the U-Net authors credit for learning ISBI
from 30 slices. Here it is patched onto :class:`Augmenter` for one benchmark run:
a smooth random displacement field (a ``grid`` x ``grid`` lattice of Gaussian
offsets with ``--elastic-px`` standard deviation, cubic-interpolated to the patch)
moves the image (linear interpolation) and the centred label patch (nearest; pixels
pulled from outside it become unlabeled) together. Everything else is
``bench_isbi_quality.py`` with its own options.

Usage: python benchmarks/explore_dense_elastic.py --elastic-px 2 -- --init-from em-membranes \
           --minutes 14 --lr 3e-4 --balance none --train-extra '{"average": 0.998}' --tta \
           --tag u_starter_dense_elastic2
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from napari_greentea.data import augment


def elastic_field(shape: tuple[int, int], rng: np.random.Generator, px: float,
                  grid: int) -> np.ndarray:
    """``(2, H, W)`` displacement: Gaussian offsets on a coarse lattice, cubic-upsampled."""
    coarse = rng.normal(0.0, px, size=(2, grid, grid))
    zoom = (shape[0] / grid, shape[1] / grid)
    return np.stack([ndi.zoom(c, zoom, order=3, mode="nearest")[: shape[0], : shape[1]]
                     for c in coarse])


def deform(image: np.ndarray, labels: np.ndarray, field: np.ndarray):
    """Move ``image`` (``(Y, X)`` or ``(C, Y, X)``) and its centred ``labels`` by ``field``."""
    h, w = image.shape[-2:]
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = np.stack([yy + field[0], xx + field[1]])
    planes = image.reshape(-1, h, w)
    moved = np.stack([ndi.map_coordinates(p, coords, order=1, mode="mirror") for p in planes])
    lh, lw = labels.shape
    my, mx = (h - lh) // 2, (w - lw) // 2
    inner = coords[:, my : my + lh, mx : mx + lw] - np.array([my, mx])[:, None, None]
    lab = ndi.map_coordinates(labels, inner, order=0, mode="constant", cval=0)
    return moved.reshape(image.shape).astype(np.float32), lab.astype(labels.dtype)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--elastic-px", type=float, default=2.0)
    p.add_argument("--grid", type=int, default=4)
    args, rest = p.parse_known_args()
    rest = [a for a in rest if a != "--"]
    plain = augment.Augmenter.__call__

    def with_elastic(self, image, labels):
        image, labels = plain(self, image, labels)
        if not self.enabled:
            return image, labels
        field = elastic_field(image.shape[-2:], self.rng, args.elastic_px, args.grid)
        return deform(image, labels, field)

    augment.Augmenter.__call__ = with_elastic
    bench = Path(__file__).with_name("bench_isbi_quality.py")
    sys.argv = [str(bench), *rest]
    runpy.run_path(str(bench), run_name="__main__")


if __name__ == "__main__":
    main()
