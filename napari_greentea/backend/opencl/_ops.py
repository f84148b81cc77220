"""One Python wrapper per kernel (forward and backward) on one device.

Allocation lives in ``_memory``, program building and launching in
``_context``; the wrappers here only compute launch geometry and ``-D``
defines, and pass tensors and plain Python scalars.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _phases
from ._context import CLContext
from ._memory import Allocator, Tensor

FLAG_RELU, FLAG_ACCUM, FLAG_BIAS = 1, 2, 4


def _largest_divisor(n: int, cap: int) -> int:
    return max(d for d in range(1, min(n, cap) + 1) if n % d == 0)


def _block(channels: int, options: tuple[int, ...]) -> int:
    return next(b for b in options if channels % b == 0)


def _channel_chunk(c: int, k: int) -> int:
    """Input channels summed per ``conv_fw`` launch.

    The launches after the first accumulate into the output. Long channel sums
    in one launch ran at half speed on a CPU device (the weights and input
    rows a work-group streams fall out of cache): the input gradient of the
    SK paper's 1024-channel 10x10 layer, and 1x1 layers over 1024 channels.
    About 3200 taps per launch, within 32..256 channels, measured fastest.
    """
    return max(1, min(c, max(32, min(256, 3200 // (k * k)))))


def _tap_block(k: int) -> int:
    """Taps along x per work-item of the weight gradient (at most 5: 4 output
    channels x 5 taps of 16-float accumulators fill an AVX-512 register file).

    Each step loads KB + KX vectors for KB * KX multiply-adds, and
    ceil(k / KX) * KX taps are computed for k useful ones; the block with the
    fewest loads per useful multiply-add wins (k = 10 -> 5, k = 7 -> 4). A 1x1
    kernel blocks input channels the same way (``k`` is then their number).
    """
    kb = 4
    return min(
        range(1, min(k, 5) + 1), key=lambda b: (kb + b) / (kb * b) * (-(-k // b) * b) / k
    )


class Ops(Allocator):
    """Kernel launches (and, inherited, tensor allocation) on one device."""

    def __init__(self, context: CLContext) -> None:
        super().__init__(context.queue)
        self.context = context
        self.ctx = context.ctx

    def _run(self, name: str, gsize: tuple[int, ...], lsize: Any, *args: Any, **d: int):
        self.context.launch(
            name, gsize, lsize, *(a.buf if isinstance(a, Tensor) else a for a in args), **d
        )

    # ------------------------------------------------------------ convolution
    def conv(self, x: Tensor, w: Tensor, b: Tensor | None, dilation: int, *, relu: bool = False,
             out: Tensor | None = None, accum: bool = False, zero_border: int = 0,
             phases: bool | None = None, chunk: int | None = None) -> Tensor:
        """Valid dilated convolution (+bias, +fused ReLU, +accumulate).

        ``zero_border``: that many rows and columns on every side of ``x`` are
        zero, so the kernel skips the taps that would only read them.
        ``phases``: run a dilated convolution as undilated ones on the
        space-to-batch phases of ``x`` (``_phases``); None decides by shape.
        ``chunk``: input channels per launch (None: ``_channel_chunk``).
        """
        n, c, hi, wi = x.shape
        o, _, k, _ = w.shape
        ext = (k - 1) * dilation
        ho, wo = hi - ext, wi - ext
        if phases is None:
            phases = zero_border == 0 and _phases.use_phases(dilation, wo, c * k * k)
        if phases and dilation > 1:
            y = self.conv(
                _phases.split(self, x, dilation), w, b, 1, relu=relu, phases=False, chunk=chunk
            )
            return _phases.merge(self, y, dilation, (n, o, ho, wo), out, accum)
        out = self.into(out, (n, o, ho, wo))
        kb = _block(o, (8, 4, 2, 1))
        rb = 2 if ho > 1 else 1
        nob = o // kb
        step = _channel_chunk(c, k) if chunk is None else chunk
        for c0 in range(0, c, step):
            last = c0 + step >= c
            flags = (FLAG_ACCUM if accum or c0 > 0 else 0) | (FLAG_RELU if relu and last else 0)
            flags |= FLAG_BIAS if b is not None and c0 == 0 else 0
            self._run(
                "conv_fw", (-(-wo // 16), -(-ho // rb), n * nob),
                (1, 1, _largest_divisor(nob, 16)), x, w, b or w, out, hi, wi, ho, wo, o, flags,
                zero_border, hi - zero_border, zero_border, wi - zero_border, c0,
                min(c, c0 + step), C_IN=c, K=k, DIL=dilation, KB=kb, RB=rb
            )
        return out

    def conv_bw_input(self, gy: Tensor, w: Tensor, dilation: int, *,
                      out: Tensor | None = None, accum: bool = False) -> Tensor:
        """dX: valid convolution of the zero-padded dY with flipped, transposed W."""
        n, o, ho, wo = gy.shape
        _, c, k, _ = w.shape
        ext = (k - 1) * dilation
        padded = self.empty((n, o, ho + 2 * ext, wo + 2 * ext))
        self._run(
            "pad", (wo + 2 * ext, ho + 2 * ext, n * o), None, gy, padded, ho, wo, ext
        )
        wt = self.empty((c, o, k, k))
        self._run("conv_flip", (c, o), None, w, wt, o, c, k)
        return self.conv(padded, wt, None, dilation, out=out, accum=accum, zero_border=ext)

    def conv_bw_weight(
        self, x: Tensor, gy: Tensor, dilation: int, k: int, gw: Tensor, gb: Tensor
    ) -> None:
        """dW (partial sums over row slices, then reduce) and db."""
        n, c, hi, wi = x.shape
        _, o, ho, wo = gy.shape
        kx = _tap_block(c if k == 1 else k)
        # up to 24 accumulators: 3x3 kernels take 8 output channels (4 x 3 was
        # 1.2x slower on the SK paper's conv3)
        kb = next(b for b in (8, 4, 2, 1) if o % b == 0 and b * kx <= 24)
        taps = -(-c // kx) if k == 1 else c * k * -(-k // kx)
        base = taps * (o // kb)
        rows = n * ho
        parts = min(rows, max(1, -(-64 // base)))
        rpp = -(-rows // parts)
        parts = -(-rows // rpp)
        m = gw.size
        partial = gw if parts == 1 else self.empty((parts, m))
        self._run(
            "conv_bw_weight", (parts, taps, o // kb), (1, _largest_divisor(taps, 16), 1), x, gy,
            partial, hi, wi, ho, wo, o, rows, rpp, C_IN=c, K=k, DIL=dilation, KB=kb,
            KX=kx
        )
        if parts > 1:
            self._run("reduce_sum", (m,), None, partial, gw, parts, m)
        self._run("conv_bw_bias", (o,), None, gy, gb, n, o, ho * wo)

    # ------------------------------------------------------------------ pool
    def pool(
        self, x: Tensor, kernel: int, stride: int, dilation: int, argmax: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        n, c, hi, wi = x.shape
        ext = (kernel - 1) * dilation
        ho, wo = (hi - ext - 1) // stride + 1, (wi - ext - 1) // stride + 1
        out = self.empty((n, c, ho, wo))
        arg = self.empty((n, c, ho, wo)) if argmax else None
        self._run(
            "pool_fw", (wo, ho, n * c), None, x, out, arg or out, hi, wi, ho, wo, argmax, PK=kernel,
            PS=stride, PD=dilation
        )
        return out, arg

    def pool_bw(
        self,
        gy: Tensor,
        arg: Tensor,
        in_shape: tuple[int, ...],
        kernel: int,
        stride: int,
        dilation: int,
        out: Tensor | None,
        accum: bool,
    ) -> Tensor:
        n, c, hi, wi = in_shape
        _, _, ho, wo = gy.shape
        out = self.into(out, in_shape)
        # whole rows per work-group: the runtime's default split of this 3-D range
        # made the 192 x 204 x 204 gradient of the SK paper's pool3 take 1.5x longer
        self._run(
            "pool_bw", (wi, hi, n * c), (_largest_divisor(wi, 256), 1, 1), gy, arg, out, hi, wi,
            ho, wo, FLAG_ACCUM if accum else 0, PK=kernel, PS=stride, PD=dilation
        )
        return out

    # -------------------------------------------------------- small ops
    def upsample(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        out = self.empty((n, c, 2 * h, 2 * w))
        self._run("upsample_fw", (2 * w, 2 * h, n * c), None, x, out, h, w)
        return out

    def upsample_bw(self, gy: Tensor, out: Tensor | None, accum: bool) -> Tensor:
        n, c, h2, w2 = gy.shape
        h, w = h2 // 2, w2 // 2
        out = self.into(out, (n, c, h, w))
        self._run(
            "upsample_bw", (w, h, n * c), None, gy, out, h, w, FLAG_ACCUM if accum else 0
        )
        return out

    def crop_concat(self, a: Tensor, b: Tensor) -> Tensor:
        n, ca, h, w = a.shape
        cb, hb, _wb = b.shape[1:]
        out = self.empty((n, ca + cb, h, w))
        for src, c_off, off in ((a, 0, 0), (b, ca, (hb - h) // 2)):
            cs, hs, ws = src.shape[1:]
            self._run(
                "crop_concat_fw", (w, h, n * cs), None, src, out, cs, hs, ws, ca + cb, h, w, c_off,
                off
            )
        return out

    def crop_concat_bw(
        self, gy: Tensor, shape: tuple[int, ...], c_off: int, out: Tensor | None, accum: bool
    ) -> Tensor:
        """Gradient of the crop_concat input of ``shape`` at channel ``c_off``."""
        n, ct, h, w = gy.shape
        _, cs, hs, ws = shape
        out = self.into(out, shape)
        self._run(
            "crop_concat_bw", (ws, hs, n * cs), None, gy, out, cs, hs, ws, ct, h, w, c_off, (hs - h)
            // 2, FLAG_ACCUM if accum else 0
        )
        return out

    def relu(self, x: Tensor, out: Tensor | None = None) -> Tensor:
        out = self.into(out, x.shape)
        self._run("relu_fw", (x.size,), None, x, out)
        return out

    def relu_bw(self, y: Tensor, gy: Tensor, out: Tensor | None, accum: bool) -> Tensor:
        out = self.into(out, y.shape)
        self._run(
            "relu_bw", (y.size,), None, y, gy, out, FLAG_ACCUM if accum else 0
        )
        return out

    def softmax(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        out = self.empty(x.shape)
        self._run("softmax_fw", (h * w, n), None, x, out, c, h * w)
        return out

    def softmax_xent(
        self, logits: Tensor, labels: np.ndarray, class_weights: np.ndarray
    ) -> tuple[float, Tensor]:
        """Cross-entropy and dL/dlogits, matching ``losses.softmax``.

        The loss is the class-weighted mean over labelled pixels,
        ``sum w_y * (-log p_y) / sum w_y`` (torch's ``cross_entropy`` with
        ``weight``). Without labelled pixels it is 0 with a zero gradient, as
        the torch loss (which still lets the optimiser step).
        """
        n, c, h, w = logits.shape
        lab_host = np.asarray(labels, np.int64)
        if lab_host.shape != (n, h, w):
            raise ValueError(f"labels {lab_host.shape} do not match logits {logits.shape}")
        if lab_host.min(initial=0) < 0 or lab_host.max(initial=0) > c:
            raise ValueError(f"labels must lie in 0..{c}")
        labelled = lab_host[lab_host > 0]
        if labelled.size == 0:
            return 0.0, self.zeros(logits.shape)
        norm = float(np.asarray(class_weights, np.float64)[labelled - 1].sum())
        lab = self.upload(lab_host, np.int32)
        cw = self.upload(class_weights)
        grad = self.empty(logits.shape)
        loss = self.empty((n, h, w))
        scale = 1.0 / norm
        self._run(
            "softmax_xent", (h * w, n), None, logits, lab, cw, grad, loss, c, h * w, scale
        )
        per_pixel = self.download(loss)
        return float(per_pixel.sum(dtype=np.float64) * scale), grad

    # -------------------------------------------------------------- optimiser
    def adam(
        self,
        p: Tensor,
        g: Tensor,
        m: Tensor,
        v: Tensor,
        *,
        b1: float,
        b2: float,
        eps: float,
        wd: float,
        step_size: float,
        bc2_sqrt: float,
    ) -> None:
        self._run(
            "adam_update", (p.size,), None, p, g, m, v, b1, b2, eps, wd, step_size, bc2_sqrt
        )

    def sgd(
        self,
        p: Tensor,
        g: Tensor,
        buf: Tensor,
        *,
        lr: float,
        momentum: float,
        wd: float,
        first: bool,
    ) -> None:
        self._run(
            "sgd_update", (p.size,), None, p, g, buf, lr, momentum, wd, first
        )

    def lerp(self, p: Tensor, end: Tensor, weight: float) -> None:
        """``p += weight * (end - p)`` in place, as torch's ``lerp_``."""
        self._run("lerp_inplace", (p.size,), None, p, end, weight)
