"""Build the built-in EM membrane starter model from synthetic sections.

Draws ``--sections`` synthetic EM sections (``napari_greentea.synthetic_em``,
section i with seed ``--data-seed`` + i), then trains the interactive U-Net
with ``--depth`` levels (default 4; the preset has 2) on their dense labels
with ``greentea train``: inverse-frequency class weights, nothing held out, a
fixed number of iterations (or ``--minutes``). From depth 2, 3 and 4 starters
made this way, 60 s of strokes on ISBI 2012 reached V_rand 0.866, 0.896 and
0.907 (``benchmarks/results/scribbles_explore.md``, phase 16). No third-party
data goes into it, so the result can ship as
``napari_greentea/starters/em_membranes.npz``: the trained weights, their
preprocessing, class names and training settings, without the optimiser state
and loss history a new run would drop anyway.

The shipped file has the defaults below, made on the 2-core development VM
(OpenCL picked by ``auto``; 21 min at depth 4) by the ``greentea train``
command this script runs, then stripped as here. Its 10 038 iterations are
what 10 minutes reached there when the first, depth-2 starter was made; an
iteration budget, unlike a time budget, gives the same model on a faster or
slower machine (same backend).

Usage: python scripts/make_em_starter.py --output napari_greentea/starters/em_membranes.npz
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import tifffile

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.cli import main as greentea
from napari_greentea.synthetic_em import synthetic_em_stack


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", required=True)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--iterations", type=int, default=10038)
    budget.add_argument("--minutes", type=float, help="a time budget instead of iterations")
    p.add_argument("--sections", type=int, default=40)
    p.add_argument("--data-seed", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--depth", type=int, default=4, help="U-Net depth")
    p.add_argument("--backend", help="default: the fastest one found")
    args = p.parse_args()
    print(f"drawing {args.sections} synthetic EM sections …", flush=True)
    raw, labels = synthetic_em_stack(args.sections, seed=args.data_seed)
    with tempfile.TemporaryDirectory() as tmp:
        raw_path, labels_path = Path(tmp) / "raw.tif", Path(tmp) / "labels.tif"
        tifffile.imwrite(raw_path, raw)
        tifffile.imwrite(labels_path, labels)
        trained = Path(tmp) / "trained.npz"
        budget = (["--minutes", str(args.minutes)] if args.minutes
                  else ["--iterations", str(args.iterations)])
        argv = ["train", str(raw_path), str(labels_path), "--output", str(trained), *budget,
                "--depth", str(args.depth), "--holdout", "0", "--balance", "weights",
                "--seed", str(args.seed)]
        if args.backend:
            argv += ["--backend", args.backend]
        status = greentea(argv)
        if status:
            raise SystemExit(status)
        model = Checkpoint.load(trained)
    shipped = dataclasses.replace(model, optimizer_state={}, history=[], rng_state={})
    print(f"wrote {shipped.save(args.output)} ({model.iteration} iterations)")


if __name__ == "__main__":
    main()
