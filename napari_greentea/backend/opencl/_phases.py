"""Space-to-batch for dilated convolutions (kernels ``phase_split``/``phase_merge``).

A valid convolution with dilation ``d`` is, for each of the ``d * d`` phases
``(py, px)``, an undilated convolution of ``x[..., py::d, px::d]`` that yields
``y[..., py::d, px::d]``. Running the undilated kernel on the phases batched
along N keeps each work-item's input rows contiguous and small enough for the
cache, which pays only for very long sums: the forward of the SK paper's
10x10, dilation-8 layer (19200 taps per output) ran about 1.1x faster split;
lighter dilated layers ran slower (``use_phases``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._memory import Tensor

if TYPE_CHECKING:
    from ._ops import Ops

FLAG_ACCUM = 2  # as in kernels/common.h (and _ops, which imports this module)


def phase_size(size: int, d: int) -> int:
    """Rows (or columns) of the longest phase of an axis of ``size``."""
    return -(-size // d)


def use_phases(d: int, wo: int, taps: int) -> bool:
    """Whether the phase split pays for a forward convolution.

    It needs a dilation; the phase rows must not waste more 16-wide vector
    lanes than the direct rows (``d`` phases of ``ceil(wo / d)`` columns
    against one row of ``wo``), as the kernel computes whole vectors; and
    each output must sum enough ``taps`` (input channels x kernel area) to
    outweigh the two copies. Measured on a 2-core AVX-512 CPU: the SK paper's
    19200-tap layer 1.1x faster split; the USK paper's 2048-tap dilated
    layers 1.2x slower, the SK paper's conv2 (1200 taps) 1.4x slower.
    """
    if d <= 1 or taps < 8192:
        return False
    lanes_direct = -(-wo // 16) * 16
    lanes_phase = d * (-(-phase_size(wo, d) // 16) * 16)
    return lanes_phase <= lanes_direct * 1.1


def split(ops: Ops, x: Tensor, d: int) -> Tensor:
    """(N, C, H, W) -> (N*d*d, C, ceil(H/d), ceil(W/d)), short phases zero-padded."""
    n, c, h, w = x.shape
    hp, wp = phase_size(h, d), phase_size(w, d)
    out = ops.empty((n * d * d, c, hp, wp))
    ops._run("phase_split", (wp, hp, n * d * d * c), None, x, out, c, h, w, d, hp, wp)
    return out


def merge(
    ops: Ops, ph: Tensor, d: int, shape: tuple[int, ...], out: Tensor | None, accum: bool
) -> Tensor:
    """Inverse of ``split`` into ``shape`` (N, C, H, W), dropping phase padding."""
    n, c, h, w = shape
    _, _, hp, wp = ph.shape
    out = ops.into(out, shape)
    ops._run(
        "phase_merge", (w, h, n * c), None, ph, out, c, h, w, d, hp, wp,
        FLAG_ACCUM if accum else 0,
    )
    return out
