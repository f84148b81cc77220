"""Loading and building the bundled ``.cl`` kernels.

Each kernel lives in ``napari_greentea/kernels/<name>.cl`` and defines a
``__kernel`` called ``<name>``. Sizes that decide the code shape (channels,
kernel edge, dilation, blocking) are passed as ``-D`` macros so the compiler
can unroll and vectorise. A built kernel knows the types of its scalar
arguments (read from its ``.cl`` signature), so callers pass plain Python
ints and floats. Built programs are cached by the context that owns them
(``_context.CLContext``).
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class KernelBuildError(RuntimeError):
    """A kernel failed to compile; the message carries the build log."""


def kernels_dir() -> Path:
    """The directory of the bundled kernels (a real path, for ``-I``)."""
    return Path(str(importlib.resources.files("napari_greentea.kernels")))


@functools.cache
def kernel_source(name: str) -> str:
    path = importlib.resources.files("napari_greentea.kernels") / f"{name}.cl"
    if not path.is_file():
        raise FileNotFoundError(f"no OpenCL kernel file {name}.cl in {kernels_dir()}")
    return path.read_text(encoding="utf-8")


def kernel_names() -> list[str]:
    return sorted(p.stem for p in kernels_dir().glob("*.cl"))


#: OpenCL scalar argument types -> numpy dtypes; pointers (``__global``) map to None.
_SCALAR_TYPES = {"int": np.int32, "float": np.float32}


@functools.cache
def scalar_arg_dtypes(name: str) -> tuple[Any, ...]:
    """Per argument of kernel ``name``: its numpy dtype, or None for a buffer."""
    match = re.search(rf"__kernel\s+void\s+{name}\s*\(([^)]*)\)", kernel_source(name))
    if match is None:
        raise KernelBuildError(f"{name}.cl defines no __kernel void {name}(...)")
    dtypes = []
    for arg in match.group(1).split(","):
        words = arg.replace("*", " * ").split()
        if "*" in words:
            dtypes.append(None)
            continue
        scalar = next((w for w in words if w in _SCALAR_TYPES), None)
        if scalar is None:
            raise KernelBuildError(f"{name}: unsupported kernel argument {arg.strip()!r}")
        dtypes.append(_SCALAR_TYPES[scalar])
    return tuple(dtypes)


def build_kernel(ctx: Any, name: str, defines: tuple[tuple[str, int], ...]) -> Any:
    """Compile kernel ``name`` with ``-D`` ``defines`` for ``ctx`` (no caching)."""
    import pyopencl as cl

    options = [f"-I{kernels_dir()}"] + [f"-D{k}={int(v)}" for k, v in defines]
    try:
        prog = cl.Program(ctx, kernel_source(name)).build(options=options)
    except cl.RuntimeError as err:
        raise KernelBuildError(
            f"building kernel {name} with {' '.join(options[1:])} failed:\n{err}"
        ) from err
    log.debug("built kernel %s %s", name, defines)
    kernel = getattr(prog, name)
    kernel.set_scalar_arg_dtypes(list(scalar_arg_dtypes(name)))
    return kernel
