"""Space-to-batch dilated convolution (``_phases``) and the zero-border skip
of the input gradient, against torch on shapes that are not multiples of the
dilation."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from napari_greentea.backend.opencl import opencl_available  # noqa: E402

_OK, _WHY = opencl_available()
pytestmark = [
    pytest.mark.opencl,
    pytest.mark.skipif(not _OK, reason=f"OpenCL unavailable: {_WHY}"),
]
# sums over up to 6 x 10 x 10 taps of unit normals: float32 rounding in another
# order reaches a few 1e-5 on outputs near zero
FW = dict(rtol=1e-4, atol=1e-4)
BW = dict(rtol=1e-3, atol=1e-4)


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize(("d", "h", "w"), [(2, 7, 9), (3, 10, 8), (4, 4, 19)])
def test_split_then_merge_is_the_identity(ops, d, h, w):
    from napari_greentea.backend.opencl import _phases

    x = _rand(np.random.default_rng(d), 2, 3, h, w)
    ph = _phases.split(ops, ops.upload(x), d)
    assert ph.shape == (2 * d * d, 3, -(-h // d), -(-w // d))
    host = ops.download(ph).reshape(2, d, d, 3, -(-h // d), -(-w // d))
    for py in range(d):
        for px in range(d):
            part = x[:, :, py::d, px::d]
            got = host[:, py, px]
            np.testing.assert_array_equal(got[:, :, : part.shape[2], : part.shape[3]], part)
            # short phases are zero-padded
            assert not got[:, :, part.shape[2] :].any()
            assert not got[:, :, :, part.shape[3] :].any()
    np.testing.assert_array_equal(ops.download(_phases.merge(ops, ph, d, x.shape, None, False)), x)


@pytest.mark.parametrize(
    ("n", "c", "o", "k", "d", "h", "w"),
    [
        (2, 3, 8, 3, 2, 21, 26),
        (1, 5, 6, 4, 3, 23, 40),
        (2, 4, 16, 2, 4, 19, 22),
        (1, 6, 8, 10, 8, 85, 91),
        (3, 2, 4, 5, 2, 17, 18),
    ],
)
def test_phase_convolution_matches_torch(ops, n, c, o, k, d, h, w):
    rng = np.random.default_rng(k * 10 + d)
    x, wt, b = _rand(rng, n, c, h, w), _rand(rng, o, c, k, k), _rand(rng, o)
    ref = F.conv2d(torch.tensor(x), torch.tensor(wt), torch.tensor(b), dilation=d).numpy()
    dx, dw, db = ops.upload(x), ops.upload(wt), ops.upload(b)
    y = ops.conv(dx, dw, db, d, phases=True)
    np.testing.assert_allclose(ops.download(y), ref, **FW)
    relu = ops.conv(dx, dw, db, d, relu=True, phases=True)
    np.testing.assert_allclose(ops.download(relu), np.maximum(ref, 0), **FW)
    # accumulation adds to what is there (no bias: the backward's use)
    nobias = F.conv2d(torch.tensor(x), torch.tensor(wt), dilation=d).numpy()
    ops.conv(dx, dw, None, d, out=y, accum=True, phases=True)
    np.testing.assert_allclose(ops.download(y), ref + nobias, **FW)
    # and the direct kernel agrees with it
    np.testing.assert_allclose(ops.download(ops.conv(dx, dw, db, d, phases=False)), ref, **FW)


@pytest.mark.parametrize(
    ("n", "c", "o", "k", "d", "h", "w"),
    [
        (2, 3, 8, 10, 8, 83, 90),
        (1, 5, 4, 3, 4, 13, 30),
        (2, 4, 8, 7, 3, 25, 21),
        (1, 2, 4, 9, 2, 20, 37),
    ],
)
def test_dilated_gradients_match_torch(ops, n, c, o, k, d, h, w):
    """Input gradient (padded, zero taps skipped) and weight gradient (every
    tap block: k = 10, 3, 7, 9 take 5, 3, 4, 5 taps per work-item)."""
    rng = np.random.default_rng(k + d)
    x, wt = _rand(rng, n, c, h, w), _rand(rng, o, c, k, k)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(wt, requires_grad=True)
    ty = F.conv2d(tx, tw, dilation=d)
    gy = _rand(rng, *ty.shape)
    ty.backward(torch.tensor(gy))
    dx, dw, g = ops.upload(x), ops.upload(wt), ops.upload(gy)
    gx = ops.conv_bw_input(g, dw, d)
    np.testing.assert_allclose(ops.download(gx), tx.grad.numpy(), **BW)
    ops.conv_bw_input(g, dw, d, out=gx, accum=True)
    np.testing.assert_allclose(ops.download(gx), 2 * tx.grad.numpy(), **BW)
    gw, gb = ops.empty(wt.shape), ops.empty((o,))
    ops.conv_bw_weight(dx, g, d, k, gw, gb)
    np.testing.assert_allclose(ops.download(gw), tw.grad.numpy(), **BW)
    np.testing.assert_allclose(ops.download(gb), gy.sum(axis=(0, 2, 3)), **BW)


def test_phase_choice():
    from napari_greentea.backend.opencl._phases import use_phases

    assert not use_phases(1, 128, 19200)
    assert use_phases(8, 128, 19200)  # 8 phases of 16 columns: no lane wasted
    # 8 phases of 5 columns would fill 16-lane vectors by a third
    assert not use_phases(8, 40, 19200)
    assert not use_phases(8, 128, 128 * 4 * 4)  # too little work per output for two copies
