"""Does averaging over offsets of the pooling grid add to the 8-flip TTA?

A depth-4 U-Net pools on a 16-px grid, so its answer depends on where that
grid falls on the image. For each checkpoint, slices 20-29 are predicted with
the 8 flips and rotations at grid offsets (0, 0), (0, 8), (8, 0) and (8, 8)
(the image padded by reflection on the top / left, the padding cut from the
output), and V_rand (thinned, best threshold) is reported for the unshifted
map, the mean with the diagonal offset and the mean of all four.

Usage: python benchmarks/explore_shift_tta.py m0.npz [m1.npz ...] [--backend opencl]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import tifffile

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.metrics import isbi_scores
from napari_greentea.predict import build_predictor, predict_image

DATA = Path(os.environ.get("GREENTEA_DATA_DIR", Path(__file__).resolve().parents[2]
                           / "shared" / "data" / "isbi2012"))
SHIFT = 8


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--backend", default="opencl")
    args = p.parse_args()
    raw = tifffile.imread(DATA / "train-volume.tif")[20:30]
    gt = tifffile.imread(DATA / "train-labels.tif")[20:30]
    for path in args.checkpoints:
        model = Checkpoint.load(path)
        predictor = build_predictor(model, args.backend, tta=True)
        maps = {}
        for dy, dx in ((0, 0), (0, SHIFT), (SHIFT, 0), (SHIFT, SHIFT)):
            padded = np.pad(raw, ((0, 0), (dy, 0), (dx, 0)), mode="reflect")
            prob = predict_image(predictor, predictor.graph, padded, preprocess=model.preprocess)
            maps[dy, dx] = prob[-1, :, dy:, dx:]
        one = maps[0, 0]
        diagonal = (one + maps[SHIFT, SHIFT]) / 2
        four = np.mean(list(maps.values()), axis=0)
        v = [isbi_scores(m, gt > 0)["v_rand"] for m in (one, diagonal, four)]
        print(f"{Path(path).name}: TTA {v[0]:.4f}, with the diagonal offset {v[1]:.4f}, "
              f"four offsets {v[2]:.4f}", flush=True)


if __name__ == "__main__":
    main()
