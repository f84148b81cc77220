"""Device tensors and their allocation, upload and download.

Every buffer carries ``SLACK`` spare floats so the 16-wide vector loads of the
convolution kernels may overrun the last row (see ``kernels/common.h``).
Buffers come from a pyopencl memory pool: a forward pass allocates and frees
the same sizes every call, and the pool turns that into reuse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

SLACK = 64


@dataclass
class Tensor:
    """A device buffer with a logical shape (float32, or int32 for argmax)."""

    buf: Any
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class Allocator:
    """Tensors on one queue's device, from a memory pool."""

    def __init__(self, queue: Any) -> None:
        import pyopencl.tools as cl_tools

        self.queue = queue
        self.mempool = cl_tools.MemoryPool(cl_tools.ImmediateAllocator(queue))

    def empty(self, shape: tuple[int, ...]) -> Tensor:
        return Tensor(self.mempool.allocate(4 * (math.prod(shape) + SLACK)), tuple(shape))

    def zeros(self, shape: tuple[int, ...]) -> Tensor:
        t = self.empty(shape)
        self.fill_zero(t)
        return t

    def fill_zero(self, t: Tensor) -> None:
        import pyopencl as cl

        cl.enqueue_fill_buffer(self.queue, t.buf, np.float32(0), 0, 4 * (t.size + SLACK))

    def upload(self, array: np.ndarray, dtype: Any = np.float32) -> Tensor:
        host = np.ascontiguousarray(array, dtype)
        t = self.empty(host.shape)
        self.copy_in(t, host)
        return t

    def copy_in(self, t: Tensor, host: np.ndarray) -> None:
        """Overwrite ``t`` with ``host`` (same shape; blocking)."""
        import pyopencl as cl

        if tuple(host.shape) != t.shape:
            raise ValueError(f"host array {host.shape} does not fit tensor {t.shape}")
        cl.enqueue_copy(self.queue, t.buf, np.ascontiguousarray(host), is_blocking=True)

    def download(self, t: Tensor, dtype: Any = np.float32) -> np.ndarray:
        import pyopencl as cl

        out = np.empty(t.shape, dtype)
        cl.enqueue_copy(self.queue, out, t.buf, is_blocking=True)
        return out

    def into(self, out: Tensor | None, shape: tuple[int, ...]) -> Tensor:
        """``out`` if given (checked against ``shape``), else a new tensor."""
        if out is None:
            return self.empty(shape)
        if out.shape != tuple(shape):
            raise ValueError(f"output buffer {out.shape} != {shape}")
        return out
