"""Forward throughput, FLOP efficiency and peak memory of every preset, per backend.

Each case runs in a fresh subprocess (so peak RSS is its own), warm-up runs
excluded, median of several runs. Also measures the SW baseline on a batch
of windows (labels/s) for the SK/U/USK speed-ups, and a matmul probe for
the machine's practical float32 peak.

Usage: python benchmarks/bench_forward.py [--backends torch-cpu,opencl] [--quick]
Writes benchmarks/results/forward.json and forward.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
CASES = [
    ("sk", "paper", 229), ("u", "paper", 572), ("usk", "paper", 436), ("usk", "paper", 692),
    ("sk", "interactive", 307), ("u", "interactive", 300), ("usk", "interactive", 298),
]
PAPER_KPXS = {  # facts §4: W9100 OpenCL, GTX980 CUDA, i7-4790K OpenCL (kpx/s)
    ("sk", 229): (59.5, 85.5, 3.5), ("u", 572): (483.8, 1058, 32.7),
    ("usk", 436): (354.9, 658, 19.4), ("usk", 692): (439.9, None, None),
}


def _median_seconds(fn, runs: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` over ``runs`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def _one_case(kind: str, name: str, size: int, backend: str, runs: int) -> dict:
    import resource

    import numpy as np

    from napari_greentea.backend import get_backend
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights

    graph = dense_graph(preset(kind, name))
    size = graph.smallest_valid_input(size)
    out = graph.output_size(size)
    predictor = get_backend(backend).build(graph, init_weights(graph, 0))
    x = np.random.default_rng(0).standard_normal((1, 1, size, size)).astype(np.float32)
    med = _median_seconds(lambda: predictor(x), runs)
    flops = graph.flops_per_pass(size)
    return {
        "arch": kind, "preset": name, "backend": backend, "input": size, "output": out,
        "ms": med * 1e3, "px_per_s": out * out / med, "mflop_per_px": flops / out**2 / 1e6,
        "gflops": flops / med / 1e9, "peak_rss_mb": resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024, "runs": runs,
    }


def _sw_case(runs: int, batch: int = 64) -> dict:
    import numpy as np

    from napari_greentea.backend import get_backend
    from napari_greentea.models import build_graph, preset
    from napari_greentea.weights import init_weights

    graph = build_graph(preset("sw", "paper"))
    predictor = get_backend("torch-cpu").build(graph, init_weights(graph, 0))
    x = np.random.default_rng(0).standard_normal((batch, 1, 102, 102)).astype(np.float32)
    med = _median_seconds(lambda: predictor(x), runs, warmup=1)
    flops = graph.flops_per_pass(102) * batch
    return {
        "arch": "sw", "preset": "paper", "backend": "torch-cpu", "batch": batch,
        "px_per_s": batch / med, "mflop_per_px": flops / batch / 1e6,
        "gflops": flops / med / 1e9,
    }


def _peak_probe() -> dict:
    import torch

    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    return {"matmul_2048_gflops": 2 * 2048**3 / _median_seconds(lambda: a @ b, 5, 1) / 1e9}


def _subprocess(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         check=False, env={**os.environ})
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--backends", default="torch-cpu,opencl")
    p.add_argument("--quick", action="store_true", help="interactive presets only")
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    if args.case:
        what, *rest = args.case.split(":")
        if what == "sw":
            result = _sw_case(args.runs)
        elif what == "peak":
            result = _peak_probe()
        else:
            result = _one_case(what, rest[0], int(rest[1]), rest[2], args.runs)
        print(json.dumps(result))
        return
    rows = []
    peak = _subprocess(["--case", "peak"])
    sw = _subprocess(["--case", "sw", "--runs", "3"])
    for backend in args.backends.split(","):
        for kind, name, size in CASES:
            if args.quick and name == "paper":
                continue
            rows.append(_subprocess(["--case", f"{kind}:{name}:{size}:{backend}",
                                     "--runs", str(args.runs)]))
    report = {"machine": f"{platform.processor() or platform.machine()}, "
                         f"{os.cpu_count()} threads, torch {torch.__version__}",
              "peak": peak, "sw": sw, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "forward.json").write_text(json.dumps(report, indent=2))
    header = (
        "| net | backend | in->out | ms | kpx/s | MFLOP/px | GFLOP/s | speed-up vs SW "
        "| peak RSS MB | paper W9100 / GTX980 / i7 kpx/s |"
    )
    summary = (
        f"Machine: {report['machine']}; matmul probe "
        f"{peak.get('matmul_2048_gflops', float('nan')):.0f} GFLOP/s; SW paper net "
        f"{sw.get('px_per_s', float('nan')):.0f} labels/s"
    )
    lines = [summary, "", header, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| error | | | | | | | | | {r['error']} |")
            continue
        paper = PAPER_KPXS.get((r["arch"], r["input"]), ())
        ratio = r["px_per_s"] / sw["px_per_s"] if sw.get("px_per_s") else float("nan")
        lines.append(
            f"| {r['arch']} {r['preset']} | {r['backend']} | {r['input']}→{r['output']} | "
            f"{r['ms']:.0f} | {r['px_per_s'] / 1e3:.1f} | {r['mflop_per_px']:.2f} | "
            f"{r['gflops']:.0f} | {ratio:.0f} | {r['peak_rss_mb']:.0f} | "
            f"{' / '.join('-' if v is None else str(v) for v in paper)} |")
    (RESULTS / "forward.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
