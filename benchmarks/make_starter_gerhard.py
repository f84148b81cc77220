"""A starter model of EM membranes from the Gerhard et al. 2013 ssTEM stack.

Trains the interactive U-Net (the Train widget's default network) on all 20
labeled sections of ``../shared/data/gerhard2013`` with that dataset's
2-class mapping (cell = grey 191 mitochondria and 255 intracellular; every
other value, membranes, junctions, glia/extracellular and synapses, is
boundary), dense labels, inverse-frequency class weights, nothing held out.
The result starts stroke training on other EM images:
``greentea train IMAGE STROKES --init starter.npz`` or Load checkpoint + Start
in the Train widget; ``bench_scribbles.py --methods start-both --start-from``
measures it on ISBI 2012, whose labels it never saw.

The weights derive from data under CC BY-NC-SA 3.0 (see SOURCE.md there), so
they are built here, not shipped.

Usage: python benchmarks/make_starter_gerhard.py --output /tmp/starter.npz --minutes 10
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import tifffile

from napari_greentea.cli import main as greentea

DATA = Path(os.environ.get("GREENTEA_GERHARD_DIR", Path(__file__).resolve().parents[2]
                           / "shared" / "data" / "gerhard2013"))
#: Grey values of ``labels.tif`` that are the inside of a cell (SOURCE.md, 2-class setup).
CELL_GREYS = (191, 255)


def two_classes(labels: np.ndarray) -> np.ndarray:
    """Greentea's 2-class consolidation as the Trainer's classes: 1 boundary, 2 cell."""
    return np.where(np.isin(labels, CELL_GREYS), 2, 1).astype(np.uint8)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--output", required=True)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", help="default: the fastest one found")
    args = p.parse_args()
    if not (DATA / "labels.tif").exists():
        raise SystemExit(f"no Gerhard 2013 data in {DATA} (set GREENTEA_GERHARD_DIR)")
    with tempfile.TemporaryDirectory() as tmp:
        labels = Path(tmp) / "labels_2class.tif"
        tifffile.imwrite(labels, two_classes(tifffile.imread(DATA / "labels.tif")))
        argv = ["train", str(DATA / "raw.tif"), str(labels), "--output", args.output,
                "--minutes", str(args.minutes), "--holdout", "0", "--balance", "weights",
                "--seed", str(args.seed)]
        if args.backend:
            argv += ["--backend", args.backend]
        raise SystemExit(greentea(argv))


if __name__ == "__main__":
    main()
