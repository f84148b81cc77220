"""OpenCL (our kernels) vs torch-cpu: inference throughput and training step time.

Run: ``PYTHONPATH=. python benchmarks/bench_opencl.py [--quick] [--device N]``.
Both backends run in this one process with the same weights and inputs;
torch is limited to as many threads as there are cores (2 on the reference
machine). The first call of each configuration (kernel builds, JIT, memory
pools) is excluded and the median of the timed runs is reported, as a
Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

log = logging.getLogger("bench_opencl")


def _median_times(fns: list[Callable[[], object]], runs: int) -> list[float]:
    """Median seconds per call of each function, runs interleaved.

    Interleaving keeps a load change on a shared machine from favouring
    whichever backend happened to run in the quiet period.
    """
    for fn in fns:
        fn()  # warm-up: builds kernels, fills memory pools
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, bucket in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def _graph(kind: str, name: str):
    from napari_greentea.models import build_graph, preset
    from napari_greentea.weights import init_weights

    graph = build_graph(preset(kind, name))
    return graph, init_weights(graph, 0)


def bench_forward(backends, kind: str, name: str, in_size: int, runs: int) -> list[str]:
    graph, weights = _graph(kind, name)
    out = graph.output_size(in_size)
    x = np.random.default_rng(0).standard_normal((1, graph.in_channels, in_size, in_size))
    x = x.astype(np.float32)
    predictors = [backend.build(graph, weights) for backend in backends]
    seconds = _median_times([lambda p=p: p(x) for p in predictors], runs)
    cells = [out * out / s for s in seconds]
    label = f"forward {kind} {name} {in_size}->{out}"
    return [label, f"{cells[0]:,.0f} px/s", f"{cells[1]:,.0f} px/s", f"{cells[0] / cells[1]:.2f}x"]


def bench_train(
    backends, kind: str, out_size: int, runs: int, name: str = "interactive"
) -> list[str]:
    from napari_greentea.config import LossConfig, TrainConfig
    from napari_greentea.losses import LossBatch, make_loss

    graph, weights = _graph(kind, name)
    size = graph.input_size_for(out_size)
    out = graph.output_size(size)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, graph.in_channels, size, size)).astype(np.float32)
    y = rng.integers(0, graph.num_classes + 1, (1, out, out))
    y = LossBatch.from_patches(x, y, context_lo=graph.context // 2)
    models = [
        backend.trainable(graph, weights, train=TrainConfig(), loss=make_loss(LossConfig()))
        for backend in backends
    ]
    cells = _median_times([lambda m=m: m.train_step(x, y, 1e-4) for m in models], runs)
    label = f"train step {kind} {name} {size}->{out}"
    return [
        label,
        f"{cells[0] * 1e3:.1f} ms",
        f"{cells[1] * 1e3:.1f} ms",
        f"{cells[0] / cells[1]:.2f}x time",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="OpenCL device index or name")
    parser.add_argument("--quick", action="store_true", help="skip the paper presets")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--train-paper", action="store_true",
                        help="also time training iterations of the paper presets at their tiles")
    parser.add_argument("--out", help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("pyopencl").setLevel(logging.WARNING)  # per-build chatter

    import torch

    from napari_greentea.backend.opencl import OpenCLBackend
    from napari_greentea.backend.torch import TorchBackend
    from napari_greentea.models import PAPER_TILES

    torch.set_num_threads(os.cpu_count() or 1)
    ocl = OpenCLBackend(args.device)
    backends = (ocl, TorchBackend("cpu"))
    log.info(
        "OpenCL: %s | torch %s, %d threads",
        ocl.device_info().name,
        torch.__version__,
        torch.get_num_threads(),
    )
    rows = []
    if not args.quick:
        for kind, tile in PAPER_TILES.items():
            graph, _ = _graph(kind, "paper")
            size = graph.input_size_for(tile)
            rows.append(bench_forward(backends, kind, "paper", size, max(1, args.runs // 2)))
            log.info("%s", rows[-1])
    for kind in ("sk", "u", "usk"):
        graph, _ = _graph(kind, "interactive")
        rows.append(
            bench_forward(backends, kind, "interactive", graph.input_size_for(256), args.runs)
        )
        log.info("%s", rows[-1])
    for kind in ("sw", "sk", "u", "usk"):
        rows.append(bench_train(backends, kind, 64 if kind != "sw" else 8, args.runs))
        log.info("%s", rows[-1])
    if args.train_paper:
        for kind, tile in (("sk", 128), ("u", 388), ("usk", 256)):
            rows.append(bench_train(backends, kind, tile, 2, name="paper"))
            log.info("%s", rows[-1])
    table = ["| benchmark | OpenCL (PoCL) | torch-cpu | OpenCL / torch |", "|---|---|---|---|"]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    text = "\n".join(table) + "\n"
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(f"OpenCL: {ocl.device_info().name}; torch {torch.__version__}, "
                     f"{torch.get_num_threads()} threads\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
