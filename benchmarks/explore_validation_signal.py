"""Which score on the held-out strokes follows V_rand on unseen slices?

The core keeps weights on the balanced accuracy of held-out strokes
(``HeldOutStrokes``). On ISBI that accuracy stays within 0.02 of its best
while V_rand on slices 20-29 falls by 0.1 (``scribbles_explore.md``,
phase 7-8). V_rand falls when membranes get gaps, and a gap costs only a few
pixels of accuracy. This script scores the models ``bench_scribbles.py
--methods pre-both --save-dir DIR`` saved (served and latest weights at every
time point) on the held-out strokes of the same run with several scores, and
prints each score's rank correlation with the V_rand of the run's rows:

* ``balanced``: the core's score (mean recall of membrane and cell strokes);
* ``membrane`` / ``cell``: the recall of each class alone;
* ``intact``: the share of held-out membrane stroke pieces (8-connected, per
  validation tile) predicted membrane at every pixel: a gap breaks a piece;
* ``min_prob``: the mean over those pieces of their lowest membrane probability.

Usage: python benchmarks/explore_validation_signal.py DIR --tag TAG [--seeds 0,1]
(``TAG``: the run's ``scribbles_<TAG>.json``). Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bench_scribbles import RESULTS, TRAIN, load, make_trainer, strokes


def stroke_scores(prob: np.ndarray, targets: np.ndarray, membrane: int = 1) -> dict:
    """The scores above for class probabilities ``prob`` (N, K, Y, X) of ``targets``."""
    from scipy import ndimage as ndi

    from napari_greentea.data.holdout import balanced_accuracy

    pred = prob.argmax(1) + 1
    recall = {c: float((pred[targets == c] == c).mean()) for c in np.unique(targets) if c > 0}
    intact, lowest = [], []
    for tile_prob, tile_pred, tile in zip(prob[:, membrane - 1], pred, targets, strict=True):
        pieces, count = ndi.label(tile == membrane, structure=np.ones((3, 3)))
        for k in range(1, count + 1):
            where = pieces == k
            intact.append(bool((tile_pred[where] == membrane).all()))
            lowest.append(float(tile_prob[where].min()))
    return {"balanced": balanced_accuracy(prob, targets), "membrane": recall.get(membrane),
            "cell": recall.get(3 - membrane), "intact": float(np.mean(intact)),
            "min_prob": float(np.mean(lowest))}


def spearman(a, b) -> float:
    ra, rb = (np.argsort(np.argsort(v)).astype(float) for v in (a, b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> None:
    from napari_greentea.checkpoint import Checkpoint

    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--tag", required=True)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--method", default="pre-both")
    args = p.parse_args()
    raw, gt = load()
    rows = json.loads((RESULTS / f"scribbles_{args.tag}.json").read_text())["rows"]
    table = []
    for seed in (int(s) for s in args.seeds.split(",")):
        mine = [r for r in rows if r["seed"] == seed and r["method"] == args.method]
        if not mine:
            continue
        first = Checkpoint.load(Path(args.dir) / f"{args.method}_s{seed}_{mine[0]['time']:g}s.npz")
        trainer = make_trainer(args.method, raw[TRAIN], strokes(gt, seed), seed, init=first)
        held = trainer.held_out
        for row in mine:
            for kind, v_rand in (("served", row["v_rand"]), ("latest", row["latest"]["v_rand"])):
                suffix = "_latest" if kind == "latest" else ""
                path = Path(args.dir) / f"{args.method}_s{seed}_{row['time']:g}s{suffix}.npz"
                predict = trainer.backend.build(trainer.graph, Checkpoint.load(path).weights)
                prob = held.probabilities(predict)
                table.append({"seed": seed, "time": row["time"], "weights": kind,
                              "v_rand": v_rand, **stroke_scores(prob, held.targets)})
                print(json.dumps(table[-1]), flush=True)
    names = ("balanced", "membrane", "cell", "intact", "min_prob")
    print("\n| seeds | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for seed in [*sorted({t["seed"] for t in table}), "all"]:
        rows_ = [t for t in table if seed == "all" or t["seed"] == seed]
        if seed == "all":  # pooled: V_rand and scores relative to each seed's mean
            def centred(key, rs=rows_):
                means = {s: np.mean([t[key] for t in rs if t["seed"] == s]) for s in
                         {t["seed"] for t in rs}}
                return [t[key] - means[t["seed"]] for t in rs]
        else:
            def centred(key, rs=rows_):
                return [t[key] for t in rs]
        cells = [f"{spearman(centred(n), centred('v_rand')):+.2f}" for n in names]
        print(f"| {seed} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
