"""ISBI 2012 quality under a time budget: train on slices 0-19, evaluate on 20-29.

Also the interactive loop: scribbles (<= 2 % of the pixels, seeded procedure in
napari_greentea.data.scribbles) on slices 0-4, 60 s of training, pixel
accuracy on slices 20-29.

Usage: python benchmarks/bench_isbi_quality.py --arch u --minutes 12 [--depth 3 --fmaps 16]
       python benchmarks/bench_isbi_quality.py --init-from em-membranes --minutes 14 \
           --lr 3e-4 --train-extra '{"average": 0.998, "bf16": true}' --tta
       python benchmarks/bench_isbi_quality.py --scribbles --seconds 60
``--iterations`` replaces the time budget by an iteration count, to replay a CPU
budget on a faster machine (``benchmarks/gpu_dense.sh``).
Writes benchmarks/results/isbi_<tag>.json and prints one Markdown row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import tifffile

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.config import LossConfig, TrainConfig
from napari_greentea.data.scribbles import scribbles_from_ground_truth
from napari_greentea.events import IterationDone
from napari_greentea.metrics import isbi_scores
from napari_greentea.models import preset
from napari_greentea.predict import predict_image
from napari_greentea.sample import isbi_labels_to_classes
from napari_greentea.train import LabeledImage, Trainer

DATA = Path(os.environ.get("GREENTEA_DATA_DIR", Path(__file__).resolve().parents[2]
                           / "shared" / "data" / "isbi2012"))
RESULTS = Path(__file__).parent / "results"


def train_for(trainer: Trainer, seconds: float) -> float:
    start = time.perf_counter()
    for event in trainer.run():
        if isinstance(event, IterationDone) and time.perf_counter() - start > seconds:
            trainer.stop()
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="u")
    p.add_argument("--preset", default="interactive")
    p.add_argument("--depth", type=int)
    p.add_argument("--fmaps", type=int)
    p.add_argument("--loss", default="softmax")
    p.add_argument("--balance", default="none")
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--backend", default="torch-cpu")
    p.add_argument("--scribbles", action="store_true")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--save", help="write the trained checkpoint here")
    p.add_argument("--init-from", help="start from this checkpoint or shipped starter "
                                       "(fine-tuning), e.g. em-membranes")
    p.add_argument("--iterations", type=int,
                   help="stop after this many iterations instead of --minutes (to replay a "
                        "CPU budget's iteration count on a faster machine)")
    p.add_argument("--train-extra", default="{}",
                   help="JSON of further TrainConfig fields, e.g. '{\"average\": 0.998}'")
    p.add_argument("--tag", help="name of the result file (default from the settings)")
    p.add_argument("--tta", action="store_true",
                   help="also score the 8-fold test-time augmentation (flips and rotations) "
                        "and the watershed instances of that map")
    args = p.parse_args()

    raw = tifffile.imread(DATA / "train-volume.tif")
    gt = isbi_labels_to_classes(tifffile.imread(DATA / "train-labels.tif"))
    overrides = {k: v for k, v in (("depth", args.depth), ("base_fmaps", args.fmaps)) if v}
    spec = preset(args.arch, args.preset, **overrides)
    if args.scribbles:
        labels = scribbles_from_ground_truth(gt[0:5], fraction=0.015, seed=0)
        images, budget = raw[0:5], args.seconds
        tag = f"scribbles_{args.arch}"
    else:
        labels, images, budget = gt[0:20], raw[0:20], args.minutes * 60
        tag = f"{args.arch}_{args.preset}_{args.loss}_{args.balance}"
    tag = args.tag or tag
    init = _load_init(args.init_from) if args.init_from else None
    if init is not None:
        spec = init.spec
    trainer = Trainer(
        spec, [LabeledImage(images, labels)], init_from=init,
        train=TrainConfig(**{"iterations": args.iterations or 10**7,
                             "batch_size": args.batch, "output_size": args.patch,
                             "lr": args.lr, "seed": 0, **json.loads(args.train_extra)}),
        loss=LossConfig(kind=args.loss, class_balance=args.balance),
        backend=args.backend,
    )
    seconds = train_for(trainer, float("inf") if args.iterations else budget)
    if args.save:
        trainer.checkpoint().save(args.save)
    tic = time.perf_counter()
    prob = predict_image(trainer.predict, trainer.graph, raw[20:30], block=256)
    predict_s = time.perf_counter() - tic
    cell = prob[-1]
    result = {
        "arch": spec.kind, "preset": args.preset, "overrides": overrides, "loss": args.loss,
        "init_from": args.init_from, "train_extra": json.loads(args.train_extra),
        "spec": spec.to_dict(),
        "balance": args.balance, "train_seconds": round(seconds, 1),
        "iterations": trainer.iteration, "labeled_fraction": float((labels > 0).mean()),
        "predict_seconds_10_slices": round(predict_s, 1), "backend": trainer.backend.name,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "final_loss": float(np.mean(trainer.history[-20:])),
    }
    truth = gt[20:30]
    result["pixel_accuracy"] = float(((prob.argmax(0) + 1) == truth).mean())
    if not args.scribbles:
        scores = isbi_scores(cell, truth == 2)
        result.update({k: v for k, v in scores.items() if isinstance(v, float | int)})
    if args.tta and not args.scribbles:
        result["tta"] = _tta_scores(trainer, raw[20:30], truth)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"isbi_{tag}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def _load_init(name: str) -> Checkpoint:
    """A trained checkpoint or shipped starter, as ``greentea train --init`` reads it."""
    from napari_greentea.transfer import load_start

    start = load_start(name)
    if not isinstance(start, Checkpoint):
        raise SystemExit(f"--init-from needs a trained model or starter; {name} holds "
                         "pretrained weights only")
    return start


def _tta_scores(trainer, raw, truth) -> dict:
    """Thinned ISBI scores of the dihedral-averaged map, and instance scores of its
    watershed segmentation (the Segment widget's defaults)."""
    from napari_greentea.metrics import instance_scores
    from napari_greentea.segment import BOUNDARY_CHANNEL, boundary_from_classes, segment
    from napari_greentea.tta import DihedralAverage

    tic = time.perf_counter()
    prob = predict_image(DihedralAverage(trainer.predict, trainer.graph), trainer.graph, raw,
                         block=256)
    out = {"predict_seconds_10_slices": round(time.perf_counter() - tic, 1)}
    out.update({k: v for k, v in isbi_scores(prob[-1], truth == 2).items()
                if isinstance(v, float | int)})
    labels = segment(boundary_from_classes(prob, BOUNDARY_CHANNEL))
    out["watershed_instances"] = instance_scores(labels, truth == 2)
    return out


if __name__ == "__main__":
    main()
