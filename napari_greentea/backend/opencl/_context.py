"""One device's OpenCL context: its queue, its built programs and kernel launch.

The program cache lives on this object, not in a module dict: programs
belong to a context and die with it. Entries are keyed by the device and
driver (as pyopencl's on-disk binary cache is) plus the kernel name and its
``-D`` defines, because every distinct macro set is a separate, slow build.
"""

from __future__ import annotations

import threading
from typing import Any

from ._kernels import build_kernel


class CLContext:
    """Context, queue and program cache of one OpenCL device."""

    def __init__(self, device_handle: Any, device_key: str) -> None:
        import pyopencl as cl

        self.ctx = cl.Context([device_handle])
        self.queue = cl.CommandQueue(self.ctx)
        self.device_key = device_key
        self._programs: dict[tuple[str, str, tuple[tuple[str, int], ...]], Any] = {}
        # kernel objects are shared and setting their arguments is not atomic, so
        # launches from several threads (napari workers) are serialised
        self._lock = threading.Lock()

    def kernel(self, name: str, **defines: int) -> Any:
        """The built kernel ``name`` with ``-D`` ``defines`` (built once)."""
        key = (self.device_key, name, tuple(sorted(defines.items())))
        kernel = self._programs.get(key)
        if kernel is None:
            kernel = self._programs[key] = build_kernel(self.ctx, name, key[2])
        return kernel

    def launch(
        self, name: str, global_size: tuple[int, ...], local_size: Any, *args: Any, **defines: int
    ) -> None:
        """Enqueue kernel ``name``; ``args`` are buffers and plain ints/floats,
        converted to the types the kernel's signature declares."""
        kernel = self.kernel(name, **defines)
        with self._lock:
            kernel(self.queue, global_size, local_size, *args)
