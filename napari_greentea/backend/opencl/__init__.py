"""The bundled OpenCL backend: our own kernels for inference and training.

Importing this package does not import pyopencl; that happens on first use
(``opencl_available()``, building a predictor), so ``napari_greentea.backend``
stays importable without the ``[opencl]`` extra.
"""

from __future__ import annotations

from ._device import has_gpu, list_devices, opencl_available, select_device

__all__ = ["OpenCLBackend", "has_gpu", "list_devices", "opencl_available", "select_device"]


def __getattr__(name: str):  # lazy: the executor pulls in numpy-heavy code
    if name == "OpenCLBackend":
        from ._backend import OpenCLBackend

        return OpenCLBackend
    raise AttributeError(name)
