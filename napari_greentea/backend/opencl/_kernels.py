"""Loading and building the bundled ``.cl`` kernels.

Each kernel lives in ``napari_greentea/kernels/<name>.cl`` and defines a
``__kernel`` called ``<name>``. Sizes that decide the code shape (channels,
kernel edge, dilation, blocking) are passed as ``-D`` macros so the compiler
can unroll and vectorise; programs are memoized per (context, name, defines)
because every distinct macro set is a separate (slow) build. The on-disk
binary caches of pyopencl and PoCL make later processes fast.
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
from pathlib import Path
from typing import Any

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


_KERNELS: dict[tuple[int, str, tuple[tuple[str, int], ...]], Any] = {}


def get_kernel(ctx: Any, name: str, **defines: int) -> Any:
    """The built kernel ``name`` for context ``ctx`` with ``-D`` ``defines``.

    Contexts are cached for the life of the process (``_device.context_for``),
    so keying on ``id(ctx)`` cannot alias a dead context.
    """
    key = (id(ctx), name, tuple(sorted(defines.items())))
    knl = _KERNELS.get(key)
    if knl is None:
        import pyopencl as cl

        options = [f"-I{kernels_dir()}"] + [f"-D{k}={int(v)}" for k, v in key[2]]
        try:
            prog = cl.Program(ctx, kernel_source(name)).build(options=options)
        except cl.RuntimeError as err:
            raise KernelBuildError(
                f"building kernel {name} with {' '.join(options[1:])} failed:\n{err}"
            ) from err
        log.debug("built kernel %s %s", name, key[2])
        knl = _KERNELS[key] = getattr(prog, name)
    return knl
