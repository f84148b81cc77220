"""Can Segment's settings alone bring merges on ISBI slice 20 under 5 %?

Reads the 60-s probability maps that ``explore_ensemble.py --probs DIR``
saved (method ``ema2`` by default), or, with ``--checkpoints A.npz,B.npz``,
predicts slices 10-29 with each model (``--tta``: the 8 flips and rotations
averaged) and keeps the maps in DIR as ``probs_s{i}.npz``; then segments
slices 10-19 and 20-29 with a grid of watershed settings (distance seeds:
peak/saddle depth x interior threshold; h-minima seeds: depth) and reports
the mean over seeds of the instance V_rand, merge % and split %
(``metrics.merge_split_counts``), and those of slice 20 alone.

``--min-sizes 50,25,0`` sweeps Segment's small-object size with the default
seeds instead of the seed grid.

Choose settings on slices 10-19 (no strokes there, no scores reported from
them anywhere else) and read 20-29 only for the chosen ones.

Usage: python benchmarks/explore_segment_sweep.py /tmp/probs --method ema2
       python benchmarks/explore_segment_sweep.py /tmp/probs --checkpoints m0.npz,m1.npz --tta
"""

from __future__ import annotations

import argparse
import collections
import json
import os
from pathlib import Path

import numpy as np
import tifffile

from napari_greentea.metrics import instance_scores, merge_split_counts
from napari_greentea.segment import DEFAULT_MIN_SIZE, segment

DATA = Path(os.environ.get("GREENTEA_DATA_DIR", Path(__file__).resolve().parents[2]
                           / "shared" / "data" / "isbi2012"))
SETTINGS = ([("distance", d, t) for d in (1.3, 1.6, 2.0, 2.5, 3.0) for t in (0.3, 0.5, 0.7)]
            + [("hminima", d, 0.5) for d in (0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3)])
RANGES = {"10:20": slice(10, 20), "20:30": slice(20, 30)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("probs", type=Path)
    p.add_argument("--method", default="ema2")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--checkpoints", help="comma-separated models to predict with first")
    p.add_argument("--tta", action="store_true", help="predict with the 8 flips and rotations")
    p.add_argument("--min-sizes", help="comma-separated min_size values to sweep with the "
                   "default seeds instead of the seed grid")
    args = p.parse_args()
    settings = ([("distance", 2.0, 0.5, int(m)) for m in args.min_sizes.split(",")]
                if args.min_sizes else [(*s, DEFAULT_MIN_SIZE) for s in SETTINGS])
    truth = tifffile.imread(DATA / "train-labels.tif") > 0
    if args.checkpoints:
        paths = args.checkpoints.split(",")
        predict_maps(paths, args.probs, args.method, args.tta)
        args.seeds = ",".join(str(i) for i in range(len(paths)))
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        maps = np.load(args.probs / f"probs_s{seed}.npz")
        for rng, sl in RANGES.items():
            cell = maps[f"{args.method}|{rng}"]
            for kind, depth, threshold, min_size in settings:
                seg = segment(1 - cell, seeds=kind, seed_depth=depth, threshold=threshold,
                              min_size=min_size)
                counts = merge_split_counts(seg, truth[sl])
                row = {"seed": seed, "slices": rng, "seeds": kind, "depth": depth,
                       "threshold": threshold, "min_size": min_size,
                       **instance_scores(seg, truth[sl]),
                       "merge_percent": counts["merge_percent"],
                       "split_percent": counts["split_percent"]}
                if rng == "20:30":
                    first = merge_split_counts(seg[0], truth[20])
                    row["slice_20"] = {k: first[k] for k in ("merge_percent", "split_percent")}
                rows.append(row)
    groups = collections.defaultdict(list)
    for row in rows:
        groups[(row["slices"], row["seeds"], row["depth"], row["threshold"],
                row["min_size"])].append(row)
    for key, group in sorted(groups.items()):
        mean = {k: float(np.mean([r[k] for r in group]))
                for k in ("v_rand", "merge_percent", "split_percent")}
        if key[0] == "20:30":
            for k in ("merge_percent", "split_percent"):
                mean[f"slice_20_{k}"] = float(np.mean([r["slice_20"][k] for r in group]))
        print(json.dumps({"slices": key[0], "seeds": key[1], "depth": key[2],
                          "threshold": key[3], "min_size": key[4],
                          **{k: round(v, 3) for k, v in mean.items()}}))


def predict_maps(paths: list[str], out: Path, method: str, tta: bool) -> None:
    """Cell probability of slices 10-29 per model, as ``explore_ensemble.py`` saves them."""
    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.predict import build_predictor, predict_image

    raw = tifffile.imread(DATA / "train-volume.tif")
    out.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(paths):
        target = out / f"probs_s{i}.npz"
        if target.exists():
            continue
        ckpt = Checkpoint.load(path)
        predictor = build_predictor(ckpt, tta=tta)
        maps = {f"{method}|{rng}": predict_image(predictor, predictor.graph, raw[sl],
                                                 preprocess=ckpt.preprocess)[-1]
                for rng, sl in RANGES.items()}
        np.savez_compressed(target, **maps)


if __name__ == "__main__":
    main()
