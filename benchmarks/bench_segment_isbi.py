"""Instance quality of Segment on ISBI 2012 slices 20-29: watershed vs threshold.

Takes a trained checkpoint (e.g. the 60-s scribble model of
``bench_isbi_quality.py --scribbles --seconds 60 --balance histeq --save m.npz``),
predicts slices 20-29 and scores the instance labels of each method as they
are (``metrics.instance_scores``), next to the thinned ISBI V_rand of the same
probability map, plus merge/split counts on slice 20 and on all ten slices.

``--tta`` predicts with the 8 flips and rotations averaged (the Predict
widget's TTA box); ``--slices lo:hi`` scores other slices (default 20:30; the
merge counts of "slice 20" are then those of slice ``lo``).

Usage: python benchmarks/bench_segment_isbi.py m.npz [--tag name] [--tta]
Writes benchmarks/results/segment_isbi_<tag>.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import tifffile

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.metrics import instance_scores, isbi_scores, merge_split_counts
from napari_greentea.predict import build_predictor, predict_image
from napari_greentea.segment import BOUNDARY_CHANNEL, boundary_from_classes, segment

DATA = Path(os.environ.get("GREENTEA_DATA_DIR", Path(__file__).resolve().parents[2]
                           / "shared" / "data" / "isbi2012"))
RESULTS = Path(__file__).parent / "results"
SETTINGS = {
    "watershed (distance seeds)": {"method": "watershed", "seeds": "distance"},
    "watershed (h-minima seeds)": {"method": "watershed", "seeds": "hminima"},
    "threshold + components": {"method": "threshold"},
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("--tag", default="scribbles60")
    p.add_argument("--backend", default="torch-cpu")
    p.add_argument("--tta", action="store_true", help="average the 8 flips and rotations")
    p.add_argument("--slices", default="20:30", help="slices lo:hi to score")
    args = p.parse_args()

    lo, hi = (int(v) for v in args.slices.split(":"))
    raw = tifffile.imread(DATA / "train-volume.tif")[lo:hi]
    truth = tifffile.imread(DATA / "train-labels.tif")[lo:hi] > 0
    ckpt = Checkpoint.load(args.checkpoint)
    predictor = build_predictor(ckpt, args.backend, tta=args.tta)
    prob = predict_image(predictor, predictor.graph, raw, block=256,
                         preprocess=ckpt.preprocess)
    boundary = boundary_from_classes(prob, BOUNDARY_CHANNEL)
    thinned = isbi_scores(1.0 - boundary, truth)
    result = {"checkpoint": args.checkpoint, "iterations": ckpt.iteration, "tta": args.tta,
              "slices": args.slices,
              "thinned_isbi_v_rand": thinned["v_rand"], "thinned_isbi_v_info": thinned["v_info"],
              "methods": {}}
    for name, options in SETTINGS.items():
        tic = time.perf_counter()
        labels = segment(boundary, **options)
        seconds = time.perf_counter() - tic
        result["methods"][name] = {
            "options": options, "seconds_10_slices": round(seconds, 1),
            **instance_scores(labels, truth),
            "slice_20": merge_split_counts(labels[0], truth[0]),
            "slices_20_29": merge_split_counts(labels, truth),
            "objects_per_slice": float(np.mean([len(np.unique(s[s > 0])) for s in labels])),
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"segment_isbi_{args.tag}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
