"""Filter-bank input channels and forest + network ensembles, 60 s of strokes.

Per seed, on the same strokes (slices 0-4, 2 %): the random forest; the
interactive recipe (``ema2``: EMA 0.99, 2 torch threads) for 60 s of wall
clock; the same network reading the image *and its 42 filter-bank
responses* as input channels (``feat_ema2``); and the averages of their
cell probabilities. Thinned V_rand / V_info on slices 10-19 and 20-29 (TTA
on 20-29 for the networks). The probability maps are saved for
``explore_segment_sweep.py``.

Usage: python benchmarks/explore_ensemble.py 0,1,2 --probs /tmp/probs
Prints JSON rows; writes benchmarks/results/scribbles_ensemble.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench_scribbles import RESULTS, TRAIN, load, scores, strokes
from explore_scribbles import feature_planes
from forest import forest_probability
from scribble_methods import METHODS
from scribble_proto import Proto

from napari_greentea.channels import ChannelImage
from napari_greentea.preprocess import preprocess_image

RANGES = {"10:20": slice(10, 20), "20:30": slice(20, 30)}


def network_maps(name: str, raw, labels, seed: int, seconds: float = 60.0) -> dict:
    method = METHODS[name]
    features = method.extra.get("features")
    train = (preprocess_image(ChannelImage(feature_planes(raw[TRAIN]), 1)) if features
             else preprocess_image(raw[TRAIN]))
    proto = Proto(method, train, labels, seed=seed)
    tic = time.perf_counter()
    while time.perf_counter() - tic < seconds:
        proto.step()
    maps = {}
    for rng, sl in RANGES.items():
        image = feature_planes(raw[sl]) if features else raw[sl]
        maps[(name, rng)] = proto.predict(image)[-1]
        if rng == "20:30":
            proto.m = method.with_(tta=True)
            maps[(name + "_tta", rng)] = proto.predict(image)[-1]
            proto.m = method
    print(json.dumps({"method": name, "seed": seed, "iterations": proto.iteration}), flush=True)
    return maps


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("seeds", default="0,1,2")
    p.add_argument("--probs", type=Path, default=None, help="folder for the probability maps")
    args = p.parse_args()
    raw, gt = load()
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        labels = strokes(gt, seed)
        maps = {("forest", rng): forest_probability(raw[TRAIN], labels, raw[sl], seed=seed)
                for rng, sl in RANGES.items()}
        for name in ("ema2", "feat_ema2"):
            maps.update(network_maps(name, raw, labels, seed))
        if args.probs is not None:
            args.probs.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(args.probs / f"probs_s{seed}.npz",
                                **{f"{a}|{b}": v for (a, b), v in maps.items()})
        for rng, sl in RANGES.items():
            combos = {k[0]: v for k, v in maps.items() if k[1] == rng}
            combos["ema2+forest"] = (maps[("ema2", rng)] + maps[("forest", rng)]) / 2
            combos["feat+forest"] = (maps[("feat_ema2", rng)] + maps[("forest", rng)]) / 2
            combos["ema2+feat"] = (maps[("ema2", rng)] + maps[("feat_ema2", rng)]) / 2
            if rng == "20:30":
                combos["ema2_tta+forest"] = (maps[("ema2_tta", rng)] + maps[("forest", rng)]) / 2
            for name, prob in combos.items():
                row = {"seed": seed, "test": rng, "method": name, **scores(prob, gt[sl])}
                print(json.dumps(row), flush=True)
                rows.append(row)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scribbles_ensemble.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
