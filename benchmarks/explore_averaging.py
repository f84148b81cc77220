"""Does a longer weight average keep stroke training from getting worse with time?

One training run per seed (the interactive recipe of ``scribble_proto``: EMA
0.99 for prediction, optionally after filter-bank pretraining), and beside
it, fed the same weights after every step, a *tail average* whose window
grows with training: decay ``1 - 1 / max(min_window, fraction * t)`` at
iteration ``t``, i.e. roughly the mean of the last ``fraction`` of all
iterations. Both averages and the raw weights are scored (thinned V_rand,
slices 10-19 and 20-29) at the same time points of the same run, so the
comparison isolates the averaging from the run-to-run noise of V_rand.

Usage: python benchmarks/explore_averaging.py --seeds 0,1 --pretrain 300 \
    --times 60,120,180,240,300,420,600 --tag averaging
Writes benchmarks/results/scribbles_<tag>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch  # noqa: TID253 - a torch exploration script, not part of the package
from bench_scribbles import RESULTS, TRAIN, load, scores, strokes

from napari_greentea.preprocess import preprocess_image


class TailAverage:
    """Mean of roughly the last ``fraction`` of the iterations (at least ``min_window``)."""

    def __init__(self, module, fraction: float = 0.1, min_window: int = 100) -> None:
        import copy

        self.module = copy.deepcopy(module).eval()
        self.fraction, self.min_window = fraction, min_window

    @torch.no_grad()
    def update(self, source, iteration: int) -> None:
        window = max(self.min_window, self.fraction * iteration)
        d = min(1 - 1 / window, (1 + iteration) / (10 + iteration))
        for pa, ps in zip(self.module.parameters(), source.parameters()):
            pa.mul_(d).add_(ps.detach(), alpha=1 - d)


def main() -> None:
    from scribble_methods import METHODS
    from scribble_proto import Proto

    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--times", default="60,120,180,240,300,420,600")
    p.add_argument("--pretrain", type=float, default=300.0, help="CPU-s; 0 = none")
    p.add_argument("--fraction", type=float, default=0.1)
    p.add_argument("--method", default="ema2", help="a scribble_methods name")
    p.add_argument("--tag", default="averaging")
    args = p.parse_args()
    raw, gt = load()
    method = METHODS[args.method]
    out = {"machine": f"{os.cpu_count()} cores", "fraction": args.fraction, "rows": []}
    if args.pretrain:
        from pretrain_proto import pretrain

        pre = pretrain(preprocess_image(raw[0:20]), args.pretrain)
        out["pretrain"] = {k: v for k, v in pre.items() if k != "state"}
        method = method.with_(name=f"pre_{method.name}",
                              extra={**method.extra, "init_state": pre["state"]})
    ranges = {"10:20": slice(10, 20), "20:30": slice(20, 30)}
    for seed in (int(s) for s in args.seeds.split(",")):
        proto = Proto(method, preprocess_image(raw[TRAIN]), strokes(gt, seed), seed=seed)
        tail = TailAverage(proto.module, args.fraction)
        clock = 0.0
        for point in (float(t) for t in args.times.split(",")):
            while clock < point:
                tic = time.perf_counter()
                proto.step()
                tail.update(proto.module, proto.iteration)
                clock += time.perf_counter() - tic
            for weights, module in (("ema", proto.averaged), ("tail", tail.module),
                                    ("raw", proto.module)):
                row = {"method": method.name, "seed": seed, "time": point,
                       "iterations": proto.iteration, "weights": weights}
                for name, sl in ranges.items():
                    row[name] = scores(proto.predict_with(module, raw[sl])[-1], gt[sl])
                print(json.dumps(row), flush=True)
                out["rows"].append(row)
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / f"scribbles_{args.tag}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
