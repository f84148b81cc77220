"""Load torch's large native library without holding the GIL.

``import torch`` dlopens ``libtorch_cpu.so`` (hundreds of MB; static
initialisers run) through Python's extension loader, which keeps the GIL
for the whole call: 0.2-0.3 s on a warm disk cache, about a second on a
cold one. A GUI that imports torch in a worker thread still freezes for
that long, because its main thread needs the GIL to paint.

Calling ``dlopen`` through ``ctypes`` releases the GIL for the call. Once
the library is in the process, the later ``import torch`` finds it by its
soname and skips the expensive part. Linux only (elsewhere the names and
loader differ); any failure leaves the ordinary import to do the work.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path

#: The heavy libraries, in dependency order; CUDA builds have the second.
LIBRARIES = ("libtorch_cpu.so", "libtorch_cuda.so")


def preload_torch_libraries() -> list[str]:
    """dlopen torch's native libraries with the GIL released; the names loaded.

    Does nothing when torch is already imported, not installed, or the
    platform is not Linux.
    """
    if "torch" in sys.modules or not sys.platform.startswith("linux"):
        return []
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return []
    lib_dir = Path(spec.origin).parent / "lib"
    try:
        libc = ctypes.CDLL(None)  # a CDLL's foreign calls release the GIL
        dlopen = libc.dlopen
    except (OSError, AttributeError):
        return []
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    loaded = []
    for name in LIBRARIES:
        path = lib_dir / name
        if path.exists() and dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL):
            loaded.append(name)
    return loaded
