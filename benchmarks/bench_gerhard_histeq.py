"""Label-histogram equalisation on the 9-class Gerhard et al. 2013 ssTEM data.

Synapses are 0.6 % of the pixels: the natural test of the paper's histeq.
Trains the same network for the same time with ``class_balance`` none /
histeq / weights on the paper's 16 training sections and reports per-class
recall and the mean recall (balanced accuracy) on its 4 validation sections.

Usage: python benchmarks/bench_gerhard_histeq.py --minutes 5 [--balances none,histeq]
Writes benchmarks/results/gerhard_histeq.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import tifffile

from napari_greentea.config import LossConfig, TrainConfig
from napari_greentea.events import IterationDone
from napari_greentea.models import preset
from napari_greentea.predict import predict_image
from napari_greentea.train import LabeledImage, Trainer

DATA = Path(os.environ.get("GREENTEA_GERHARD_DIR", Path(__file__).resolve().parents[2]
                           / "shared" / "data" / "gerhard2013"))
RESULTS = Path(__file__).parent / "results"
GREYS = (0, 32, 64, 96, 128, 159, 191, 223, 255)
NAMES = ("membrane 0deg", "membrane 45deg", "membrane 90deg", "membrane 135deg", "junction",
         "glia/extracell.",
         "mitochondria", "synapse", "intracellular")
VALIDATION = (2, 7, 12, 17)


def to_classes(labels: np.ndarray) -> np.ndarray:
    """Grey values -> classes 1..9 (rank of the grey value, as caffe_neural_tool did, + 1)."""
    lut = np.zeros(256, np.uint8)
    lut[list(GREYS)] = np.arange(1, 10)
    return lut[labels]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=5)
    p.add_argument("--balances", default="none,histeq")
    p.add_argument("--crop", type=int, default=512, help="train/validate on this top-left crop")
    args = p.parse_args()
    raw = tifffile.imread(DATA / "raw.tif")
    labels = to_classes(tifffile.imread(DATA / "labels.tif"))
    c = args.crop
    train_idx = [z for z in range(raw.shape[0]) if z not in VALIDATION]
    val_idx = list(VALIDATION)
    rows = []
    for balance in args.balances.split(","):
        trainer = Trainer(
            preset("u", depth=3, base_fmaps=16, num_classes=9),
            [LabeledImage(raw[train_idx, :c, :c], labels[train_idx, :c, :c])],
            train=TrainConfig(iterations=10**7, batch_size=2, output_size=128, seed=0),
            loss=LossConfig(class_balance=balance), backend="torch-cpu", class_names=NAMES,
        )
        start = time.perf_counter()
        for event in trainer.run():
            if isinstance(event, IterationDone) and time.perf_counter() - start > 60 * args.minutes:
                trainer.stop()
        prob = predict_image(trainer.predict, trainer.graph, raw[val_idx, :c, :c])
        pred = prob.argmax(0) + 1
        truth = labels[val_idx, :c, :c]
        recall = {n: float((pred[truth == k] == k).mean()) for k, n in enumerate(NAMES, 1)}
        row = {"balance": balance, "iterations": trainer.iteration,
               "seconds": round(time.perf_counter() - start, 1),
               "pixel_accuracy": float((pred == truth).mean()),
               "mean_recall": float(np.mean(list(recall.values()))), "recall": recall}
        print(json.dumps(row), flush=True)
        rows.append(row)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gerhard_histeq.json").write_text(json.dumps(rows, indent=2))
    head = "| class | " + " | ".join(r["balance"] for r in rows) + " |"
    title = (f"Gerhard 2013, 9 classes, U-Net depth 3/16 fmaps, {args.minutes} min each, "
             f"{c}x{c} crops; recall on validation sections {VALIDATION}")
    lines = [title, "", head, "|---|" + "---|" * len(rows)]
    for n in NAMES:
        lines.append(f"| {n} | " + " | ".join(f"{r['recall'][n]:.3f}" for r in rows) + " |")
    means = " | ".join(f"{r['mean_recall']:.3f}" for r in rows)
    lines.append(f"| **mean recall** | {means} |")
    lines.append("| pixel accuracy | " + " | ".join(f"{r['pixel_accuracy']:.3f}" for r in rows)
                 + " |")
    (RESULTS / "gerhard_histeq.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
