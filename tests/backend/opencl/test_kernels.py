"""Each OpenCL kernel against the torch CPU functional op on random inputs."""

from __future__ import annotations

import re

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
FW = dict(rtol=1e-4, atol=1e-5)
BW = dict(rtol=1e-3, atol=1e-4)


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_every_cl_file_defines_kernel_named_after_stem():
    from napari_greentea.backend.opencl._kernels import kernel_names, kernel_source

    names = kernel_names()
    assert len(names) >= 15
    for name in names:
        found = re.findall(r"__kernel\s+void\s+(\w+)", kernel_source(name))
        assert found == [name], f"{name}.cl defines {found}"


def test_build_error_carries_log(ops):
    from napari_greentea.backend.opencl._kernels import KernelBuildError

    with pytest.raises(KernelBuildError, match="conv_fw"):
        ops.context.kernel("conv_fw", K=3)  # C_IN, DIL, KB, RB missing


def test_scalar_arguments_take_the_types_of_the_signature():
    from napari_greentea.backend.opencl._kernels import scalar_arg_dtypes

    assert scalar_arg_dtypes("sgd_update") == (
        None, None, None, np.float32, np.float32, np.float32, np.int32
    )


def test_programs_are_cached_on_their_context(ops):
    knl = ops.context.kernel("relu_fw")
    assert ops.context.kernel("relu_fw") is knl
    assert any(key[1] == "relu_fw" for key in ops.context._programs)


@pytest.mark.parametrize(
    ("n", "c", "o", "k", "d", "h", "w"),
    [
        (2, 3, 8, 3, 1, 20, 23),
        (1, 5, 6, 3, 2, 21, 40),
        (2, 4, 16, 2, 4, 18, 18),
        (1, 7, 3, 5, 1, 17, 16),
        (3, 16, 2, 1, 1, 9, 33),
        (1, 2, 4, 4, 2, 12, 13),
    ],
)
def test_conv_forward_backward(ops, n, c, o, k, d, h, w):
    rng = np.random.default_rng(k * 100 + d)
    x, wt, b = _rand(rng, n, c, h, w), _rand(rng, o, c, k, k), _rand(rng, o)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(wt, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    ty = F.conv2d(tx, tw, tb, dilation=d)
    gy = _rand(rng, *ty.shape)
    ty.backward(torch.tensor(gy))

    dx, dw, db = ops.upload(x), ops.upload(wt), ops.upload(b)
    y = ops.conv(dx, dw, db, d)
    np.testing.assert_allclose(ops.download(y), ty.detach().numpy(), **FW)
    relu = ops.conv(dx, dw, db, d, relu=True)
    np.testing.assert_allclose(ops.download(relu), ty.detach().clamp(min=0).numpy(), **FW)
    g = ops.upload(gy)
    gx = ops.conv_bw_input(g, dw, d)
    np.testing.assert_allclose(ops.download(gx), tx.grad.numpy(), **BW)
    gw, gb = ops.empty(wt.shape), ops.empty(b.shape)
    ops.conv_bw_weight(dx, g, d, k, gw, gb)
    np.testing.assert_allclose(ops.download(gw), tw.grad.numpy(), **BW)
    np.testing.assert_allclose(ops.download(gb), tb.grad.numpy(), **BW)
    # accumulation adds to what is there
    ops.conv_bw_input(g, dw, d, out=gx, accum=True)
    np.testing.assert_allclose(ops.download(gx), 2 * tx.grad.numpy(), **BW)


@pytest.mark.parametrize(
    ("k", "s", "d", "h", "w"),
    [(2, 2, 1, 16, 20), (2, 1, 2, 15, 15), (3, 1, 4, 20, 17), (2, 1, 1, 9, 10), (3, 2, 1, 17, 17)],
)
def test_pool_forward_backward(ops, k, s, d, h, w):
    rng = np.random.default_rng(7)
    # a permutation has no ties, so argmax routing is unambiguous
    x = rng.permutation(2 * 3 * h * w).reshape(2, 3, h, w).astype(np.float32) / 100
    tx = torch.tensor(x, requires_grad=True)
    ty = F.max_pool2d(tx, k, s, dilation=d)
    gy = _rand(rng, *ty.shape)
    ty.backward(torch.tensor(gy))
    y, arg = ops.pool(ops.upload(x), k, s, d, argmax=True)
    np.testing.assert_allclose(ops.download(y), ty.detach().numpy(), **FW)
    gx = ops.pool_bw(ops.upload(gy), arg, x.shape, k, s, d, None, False)
    np.testing.assert_allclose(ops.download(gx), tx.grad.numpy(), **BW)


@pytest.mark.parametrize(("h", "w"), [(5, 5), (6, 9)])
def test_upsample_forward_backward(ops, h, w):
    rng = np.random.default_rng(1)
    x = _rand(rng, 2, 3, h, w)
    tx = torch.tensor(x, requires_grad=True)
    ty = F.interpolate(tx, scale_factor=2, mode="nearest")
    gy = _rand(rng, *ty.shape)
    ty.backward(torch.tensor(gy))
    np.testing.assert_array_equal(ops.download(ops.upsample(ops.upload(x))), ty.detach())
    gx = ops.upsample_bw(ops.upload(gy), None, False)
    np.testing.assert_allclose(ops.download(gx), tx.grad.numpy(), **BW)


@pytest.mark.parametrize(("h", "hb"), [(6, 10), (7, 7), (5, 13)])
def test_crop_concat_forward_backward(ops, h, hb):
    rng = np.random.default_rng(2)
    a, b = _rand(rng, 2, 3, h, h + 1), _rand(rng, 2, 4, hb, hb + 1)
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    o = (hb - h) // 2
    ty = torch.cat([ta, tb[..., o : o + h, o : o + h + 1]], 1)
    gy = _rand(rng, *ty.shape)
    ty.backward(torch.tensor(gy))
    y = ops.crop_concat(ops.upload(a), ops.upload(b))
    np.testing.assert_array_equal(ops.download(y), ty.detach())
    g = ops.upload(gy)
    np.testing.assert_array_equal(ops.download(ops.crop_concat_bw(g, a.shape, 0, None, 0)), ta.grad)
    np.testing.assert_array_equal(ops.download(ops.crop_concat_bw(g, b.shape, 3, None, 0)), tb.grad)


def test_relu_softmax(ops):
    rng = np.random.default_rng(3)
    x = _rand(rng, 2, 3, 7, 9)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.relu(tx)
    gy = _rand(rng, *x.shape)
    ty.backward(torch.tensor(gy))
    y = ops.relu(ops.upload(x))
    np.testing.assert_array_equal(ops.download(y), ty.detach())
    gx = ops.relu_bw(y, ops.upload(gy), None, False)
    np.testing.assert_array_equal(ops.download(gx), tx.grad)
    sm = ops.download(ops.softmax(ops.upload(x)))
    np.testing.assert_allclose(sm, torch.softmax(torch.tensor(x), 1), **FW)


@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_xent(ops, weighted):
    rng = np.random.default_rng(4)
    z = _rand(rng, 2, 3, 6, 7) * 3
    labels = rng.integers(0, 4, (2, 6, 7))
    cw = np.array([0.5, 2.0, 1.5], np.float32) if weighted else np.ones(3, np.float32)
    tz = torch.tensor(z, requires_grad=True)
    mask = torch.tensor(labels > 0)
    target = torch.tensor(np.maximum(labels - 1, 0))
    wpx = torch.tensor(cw)[target] * mask
    ce = F.cross_entropy(tz, target, reduction="none") * wpx
    loss = ce.sum() / wpx.sum()  # torch's weighted mean (losses.softmax)
    loss.backward()
    value, grad = ops.softmax_xent(ops.upload(z), labels, cw)
    assert value == pytest.approx(loss.item(), rel=1e-5)
    np.testing.assert_allclose(ops.download(grad), tz.grad.numpy(), **BW)


@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_optimizer_updates(ops, wd):
    rng = np.random.default_rng(5)
    p0, grads = _rand(rng, 50), [_rand(rng, 50) for _ in range(3)]
    for kind in ("adam", "sgd"):
        tp = torch.tensor(p0, requires_grad=True)
        opt = (
            torch.optim.Adam([tp], lr=0.01, weight_decay=wd)
            if kind == "adam"
            else torch.optim.SGD([tp], lr=0.01, momentum=0.9, weight_decay=wd)
        )
        p, m, v = ops.upload(p0), ops.zeros((50,)), ops.zeros((50,))
        for step, g in enumerate(grads, 1):
            tp.grad = torch.tensor(g)
            opt.step()
            dg = ops.upload(g)
            if kind == "adam":
                ops.adam(
                    p,
                    dg,
                    m,
                    v,
                    b1=0.9,
                    b2=0.999,
                    eps=1e-8,
                    wd=wd,
                    step_size=0.01 / (1 - 0.9**step),
                    bc2_sqrt=(1 - 0.999**step) ** 0.5,
                )
            else:
                ops.sgd(p, dg, m, lr=0.01, momentum=0.9, wd=wd, first=step == 1)
        np.testing.assert_allclose(ops.download(p), tp.detach().numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("weight", [1e-3, 0.3, 0.7])
def test_lerp_matches_torch_lerp_(ops, weight):
    """``anchor_decay``'s pull; torch switches formulas at weight 0.5, and so does the kernel."""
    rng = np.random.default_rng(6)
    p0, end = _rand(rng, 333), _rand(rng, 333) * 10
    p = ops.upload(p0)
    ops.lerp(p, ops.upload(end), weight)
    expected = torch.tensor(p0).lerp_(torch.tensor(end), weight).numpy()
    np.testing.assert_allclose(ops.download(p), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("n", "c", "o"), [(2, 23, 8), (1, 7, 12), (3, 40, 4)])
def test_pointwise_weight_gradient_blocks_channels(ops, n, c, o):
    """1x1 weight gradient: a work-item takes several input channels, the
    last block only partly (23 = 4 x 5 + 3, 7 = 4 + 3)."""
    rng = np.random.default_rng(c)
    x, gy = _rand(rng, n, c, 9, 37), _rand(rng, n, o, 9, 37)
    ref = np.einsum("nohw,nchw->oc", gy, x)[:, :, None, None]
    gw, gb = ops.empty((o, c, 1, 1)), ops.empty((o,))
    ops.conv_bw_weight(ops.upload(x), ops.upload(gy), 1, 1, gw, gb)
    np.testing.assert_allclose(ops.download(gw), ref, **BW)


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_conv_channel_chunks_add_up(ops, chunk):
    """Input channels split over accumulating launches: bias once, ReLU on
    the full sum, and an accumulate request still adds to the old output."""
    rng = np.random.default_rng(chunk)
    x, wt, b = _rand(rng, 2, 5, 12, 19), _rand(rng, 4, 5, 3, 3), _rand(rng, 4)
    ref = F.conv2d(torch.tensor(x), torch.tensor(wt), torch.tensor(b), dilation=2).numpy()
    dx, dw, db = ops.upload(x), ops.upload(wt), ops.upload(b)
    relu = ops.conv(dx, dw, db, 2, relu=True, chunk=chunk)
    np.testing.assert_allclose(ops.download(relu), np.maximum(ref, 0), **FW)
    y = ops.conv(dx, dw, db, 2, chunk=chunk)
    ops.conv(dx, dw, db, 2, out=y, accum=True, chunk=chunk)
    np.testing.assert_allclose(ops.download(y), 2 * ref, **FW)


def test_channel_chunks_follow_kernel_area():
    from napari_greentea.backend.opencl._ops import _channel_chunk

    assert _channel_chunk(1024, 10) == 32
    assert _channel_chunk(1024, 1) == 256
    assert _channel_chunk(20, 3) == 20  # short sums stay in one launch
