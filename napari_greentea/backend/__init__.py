"""Backend discovery and selection.

``get_backend(name)`` accepts ``auto`` (or ``None``), ``torch`` (best torch
device), ``torch-cpu``, ``torch-cuda``/``torch-rocm`` (``cuda``), ``torch-mps``
and ``opencl``; ``device`` picks a device within the backend (torch device
string, or an OpenCL device index or name substring). ``GREENTEA_BACKEND``
overrides ``auto``.

The ``auto`` rule: torch CUDA/ROCm if present, else an OpenCL GPU, else the
faster of torch-cpu and OpenCL-on-CPU as measured on this machine (once,
cached; see ``_auto.py``), else whichever of the two is installed.
Missing optional backends give an actionable message on first use rather
than an ``ImportError`` at import time.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import Any

from ._protocol import Backend, DeviceInfo, Predictor, TrainableModel, assert_backend

log = logging.getLogger(__name__)

BACKEND_NAMES = ("auto", "torch", "torch-cpu", "torch-cuda", "torch-rocm", "torch-mps", "opencl")


class BackendUnavailable(RuntimeError):
    """A backend that was asked for cannot run here; the message says why/how."""


def _torch_missing() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed: pip install torch"
    return None


def opencl_status() -> tuple[bool, str]:
    """(usable, reason) for the OpenCL backend, without raising."""
    try:
        from .opencl import opencl_available
    except ImportError as err:  # package part missing
        return False, f"OpenCL backend not importable: {err}"
    return opencl_available()


def available_backends() -> dict[str, str]:
    """Backends usable on this machine, mapped to a one-line description.

    Backends that are installed but fail are logged as warnings, not hidden.
    """
    found: dict[str, str] = {}
    if _torch_missing() is None:
        try:
            from ._torch import backend_name, torch_devices

            for dev, desc in torch_devices().items():
                found.setdefault(backend_name(dev), desc)
        except Exception as err:  # noqa: BLE001 - report any torch failure
            log.warning("torch is installed but failed to initialise: %s", err)
    ok, reason = opencl_status()
    if ok:
        found["opencl"] = reason
    return found


def unavailable_backends() -> dict[str, str]:
    """Backends that cannot run here, with the reason (for the device picker)."""
    missing: dict[str, str] = {}
    reason = _torch_missing()
    if reason:
        missing["torch"] = reason
    ok, why = opencl_status()
    if not ok:
        missing["opencl"] = why
    return missing


def get_backend(name: str | None = None, device: str | None = None) -> Any:
    """Return a backend instance; see the module docstring for names."""
    name = (name or os.environ.get("GREENTEA_BACKEND") or "auto").lower()
    if name not in BACKEND_NAMES and name != "cuda":
        raise ValueError(f"unknown backend {name!r}; accepted: {', '.join(BACKEND_NAMES)}")
    if name == "auto":
        return _auto_backend(device)
    if name == "opencl":
        ok, why = opencl_status()
        if not ok:
            raise BackendUnavailable(why)
        from .opencl import OpenCLBackend

        return OpenCLBackend(device)
    reason = _torch_missing()
    if reason:
        raise BackendUnavailable(reason)
    from ._torch import TorchBackend

    if name == "torch":
        return TorchBackend(device or "auto")
    if name == "torch-cpu":
        return TorchBackend("cpu")
    if name in ("torch-cuda", "torch-rocm", "cuda"):
        return TorchBackend(device or "cuda")
    return TorchBackend("mps")


def _auto_backend(device: str | None) -> Any:
    if _torch_missing() is None:
        from ._torch import TorchBackend, torch_devices

        if any(d.startswith("cuda") for d in torch_devices()):
            return TorchBackend(device or "cuda")
    ok, _ = opencl_status()
    if ok:
        from .opencl import OpenCLBackend, has_gpu

        if has_gpu():
            return OpenCLBackend(device)
    if _torch_missing() is None:
        from ._torch import TorchBackend

        torch_backend = TorchBackend("auto")
        if ok and torch_backend.name == "torch-cpu":
            from ._auto import faster_cpu_backend

            return faster_cpu_backend(torch_backend, OpenCLBackend(device))
        return torch_backend
    if ok:
        from .opencl import OpenCLBackend

        return OpenCLBackend(device)
    raise BackendUnavailable(
        "no backend can run: install torch (pip install torch) or an OpenCL runtime "
        "with pyopencl (pip install 'napari-greentea[opencl]'; Debian: apt-get install "
        "pocl-opencl-icd)"
    )


__all__ = [
    "Backend",
    "BackendUnavailable",
    "DeviceInfo",
    "Predictor",
    "TrainableModel",
    "assert_backend",
    "available_backends",
    "get_backend",
    "opencl_status",
    "unavailable_backends",
]
