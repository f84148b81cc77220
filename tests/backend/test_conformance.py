"""The suite every backend passes: forward, one training step, optimiser state.

A new backend is registered in ``backend.BACKENDS`` and added to
``BACKENDS`` below; nothing else here names a backend. Forward outputs are
checked against a plain numpy interpretation of the graph, not against
another backend.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.backend import available_backends, get_backend

BACKENDS = ("torch-cpu", "torch-cuda", "opencl")


def _backend(name):
    if name not in available_backends():
        pytest.skip(f"{name} is not available here")
    return get_backend(name)


backend_param = pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.opencl] if n == "opencl" else []) for n in BACKENDS]
)


def _reference_forward(graph, weights, x):
    """Direct numpy evaluation of every op, for small graphs."""
    values = {}
    for node in graph.nodes:
        src = values[node.inputs[0]] if node.inputs else x
        if node.op == "input":
            out = x
        elif node.op == "conv":
            w, b = weights[f"{node.name}.weight"], weights[f"{node.name}.bias"]
            k, d = node.kernel, node.dilation
            h, wd = src.shape[2] - (k - 1) * d, src.shape[3] - (k - 1) * d
            out = np.zeros((src.shape[0], w.shape[0], h, wd), np.float64)
            for i in range(k):
                for j in range(k):
                    tap = src[:, :, i * d : i * d + h, j * d : j * d + wd]
                    out += np.einsum("oc,nchw->nohw", w[:, :, i, j], tap)
            out += b[None, :, None, None]
        elif node.op == "relu":
            out = np.maximum(src, 0)
        elif node.op == "pool":
            k, s, d = node.kernel, node.stride, node.dilation
            h = (src.shape[2] - (k - 1) * d - 1) // s + 1
            wd = (src.shape[3] - (k - 1) * d - 1) // s + 1
            taps = [src[:, :, i * d : i * d + s * h : s, j * d : j * d + s * wd : s]
                    for i in range(k) for j in range(k)]
            out = np.max(taps, axis=0)
        elif node.op == "upsample":
            out = src.repeat(2, axis=2).repeat(2, axis=3)
        elif node.op == "crop_concat":
            skip = values[node.inputs[1]]
            h, wd = src.shape[2:]
            oy, ox = (skip.shape[2] - h) // 2, (skip.shape[3] - wd) // 2
            out = np.concatenate([src, skip[:, :, oy : oy + h, ox : ox + wd]], 1)
        elif node.op == "softmax":
            z = np.exp(src - src.max(1, keepdims=True))
            out = z / z.sum(1, keepdims=True)
        values[node.name] = out
    return values[graph.output.name]


def _setup(kind, seed=0, **overrides):
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights

    graph = dense_graph(preset(kind, **overrides))
    rng = np.random.default_rng(seed)
    weights = {k: v + (0.05 * rng.standard_normal(v.shape)).astype(np.float32)
               for k, v in init_weights(graph, seed).items()}
    return graph, weights, rng


SMALL = {
    "u": dict(base_fmaps=4, depth=1),
    "usk": dict(base_fmaps=4, fmaps=(4, 4), fc=(8,)),
    "sk": dict(fmaps=(4, 4, 4), fc=(8,)),
    "sw": dict(fmaps=(4, 4, 4), fc=(8,)),
}


@backend_param
@pytest.mark.parametrize("kind", list(SMALL))
def test_forward_matches_numpy_reference(name, kind):
    graph, weights, rng = _setup(kind, **SMALL[kind])
    size = graph.input_size_for(8)
    x = rng.standard_normal((2, graph.in_channels, size, size)).astype(np.float32)
    predictor = _backend(name).build(graph, weights)
    got = predictor(x)
    assert predictor.graph is graph
    assert got.dtype == np.float32 and got.shape == (2, graph.num_classes, *(
        [graph.output_size(size)] * 2))
    np.testing.assert_allclose(got, _reference_forward(graph, weights, x.astype(np.float64)),
                               rtol=1e-4, atol=1e-5)


@backend_param
def test_bf16_is_computed_or_refused(name):
    """``build(bf16=True)`` gives float32 probabilities within 2e-2 of the reference that
    are not the float32 ones, or raises ``ValueError``: never float32 passed off as bf16."""
    graph, weights, rng = _setup("u", **SMALL["u"])
    size = graph.input_size_for(8)
    x = rng.standard_normal((2, graph.in_channels, size, size)).astype(np.float32)
    try:
        predictor = _backend(name).build(graph, weights, bf16=True)
    except ValueError as err:
        assert "float32" in str(err) and "bf16" in str(err)
        return
    got = predictor(x)
    assert got.dtype == np.float32
    diff = np.abs(got - _reference_forward(graph, weights, x.astype(np.float64))).max()
    assert 1e-5 < diff <= 2e-2


def _batch(graph, rng, n=2, out=8):
    from napari_greentea.losses import LossBatch

    size = graph.input_size_for(out)
    out = graph.output_size(size)
    x = rng.standard_normal((n, graph.in_channels, size, size)).astype(np.float32)
    y = rng.integers(0, graph.num_classes + 1, (n, out, out))
    return x, LossBatch.from_patches(x, y, context_lo=graph.context // 2)


def _trainable(backend, graph, weights, optimizer="adam", state=None, **train):
    from napari_greentea.config import LossConfig, TrainConfig
    from napari_greentea.losses import make_loss

    return backend.trainable(graph, weights,
                             train=TrainConfig(optimizer=optimizer, lr=1e-2, **train),
                             loss=make_loss(LossConfig()), optimizer_state=state)


@backend_param
def test_one_training_step(name):
    backend = _backend(name)
    assert backend.supports_training
    graph, weights, rng = _setup("u", **SMALL["u"])
    model = _trainable(backend, graph, weights)
    x, batch = _batch(graph, rng)
    before = model.predict(x)
    value = model.train_step(x, batch, 1e-2)
    assert isinstance(value, float) and np.isfinite(value) and value > 0
    after = model.weights()
    assert set(after) == set(weights)
    assert any(not np.allclose(after[k], weights[k]) for k in weights)
    assert not np.allclose(model.predict(x), before)
    assert int(model.optimizer_state()["step"]) == 1


@backend_param
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_anchor_decay_pulls_back_after_the_step(name, optimizer):
    """With ``anchor_decay`` a, a step is the plain step w followed by w + a (anchor - w).
    The anchor is the start weights, or ``<key>/anchor`` of a given optimiser state,
    and the exported state carries it."""
    backend = _backend(name)
    graph, weights, rng = _setup("u", **SMALL["u"])
    x, batch = _batch(graph, rng)
    other = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in weights.items()}
    plain = _trainable(backend, graph, weights, optimizer)
    plain.train_step(x, batch, 1e-2)
    stepped = plain.weights()
    for state, target in ((None, weights), ({f"{k}/anchor": v for k, v in other.items()}, other)):
        model = _trainable(backend, graph, weights, optimizer, state, anchor_decay=0.25)
        model.train_step(x, batch, 1e-2)
        for key, w in model.weights().items():
            expected = stepped[key] + 0.25 * (target[key] - stepped[key])
            np.testing.assert_allclose(w, expected, rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(model.optimizer_state()[f"{key}/anchor"], target[key])
    assert not any(k.endswith("/anchor") for k in plain.optimizer_state())


@backend_param
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_optimizer_state_round_trip(name, optimizer):
    """A model rebuilt from weights + optimiser state continues exactly as the original."""
    backend = _backend(name)
    graph, weights, rng = _setup("sk", **SMALL["sk"])
    original = _trainable(backend, graph, weights, optimizer)
    batches = [_batch(graph, rng) for _ in range(3)]
    for x, batch in batches[:2]:
        original.train_step(x, batch, 1e-2)
    state = original.optimizer_state()
    copy = _trainable(backend, graph, original.weights(), optimizer, state)
    assert set(copy.optimizer_state()) == set(state)
    x, batch = batches[2]
    assert copy.train_step(x, batch, 1e-2) == pytest.approx(original.train_step(x, batch, 1e-2))
    for key, value in original.weights().items():
        np.testing.assert_allclose(copy.weights()[key], value, rtol=1e-5, atol=1e-7)
    copy.load_optimizer_state(original.optimizer_state())
    for key, value in original.optimizer_state().items():
        np.testing.assert_allclose(copy.optimizer_state()[key], value, rtol=1e-5, atol=1e-7)
