"""Run every benchmark in one go and write benchmarks/results/ (Markdown + JSON).

    python benchmarks/run_all.py            # everything (~45 min; ISBI training dominates)
    python benchmarks/run_all.py --fast     # no ISBI training, no 16384² image (~10 min)

Each script writes its own file in benchmarks/results/; this runner records the
machine description and which scripts ran, and stops nothing on a failure
(a failed script is reported in summary.md). Run it on an otherwise idle
machine: the torch-cpu numbers degrade badly when other jobs share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def machine() -> dict:
    info = {"python": platform.python_version(), "cpu_count": os.cpu_count(),
            "platform": platform.platform()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                     if line.startswith("model name"))
        info["cpu"] = model
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.is_available()
    except ImportError:
        info["torch"] = None
    return info


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--fast", action="store_true")
    args = p.parse_args()
    py = sys.executable
    steps = [
        ("forward throughput, FLOPs, peak RSS, SW baseline", [py, HERE / "bench_forward.py"]),
        ("OpenCL vs torch, training steps", [py, HERE / "bench_opencl.py", "--train-paper",
                                             "--out", RESULTS / "opencl.md"]),
        ("tiled prediction of large images", [py, HERE / "bench_tiled.py"]
         + (["--sizes", "4096"] if args.fast else [])),
    ]
    steps += [(f"MALIS {n}x{n}", [py, HERE / "bench_malis.py", "--size", str(n)])
              for n in (64, 128, 256, 512)]
    if not args.fast:
        steps += [
            ("ISBI quality, U-Net 13 min", [py, HERE / "bench_isbi_quality.py", "--arch", "u",
                                            "--depth", "3", "--fmaps", "16", "--minutes", "13",
                                            "--balance", "weights"]),
            ("ISBI scribbles, 60 s", [py, HERE / "bench_isbi_quality.py", "--scribbles"]),
        ]
    RESULTS.mkdir(exist_ok=True)
    log = []
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    for title, cmd in steps:
        tic = time.perf_counter()
        out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
        log.append({"step": title, "seconds": round(time.perf_counter() - tic, 1),
                    "ok": out.returncode == 0, "stdout_tail": out.stdout[-4000:],
                    "stderr_tail": out.stderr[-1000:] if out.returncode else ""})
        print(f"{'ok ' if out.returncode == 0 else 'FAILED'} {title} ({log[-1]['seconds']} s)",
              flush=True)
    report = {"machine": machine(), "steps": log}
    (RESULTS / "run_all.json").write_text(json.dumps(report, indent=2))
    lines = ["# Benchmark run", "", f"Machine: `{json.dumps(report['machine'])}`", ""]
    for step in log:
        lines += [f"## {step['step']} ({'ok' if step['ok'] else 'FAILED'}, {step['seconds']} s)",
                  "", "```", step["stdout_tail"].strip()[-3000:], "```", ""]
    (RESULTS / "summary.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
