"""Why do correction strokes make the rounds protocol worse, and what helps?

``bench_scribbles.py --rounds`` ends below its own first round: 0.5 % of
strokes and 30 s of training score ~0.88 on slices 20-29, adding the
corrector's strokes scores ~0.84 after round 2. This script runs the rounds
bounded by **iterations** instead of the clock, so variants of one seed start
from the same round-1 model and differ only in what they vary, and it can run
beside other work. Variants of what round 2-3 add (``--variants``):

* ``worst``: ``correction_scribbles`` as the benchmark uses it;
* ``random``: more strokes of the first-round annotator (another seed), no
  look at the prediction: the baseline a correction has to beat;
* ``membrane`` / ``cell``: ``worst`` restricted to one class (the other
  class looks right to the corrector everywhere);
* ``thin``: ``worst``, but never inside ground-truth "membrane" wider than
  ``2 * THIN_PX`` px (ISBI labels everything that is not neurite interior as
  membrane, glia and extracellular blobs included);
* ``regions``: ``region_scribbles``: the largest wrong regions first;
* ``none``: no new strokes, only more training.

Usage: python benchmarks/explore_corrections.py --seeds 0,1 --variants worst,random
Prints one JSON line per round and variant; writes nothing.
``--summarize LOG...`` prints the table of per-seed and mean V_rand of such logs.
``benchmarks/gpu_corrections.sh`` runs it on a lent GPU, one process per seed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import bench_scribbles
import numpy as np
from bench_scribbles import TEST, TRAIN, load, make_trainer, predict, scores, strokes

from napari_greentea.data.scribbles import correction_scribbles, scribbles_from_ground_truth


def train_iterations(trainer, n: int) -> None:
    trainer.train_config = trainer.train_config.replace(
        iterations=trainer.iteration + n, seconds=0.0)
    for _ in trainer.run():
        pass


def region_scribbles(gt, prob, labels, fraction, brush=3, stroke_radius=12, min_core=4):
    """Strokes along the centre lines of the largest wrongly predicted regions first.

    A region is an 8-connected component of the pixels of one class predicted as
    another; its size is the area left after a 1-px erosion (slivers along a
    correctly placed boundary count little, as they do to a person looking at
    the map). Each region gets strokes every ``stroke_radius`` px along its skeleton.
    """
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    from napari_greentea.data.scribbles import _brush_offsets, _paint_within, _stroke

    if gt.ndim == 3:
        return np.stack([region_scribbles(g, p, lab, fraction, brush, stroke_radius, min_core)
                         for g, p, lab in zip(gt, np.moveaxis(prob, 1, 0), labels)])
    out = labels.astype(np.uint8, copy=True)
    offsets = _brush_offsets(brush)
    pred = prob.argmax(0) + 1
    queues = {}
    for c in (int(v) for v in np.unique(gt) if v > 0):
        wrong = (gt == c) & (pred != c)
        comp, n = ndi.label(wrong, structure=np.ones((3, 3)))
        size = np.bincount(comp[ndi.binary_erosion(wrong)], minlength=n + 1)
        skeleton = skeletonize(wrong)
        items = []
        for k, box in enumerate(ndi.find_objects(comp), start=1):
            if box is None or size[k] < min_core:
                continue
            offset = np.array([box[0].start, box[1].start])
            pts = np.argwhere(skeleton[box] & (comp[box] == k)) + offset
            centres = []
            for q in pts:  # greedy: centres at least stroke_radius apart
                if all(np.abs(q - r).max() > stroke_radius for r in centres):
                    centres.append(q)
            items += [(-size[k], i, pts, q) for i, q in enumerate(centres)]
        items.sort(key=lambda t: (t[0], t[1]))
        queues[c] = items
    target = (labels > 0).sum() + fraction * gt.size
    while (out > 0).sum() < target and any(queues.values()):
        for c, queue in queues.items():
            if not queue:
                continue
            _, _, pts, centre = queue.pop(0)
            if not _paint_within(out, gt, _stroke(pts, centre, stroke_radius), c, offsets,
                                 target):
                return out
    return out


#: ``thin``: half-width (px) above which ground-truth "membrane" is a blob, not a membrane.
THIN_PX = 5


def add_strokes(variant, gt, prob, labels, extra, seed):
    if variant == "regions":
        return region_scribbles(gt, prob, labels, extra)
    if variant == "none":
        return labels
    if variant == "random":
        more = scribbles_from_ground_truth(gt, fraction=extra, brush=3, seed=seed + 1000)
        out = labels.copy()
        free = out == 0
        out[free] = more[free]
        return out
    if variant == "thin":  # no corrections where GT membrane is over 2 * THIN_PX px wide
        from scipy import ndimage as ndi

        prob = prob.copy()
        for z in range(len(gt)):
            wide = ndi.distance_transform_edt(gt[z] == 1) > THIN_PX
            prob[0, z][wide], prob[1, z][wide] = 1.0, 0.0
    if variant in ("membrane", "cell"):
        other = 2 if variant == "membrane" else 1
        prob = prob.copy()  # the other class looks right everywhere: no strokes for it
        for c in (1, 2):
            prob[c - 1][gt == other] = float(c == other)
    return correction_scribbles(gt, prob, labels, fraction=extra, brush=3)


def summarize(paths: list[str]) -> None:
    """Per variant and round: V_rand of each seed and the mean, from this script's logs."""
    table: dict = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                table.setdefault((row["variant"], row["round"]), {})[row["seed"]] = row["v_rand"]
    print("| variant | round | seeds | V_rand per seed | mean |\n|---|---|---|---|---|")
    for (variant, rnd), by_seed in sorted(table.items()):
        values = " / ".join(f"{by_seed[s]:.3f}" for s in sorted(by_seed))
        print(f"| {variant} | {rnd} | {len(by_seed)} | {values} | "
              f"**{np.mean(list(by_seed.values())):.3f}** |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--summarize", nargs="+", metavar="LOG",
                   help="print the mean table of earlier runs' logs and exit")
    p.add_argument("--seeds", default="0")
    p.add_argument("--variants", default="worst,random,none")
    p.add_argument("--iterations", default="270,250,250",
                   help="iterations of rounds 1, 2, 3 (the CPU's 30 s give ~250-280)")
    p.add_argument("--start-from", type=Path,
                   default=Path("napari_greentea/starters/em_membranes.npz"))
    p.add_argument("--train-extra", type=json.loads, default={})
    p.add_argument("--loss-extra", type=json.loads, default={})
    p.add_argument("--backend", default="torch-cpu")
    p.add_argument("--restart", action="store_true",
                   help="rounds 2-3 start a new run from the served weights")
    args = p.parse_args()
    if args.summarize:
        return summarize(args.summarize)
    bench_scribbles.START_FROM = args.start_from
    bench_scribbles.BACKEND = args.backend
    bench_scribbles.TRAIN_EXTRA.update(args.train_extra)
    bench_scribbles.LOSS_EXTRA.update(args.loss_extra)
    iters = [int(v) for v in args.iterations.split(",")]
    raw, gt = load()
    from napari_greentea.checkpoint import Checkpoint

    start = Checkpoint.load(args.start_from)
    for seed in (int(s) for s in args.seeds.split(",")):
        labels1 = strokes(gt, seed, 0.005)
        first = make_trainer("start", raw[TRAIN], labels1, seed + 1, init=start)
        tic = time.perf_counter()
        train_iterations(first, iters[0])
        row = {"seed": seed, "variant": "-", "round": 1, "iterations": first.iteration,
               "labeled": round(float((labels1 > 0).mean()), 5),
               **scores(predict(first, raw[TEST], False)[-1], gt[TEST]),
               "wall": round(time.perf_counter() - tic, 1)}
        print(json.dumps(row), flush=True)
        for variant in args.variants.split(","):
            trainer, labels = first, labels1
            for r in range(2, len(iters) + 1):
                prob = predict(trainer, raw[TRAIN], False)
                extra = (0.02 - float((labels > 0).mean())) / (len(iters) - r + 1)
                labels = add_strokes(variant, gt[TRAIN], prob, labels, extra, seed * 10 + r)
                if args.restart:
                    trainer = make_trainer("start", raw[TRAIN], labels, seed + r,
                                           init=trainer.checkpoint())
                else:
                    trainer = make_trainer("start", raw[TRAIN], labels, seed + 1,
                                           resume=trainer.checkpoint())
                tic = time.perf_counter()
                train_iterations(trainer, iters[r - 1])
                classes = {c: round(float((labels == c).mean()), 5) for c in (1, 2)}
                row = {"seed": seed, "variant": variant, "round": r,
                       "iterations": trainer.iteration, "labeled": classes,
                       **scores(predict(trainer, raw[TEST], False)[-1], gt[TEST]),
                       "kept": getattr(trainer.held_out, "best_iteration", None),
                       "wall": round(time.perf_counter() - tic, 1)}
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
