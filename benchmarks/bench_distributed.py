"""Distributed prediction throughput with 1 and 2 worker processes, and scheduler overhead.

Builds a synthetic Z x S x S uint8 zarr stack on disk (default 8 x 4096 x 4096),
predicts it with the interactive USK preset (random weights: speed only) via
LocalCluster(n) for n in --workers, and measures the per-block scheduler
overhead with no-op tasks. Usage:
    python benchmarks/bench_distributed.py [--size 4096 --slices 8 --block 512 --workers 1,2]
Writes benchmarks/results/distributed.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.distributed import connect, predict_distributed
from napari_greentea.models import dense_graph, preset
from napari_greentea.sample import synthetic_membranes
from napari_greentea.weights import init_weights

RESULTS = Path(__file__).parent / "results"


def _noop(i: int) -> int:
    return i


def make_stack(path: Path, slices: int, size: int) -> None:
    import zarr

    tile, _ = synthetic_membranes((512, 512), seed=0)
    arr = zarr.create_array(str(path), shape=(slices, size, size), chunks=(1, 512, 512),
                            dtype="uint8")
    for z in range(slices):
        arr[z] = np.tile(np.roll(tile, 37 * z, axis=1), (size // 512, size // 512))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--slices", type=int, default=8)
    p.add_argument("--block", type=int, default=512)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--arch", default="usk")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="greentea-dist-"))
    try:
        spec = preset(args.arch)
        graph = dense_graph(spec)
        ckpt = str(Checkpoint(spec=spec, weights=init_weights(graph, 0)).save(tmp / "m.npz"))
        make_stack(tmp / "in.zarr", args.slices, args.size)
        rows = []
        for n in (int(v) for v in args.workers.split(",")):
            client = connect(workers=n)
            try:
                tic = time.perf_counter()
                futures = client.map(_noop, range(2000), pure=False)
                client.gather(futures)
                overhead_ms = (time.perf_counter() - tic) / 2000 * 1e3
                out = tmp / f"out{n}.zarr"
                summary = predict_distributed(client, ckpt, tmp / "in.zarr", out,
                                              block=args.block)
            finally:
                client.close()
            row = {"workers": n, "blocks": summary.blocks_total, "seconds": summary.seconds,
                   "mpx_per_s": summary.pixels_per_second / 1e6,
                   "scheduler_overhead_ms_per_task": overhead_ms}
            print(json.dumps(row))
            rows.append(row)
            shutil.rmtree(out)
        report = {"stack": [args.slices, args.size, args.size], "block": args.block,
                  "arch": f"{args.arch} interactive", "rows": rows}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "distributed.json").write_text(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
