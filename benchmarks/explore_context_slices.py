"""Neighbouring sections as input channels (2.5-D) for dense ISBI training: a probe.

Writes ``OUT/train3.tif``, the ISBI training stack with each slice's
neighbours as channels ``(z-1, z, z+1)`` (the first and last slice repeat
themselves), and ``OUT/starter3.npz``, the shipped EM starter with its first
convolution widened to three input channels: the centre channel keeps the
starter's weights, the neighbours start at zero, so before training the
network predicts exactly what the starter does. Then train, predict and
score through the CLI as the dense runs of the README do, bounded by
iterations so that other work on the machine does not change the result:

    greentea train OUT/train3.tif train-labels.tif --isbi-labels --slices 0:20 \\
        --init OUT/starter3.npz --channel-axis 1 --iterations 11250 --bf16 --seed S \\
        --output OUT/m.npz
    greentea predict OUT/train3.tif OUT/tta.tif --checkpoint OUT/m.npz --channel-axis 1 --tta
    greentea evaluate --gt train-labels.tif --prob OUT/tta.tif --slices 20:30

Usage: python benchmarks/explore_context_slices.py OUT
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

import numpy as np
import tifffile

from napari_greentea.starters import starter

DATA = Path(os.environ.get("GREENTEA_DATA_DIR", Path(__file__).resolve().parents[2]
                           / "shared" / "data" / "isbi2012"))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    raw = tifffile.imread(DATA / "train-volume.tif")
    z = np.arange(len(raw))
    below, above = raw[np.clip(z - 1, 0, len(z) - 1)], raw[np.clip(z + 1, 0, len(z) - 1)]
    tifffile.imwrite(args.out / "train3.tif", np.stack([below, raw, above], axis=1))
    shipped = starter("em-membranes").load()
    weights = dict(shipped.weights)
    first = weights["conv1.weight"]
    zero = np.zeros_like(first)
    weights["conv1.weight"] = np.concatenate([zero, first, zero], axis=1)
    widened = dataclasses.replace(
        shipped, weights=weights, spec=dataclasses.replace(shipped.spec, in_channels=3),
        preprocess=dataclasses.replace(shipped.preprocess, channels=(0, 1, 2)))
    widened.save(args.out / "starter3.npz")
    print(f"wrote {args.out / 'train3.tif'} {raw.shape[0]}x3x{raw.shape[1]}x{raw.shape[2]} "
          f"and {args.out / 'starter3.npz'}")


if __name__ == "__main__":
    main()
