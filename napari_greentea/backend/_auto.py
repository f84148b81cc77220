"""The ``auto`` rule's CPU tie-break: measure torch-cpu against OpenCL-on-CPU once.

With no CUDA/ROCm GPU and no OpenCL GPU, ``auto`` picks whichever of
torch-cpu and the OpenCL CPU device runs a fixed forward pass (interactive
U-Net, 196 px input, 1 warm-up + median of 3) faster on *this* machine. The
verdict is cached in ``$GREENTEA_CACHE_DIR`` (default
``~/.cache/napari-greentea``) keyed by device, driver and torch version, so
the ~2 s measurement happens once per machine/driver.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _cache_file() -> Path:
    from ..caches import greentea_cache_dir

    return greentea_cache_dir() / "auto-backend.json"


def _time_forward(backend: Any) -> float:
    from ..models import preset
    from ..predict import build_predictor

    predictor = build_predictor(preset("u"), backend)
    size = predictor.graph.smallest_valid_input(196)
    x = np.random.default_rng(0).standard_normal((1, 1, size, size)).astype(np.float32)
    predictor(x)
    times = []
    for _ in range(3):
        tic = time.perf_counter()
        predictor(x)
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def cpu_verdict(torch_backend: Any, opencl_backend: Any) -> dict[str, Any]:
    """The cached (or, the first time, measured) torch-cpu vs OpenCL-CPU verdict.

    ``{"times_s": {...}, "winner": name, "cache": path, "measured_now": bool}``.
    """
    import torch

    info = opencl_backend.device_info()
    key = f"{info.name}|{info.driver}|torch {torch.__version__}|{torch.get_num_threads()}"
    path = _cache_file()
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    measured_now = key not in cached
    if measured_now:
        times = {"torch-cpu": _time_forward(torch_backend), "opencl": _time_forward(opencl_backend)}
        cached[key] = {"times_s": times, "winner": min(times, key=times.get)}
        log.info("auto backend: measured %s -> %s", times, cached[key]["winner"])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(cached, indent=2))
        except OSError as err:  # a read-only home only costs a re-measurement
            log.warning("cannot cache the backend choice in %s: %s", path, err)
    return {**cached[key], "cache": str(path), "measured_now": measured_now}


def explain_verdict(verdict: dict[str, Any]) -> str:
    """One line: the forward times behind the choice and where they are cached."""
    times = ", ".join(f"{name} {1000 * t:.1f} ms" for name, t in verdict["times_s"].items())
    when = "measured now" if verdict["measured_now"] else "cached"
    return (f"faster CPU path here: interactive U-Net forward {times} "
            f"({when}: {verdict['cache']})")


def faster_cpu_backend(torch_backend: Any, opencl_backend: Any) -> tuple[Any, str]:
    """Whichever backend is faster here (measured once, then cached) and why."""
    verdict = cpu_verdict(torch_backend, opencl_backend)
    chosen = opencl_backend if verdict["winner"] == "opencl" else torch_backend
    return chosen, explain_verdict(verdict)
