"""Training iterations/s of every interactive preset: fp32/bf16 x idle/busy x torch/OpenCL.

Run: ``python benchmarks/bench_train_speed.py [--seconds 8]``; writes
``benchmarks/results/train_speed.{json,md}``.

Each cell trains the preset with the Train widget's recipe
(``recipes.recipe("interactive")``: batch, patch, held-out strokes, weight
averaging) on a 512^2 synthetic image with 3 % of its pixels scribbled,
discards the first 2 s (compilation, first allocations), then counts
iterations for ``--seconds``. torch cells run once per ``--threads`` value
(torch's intra-op thread count), so the GUI's thread policy can be chosen
from the busy rows.

* ``bf16``: the same loop inside ``torch.autocast("cpu", dtype=torch.bfloat16)``;
  measured only where torch reports CPU bf16 support. The trainer does not
  use it yet; the OpenCL backend is fp32 only.
* ``busy``: a second process spins one core (a pure-Python busy loop) for
  the whole cell, which is what napari's main thread and renderer cost while
  the user pans. ``idle``: nothing else started by this script; other load on
  the machine is recorded as the 1-minute load average before each cell.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
WARM_UP_S = 2.0


def _spin_forever() -> None:
    while True:
        pass


@contextlib.contextmanager
def _busy(on: bool):
    if not on:
        yield
        return
    hog = multiprocessing.get_context("spawn").Process(target=_spin_forever, daemon=True)
    hog.start()
    try:
        yield
    finally:
        hog.terminate()
        hog.join()


def _precision(bf16: bool):
    if not bf16:
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def bf16_supported() -> bool:
    """Whether the CPU runs bf16 natively (AVX-512 BF16); torch 2.13 has no
    ``torch.backends.mkldnn.is_bf16_supported`` any more, which skipped every bf16 cell."""
    import torch

    for check in (getattr(torch.cpu, "_is_avx512_bf16_supported", None),
                  getattr(torch.backends.mkldnn, "is_bf16_supported", None)):
        if check is not None:
            return bool(check())
    return False


def iterations_per_second(kind: str, backend: str, bf16: bool, seconds: float,
                          threads: int = 0) -> float:
    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.events import IterationDone
    from napari_greentea.models import preset
    from napari_greentea.recipes import recipe
    from napari_greentea.sample import synthetic_membranes
    from napari_greentea.train import LabeledImage, Trainer

    if threads > 0 and backend.startswith("torch"):
        import torch

        torch.set_num_threads(threads)
    image, truth = synthetic_membranes((512, 512), seed=0)
    pairs = [LabeledImage(image, scribbles_from_ground_truth(truth, fraction=0.03, seed=0))]
    train, loss = recipe("interactive", train={"iterations": 10_000_000, "threads": threads})
    trainer = Trainer(preset(kind, "interactive"), pairs, train=train, loss=loss,
                      backend=backend)
    start = first = None
    with _precision(bf16):  # autocast is thread-local: the generator runs in this thread
        for event in trainer.run():
            if not isinstance(event, IterationDone):
                continue
            now = time.perf_counter()
            start = start or now
            if first is None and now - start >= WARM_UP_S:
                first = (now, event.iteration)
            if first is not None and now - first[0] >= seconds:
                trainer.stop()
                return (event.iteration - first[1]) / (now - first[0])
    raise RuntimeError("training ended before the measurement did")


def _cell(kind: str, backend: str, precision: str, load: str, seconds: float,
          threads: int) -> dict:
    """One measurement in a fresh process: a crash (or autocast state) stays in it."""
    cmd = [sys.executable, __file__, "--cell", f"{kind},{backend},{precision},{load},{threads}",
           "--seconds", str(seconds)]
    row = {"preset": f"{kind} interactive", "backend": backend, "precision": precision,
           "threads": threads, "load": load, "loadavg_1min_before": os.getloadavg()[0],
           "it_per_s": None, "error": None}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        row.update(json.loads(lines[-1]))
    else:
        row["error"] = f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
    return row


def _measure_cell(spec: str, seconds: float) -> None:
    kind, backend, precision, load, threads = spec.split(",")
    try:
        with _busy(load == "busy"):
            rate = iterations_per_second(kind, backend, precision == "bf16", seconds,
                                         int(threads))
        print(json.dumps({"it_per_s": rate}))
    except Exception as err:  # noqa: BLE001 - a failing cell is a result
        print(json.dumps({"error": f"{type(err).__name__}: {err}"}))


def main() -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--kinds", default="u,usk,sk,sw")
    parser.add_argument("--backends", default="torch-cpu,opencl")
    parser.add_argument("--threads", default="0",
                        help="torch thread counts to measure, comma-separated "
                             "(0: torch's, -1: adaptive)")
    parser.add_argument("--loads", default="idle,busy")
    parser.add_argument("--cell", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        _measure_cell(args.cell, args.seconds)
        return None
    import torch

    rows = []
    precisions = ["fp32"] + (["bf16"] if bf16_supported() else [])
    for kind in args.kinds.split(","):
        for backend in args.backends.split(","):
            cpu_cell = backend == "torch-cpu"  # _precision's autocast is the CPU's
            for precision in precisions if cpu_cell else ["fp32"]:
                for threads in [int(t) for t in args.threads.split(",")] if cpu_cell else [0]:
                    for load in args.loads.split(","):
                        rows.append(_cell(kind, backend, precision, load, args.seconds,
                                          threads))
                        print(json.dumps(rows[-1]), flush=True)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "cpu_count": os.cpu_count(), "seconds": args.seconds,
              "bf16_supported": bf16_supported(), "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_speed.json").write_text(json.dumps(result, indent=2))
    header = (f"torch {result['torch']}, {result['threads']} threads, "
              f"{result['cpu_count']} CPUs; {args.seconds:g} s per cell after {WARM_UP_S:g} s "
              "warm-up; busy = one extra process spinning a core")
    lines = [header, "",
             "| preset | backend | precision | threads | load | it/s | load avg before |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        rate = f"{r['it_per_s']:.2f}" if r["it_per_s"] is not None else f"failed ({r['error']})"
        threads = {0: "default", -1: "adaptive"}.get(r["threads"], r["threads"])
        lines.append(f"| {r['preset']} | {r['backend']} | {r['precision']} | "
                     f"{threads} | {r['load']} | "
                     f"{rate} | {r['loadavg_1min_before']:.1f} |")
    (RESULTS / "train_speed.md").write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main()
