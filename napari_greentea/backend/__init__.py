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

import logging
import os
from collections.abc import Callable

from ._protocol import (
    Backend,
    DeviceInfo,
    Predictor,
    TrainableModel,
    assert_backend,
    bf16_refusal,
)
from .torch import torch_missing

log = logging.getLogger(__name__)

TORCH_DEVICE_KINDS = ("cpu", "cuda", "rocm", "mps")


class BackendUnavailable(RuntimeError):
    """A backend that was asked for cannot run here; the message says why/how."""


def _opencl_missing() -> str | None:
    ok, why = opencl_status()
    return None if ok else why


def opencl_status() -> tuple[bool, str]:
    """(usable, reason) for the OpenCL backend, without raising."""
    try:
        from .opencl import opencl_available
    except ImportError as err:  # package part missing
        return False, f"OpenCL backend not importable: {err}"
    return opencl_available()


def _torch(device: str | None) -> Backend:
    from .torch import TorchBackend

    return TorchBackend(device)


def _opencl(device: str | None) -> Backend:
    from .opencl import OpenCLBackend

    return OpenCLBackend(device)


#: Backend name -> (probe: None if usable else why not, factory(device)).
BACKENDS: dict[str, tuple[Callable[[], str | None], Callable[[str | None], Backend]]] = {
    "torch": (torch_missing, lambda device: _torch(device or "auto")),
    "torch-cpu": (torch_missing, lambda device: _torch("cpu")),
    "torch-cuda": (torch_missing, lambda device: _torch(device or "cuda")),
    "torch-rocm": (torch_missing, lambda device: _torch(device or "cuda")),
    "cuda": (torch_missing, lambda device: _torch(device or "cuda")),
    "torch-mps": (torch_missing, lambda device: _torch("mps")),
    "opencl": (_opencl_missing, _opencl),
}
BACKEND_NAMES = ("auto", *(name for name in BACKENDS if name != "cuda"))


def available_backends() -> dict[str, str]:
    """Backends usable on this machine, mapped to a one-line description.

    Backends that are installed but fail are logged as warnings, not hidden.
    """
    found: dict[str, str] = {}
    if torch_missing() is None:
        try:
            from .torch import backend_name, torch_devices

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
    for name, probe in (("torch", torch_missing), ("opencl", _opencl_missing)):
        reason = probe()
        if reason:
            missing[name] = reason
    return missing


def get_backend(name: str | Backend | None = None, device: str | None = None, *,
                bf16: bool = False) -> Backend:
    """The backend called ``name`` (see the module docstring); a :class:`Backend`
    instance is returned as it is.

    ``bf16``: the caller will compute under bfloat16 autocast, which only the torch
    backends have. ``auto`` then means torch (on a CPU it may measure OpenCL
    faster, whose kernels compute in float32 only), and a float32-only backend is
    refused rather than run silently in float32.
    """
    if name is not None and not isinstance(name, str):
        assert_backend(name)
        if bf16 and not name.name.startswith("torch"):
            raise bf16_refusal(name.name)
        return name
    name = (name or os.environ.get("GREENTEA_BACKEND") or "auto").lower()
    if device and name in ("torch-cpu", "torch-mps") and device != name.removeprefix("torch-"):
        raise ValueError(
            f"device {device!r} does not apply to {name}, which has one device; "
            f"use backend 'torch' with device {device!r}, or drop the device"
        )
    if device and name == "auto":  # the device names the backend: torch's, else OpenCL's
        name = "torch" if device.split(":")[0] in TORCH_DEVICE_KINDS else "opencl"
    if bf16 and name == "auto":
        name = "torch"
    if bf16 and name == "opencl":
        raise bf16_refusal(name)
    if name == "auto":
        return _auto_backend(device)
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; accepted: {', '.join(BACKEND_NAMES)}")
    probe, factory = BACKENDS[name]
    reason = probe()
    if reason:
        raise BackendUnavailable(reason)
    return factory(device)


def _auto_backend(device: str | None) -> Backend:
    return auto_choice(device)[0]


def auto_choice(device: str | None = None) -> tuple[Backend, str]:
    """The backend the ``auto`` rule picks here, and why (one line)."""
    have_torch = torch_missing() is None
    if have_torch:
        from .torch import torch_devices

        if any(d.startswith("cuda") for d in torch_devices()):
            return _torch(device or "cuda"), "torch sees a CUDA/ROCm GPU"
    ok, _ = opencl_status()
    if ok:
        from .opencl import has_gpu

        if has_gpu():
            return _opencl(device), "an OpenCL GPU is present and torch sees no GPU"
    if have_torch:
        torch_backend = _torch("auto")
        if ok and torch_backend.name == "torch-cpu":
            from ._auto import faster_cpu_backend

            return faster_cpu_backend(torch_backend, _opencl(device))
        return torch_backend, "no OpenCL runtime to compare against"
    if ok:
        return _opencl(device), "torch is not installed"
    raise BackendUnavailable(
        "no backend can run: install torch (pip install torch) or an OpenCL runtime "
        "with pyopencl (pip install 'napari-greentea[opencl]'; Debian: apt-get install "
        "pocl-opencl-icd)"
    )


def backend_label(backend: Backend) -> str:
    """The user-facing name of a backend instance, e.g. ``opencl (PoCL CPU …)``."""
    info = backend.device_info()
    return f"{info.backend} ({info.name}, {info.type})"


__all__ = [
    "BACKENDS",
    "Backend",
    "BackendUnavailable",
    "DeviceInfo",
    "Predictor",
    "TrainableModel",
    "assert_backend",
    "auto_choice",
    "available_backends",
    "backend_label",
    "get_backend",
    "opencl_status",
    "unavailable_backends",
]
