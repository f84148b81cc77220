"""Phase-1 exploration of scribble-learning methods (prototype loop, named methods).

The final benchmark on the integrated core is bench_scribbles.py; this
script ran the comparisons logged in results/scribbles_explore.md.

A seeded simulated annotator (napari_greentea.data.scribbles, brush 3 px)
paints membrane centre lines and cell cores on <= 2 % of the pixels of
slices 0-4. Each method trains on them; V_rand / V_info / pixel error
(thinned, best threshold, napari_greentea.metrics.isbi_scores) on slices
20-29 are measured at several training times; the clock is paused while
evaluating. A random forest on ilastik's filter bank runs on the same
strokes in the same run.

``--budget iterations`` converts each time point into the iteration count
that the method reaches in that time on an idle machine (its step time is
measured first, minimum over 15 steps), so that CPU contention from other
processes does not distort comparisons; ``--budget seconds`` uses the wall
clock.

``--budget cpu`` counts CPU seconds of the (1-thread) training process.

``pre_<method>``: <method> started from self-supervised pretraining
(``pretrain_proto.py``: regress the filter bank of slices 0-19, no labels)
for ``--pretrain`` CPU seconds, run once and shared by the seeds.

Usage:
  python benchmarks/explore_scribbles.py --methods old,ema --seeds 0,1,2 --budget cpu \
      --times 100,200 --test 15:20 --tta --tag sel
  python benchmarks/explore_scribbles.py --methods pre_ema,ema --pretrain 300 --seeds 0,1,2 \
      --budget cpu --times 100 --test 20:30 --tta --tag pre300
Writes benchmarks/results/scribbles_<tag>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
from bench_scribbles import RESULTS, TRAIN, load, run_forest, scores, strokes

from napari_greentea.preprocess import preprocess_image


def feature_planes(raw) -> np.ndarray:
    """(Z, 1 + F, Y, X): each slice and its filter-bank responses, as input channels."""
    from napari_greentea.features import plane_features

    return np.stack([np.concatenate([np.asarray(p, np.float32)[None], plane_features(p)])
                     for p in raw])


def neighbour_planes(stack, z: slice) -> np.ndarray:
    """(Z, 3, Y, X): slices ``z`` with the slice before and after each as extra channels
    (the stack's first / last slice repeats at its ends)."""
    idx = np.arange(len(stack))[z]
    before = np.clip(idx - 1, 0, len(stack) - 1)
    after = np.clip(idx + 1, 0, len(stack) - 1)
    return np.stack([stack[before], stack[idx], stack[after]], axis=1)


def run_proto(method, raw, gt, labels, seed: int, times, budget: str, test,
              tta: bool = False) -> list[dict]:
    from scribble_proto import Proto, time_steps

    if method.extra.get("neighbours"):
        from napari_greentea.channels import ChannelImage

        pre = preprocess_image(ChannelImage(neighbour_planes(raw, TRAIN), 1))
        test_input = neighbour_planes(raw, test)
    elif method.extra.get("features"):
        from napari_greentea.channels import ChannelImage

        pre = preprocess_image(ChannelImage(feature_planes(raw[TRAIN]), 1))
        test_input = feature_planes(raw[test])
    else:
        pre = preprocess_image(raw[TRAIN])
        test_input = raw[test]
    proto = Proto(method, pre, labels, seed=seed)
    step_s = time_steps(Proto(method, pre, labels, seed=seed)) if budget == "iterations" else 0
    rows = []
    clock = 0.0
    timer = time.process_time if budget == "cpu" else time.perf_counter
    val_every = method.extra.get("val_every", 100)
    for point in times:
        target = int(point / step_s) if step_s else 0
        while (proto.iteration < target) if budget == "iterations" else (clock < point):
            tic = timer()
            proto.step()
            if method.holdout and proto.iteration % val_every == 0:
                proto.validate(raw[TRAIN])
            clock += timer() - tic
        row = {"method": method.name, "seed": seed, "time": point, "iterations": proto.iteration,
               "step_ms": round(step_s * 1e3, 1), "wall_train_s": round(clock, 1),
               "load": round(os.getloadavg()[0], 2)}
        prob = proto.predict(test_input)
        row.update(scores(prob[-1], gt[test]))
        if tta and not method.tta:
            proto.m = method.with_(tta=True)
            row["tta"] = scores(proto.predict(test_input)[-1], gt[test])
            proto.m = method
        if method.holdout and proto.best is not None:
            target = proto.averaged or proto.module
            current = {k: v.clone() for k, v in target.state_dict().items()}
            target.load_state_dict(proto.best[2])
            row["best_iteration"] = proto.best[1]
            row["best"] = scores(proto.predict(test_input)[-1], gt[test])
            target.load_state_dict(current)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def run_rounds(method, raw, gt, seed: int, budget: str, test, seconds=30.0,
               first=0.005, total=0.02, rounds=3) -> list[dict]:
    """Correction protocol: ``first`` strokes, then strokes where most wrong."""
    from scribble_proto import Proto

    from napari_greentea.data.scribbles import correction_scribbles

    pre = preprocess_image(raw[TRAIN])
    labels = strokes(gt, seed, first)
    proto = Proto(method, pre, labels, seed=seed)
    timer = time.process_time if budget == "cpu" else time.perf_counter
    rows = []
    for r in range(1, rounds + 1):
        if r > 1:
            prob = proto.predict(raw[TRAIN])
            extra = (total - float((labels > 0).mean())) / (rounds - r + 1)
            labels = correction_scribbles(gt[TRAIN], prob, labels, fraction=extra, brush=3)
            proto.set_labels(labels, seed=seed + r)
        clock = 0.0
        while clock < seconds:
            tic = timer()
            proto.step()
            clock += timer() - tic
        row = {"method": method.name, "protocol": "rounds", "round": r, "seed": seed,
               "iterations": proto.iteration, "labeled_fraction": float((labels > 0).mean()),
               "load": round(os.getloadavg()[0], 2)}
        row.update(scores(proto.predict(raw[test])[-1], gt[test]))
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    from scribble_methods import METHODS

    p = argparse.ArgumentParser()
    p.add_argument("--methods", default="old")
    p.add_argument("--seeds", default="0")
    p.add_argument("--times", default="60")
    p.add_argument("--budget", choices=("iterations", "seconds", "cpu"), default="iterations")
    p.add_argument("--test", default="20:30", help="evaluation slices lo:hi")
    p.add_argument("--fraction", type=float, default=0.02)
    p.add_argument("--forest", action="store_true")
    p.add_argument("--tag", default="explore")
    p.add_argument("--rounds", action="store_true", help="the correction-round protocol")
    p.add_argument("--tta", action="store_true", help="also score 8-fold test-time augmentation")
    p.add_argument("--pretrain", type=float, default=300.0,
                   help="CPU seconds of pretraining for the pre_ methods")
    args = p.parse_args()
    raw, gt = load()
    pretrained = None
    if any(m.startswith("pre_") for m in args.methods.split(",")):
        from pretrain_proto import pretrain

        pretrained = pretrain(preprocess_image(raw[0:20]), args.pretrain)
        print(json.dumps({k: v for k, v in pretrained.items() if k != "state"}), flush=True)
    times = [float(t) for t in args.times.split(",")]
    lo, hi = (int(v) for v in args.test.split(":"))
    test = slice(lo, hi)
    out = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "budget": args.budget, "rows": []}
    if pretrained is not None:
        out["pretrain"] = {k: v for k, v in pretrained.items() if k != "state"}
    for seed in (int(s) for s in args.seeds.split(",")):
        labels = strokes(gt, seed, args.fraction)
        frac = float((labels > 0).mean())
        if args.forest:
            row = run_forest(raw, gt, labels, seed, test)
            row["labeled_fraction"] = frac
            print(json.dumps(row), flush=True)
            out["rows"].append(row)
        for name in args.methods.split(","):
            if not name:
                continue
            if args.rounds:
                out["rows"].extend(run_rounds(METHODS[name], raw, gt, seed, args.budget, test,
                                              seconds=times[0]))
                continue
            method = METHODS[name.removeprefix("pre_")]
            if name.startswith("pre_"):
                method = method.with_(name=name,
                                      extra={**method.extra, "init_state": pretrained["state"]})
            rows = run_proto(method, raw, gt, labels, seed, times, args.budget, test, args.tta)
            for row in rows:
                row["labeled_fraction"] = frac
                out["rows"].append(row)
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / f"scribbles_{args.tag}.json").write_text(json.dumps(out, indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"scribbles_{args.tag}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
