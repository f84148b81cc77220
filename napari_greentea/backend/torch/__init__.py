"""The torch backend: the graph as an ``nn.Module`` on CUDA, ROCm, MPS or CPU.

Importing this package does not import torch; that happens on first use.
"""

from __future__ import annotations

import importlib.util

__all__ = ["TorchBackend", "backend_name", "build_module", "resolve_device", "torch_devices",
           "torch_missing"]


def torch_missing() -> str | None:
    """Why torch cannot be used here, or None when it can."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed: pip install torch"
    return None


def __getattr__(name: str):  # lazy: the modules below import torch in their functions
    if name in ("TorchBackend", "backend_name", "resolve_device", "torch_devices"):
        from . import _backend

        return getattr(_backend, name)
    if name == "build_module":
        from ._module import build_module

        return build_module
    raise AttributeError(name)
