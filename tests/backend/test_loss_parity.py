"""Every backend trains every loss exactly as torch on the CPU does.

torch differentiates the losses itself (on the CPU or a GPU); the OpenCL
backend uploads the numpy ``value_and_grad`` gradient. One Adam step from
the same weights on the same batch must give the same loss and the same new
weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.backend import available_backends, get_backend

#: Backends compared with torch-cpu, and the losses each is checked on.
OTHERS = {
    "opencl": ("softmax+crf", "softmax"),
    "torch-cuda": ("softmax+crf", "softmax", "malis"),
}


def _one_step(name: str, loss_kind: str):
    from napari_greentea.config import LossConfig, TrainConfig
    from napari_greentea.losses import LossBatch, make_loss
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights

    graph = dense_graph(preset("u", base_fmaps=4, depth=1))
    weights = init_weights(graph, 0)
    rng = np.random.default_rng(0)
    size = graph.input_size_for(12)
    out = graph.output_size(size)
    x = rng.standard_normal((2, 1, size, size)).astype(np.float32) * 0.5
    y = rng.integers(0, 3, (2, out, out))
    y[:, ::2] = 0  # half the rows unlabeled: only the CRF term sees them
    batch = LossBatch.from_patches(x, y, context_lo=graph.context // 2,
                                   class_weights=np.array([1.5, 0.6], np.float32))
    loss = make_loss(LossConfig(kind=loss_kind, crf_weight=1.0, crf_radius=3))
    model = get_backend(name).trainable(graph, weights, train=TrainConfig(lr=1e-2), loss=loss)
    value = model.train_step(x, batch, 1e-2)
    return weights, value, model.weights()


@pytest.mark.parametrize(
    "name,loss_kind",
    [pytest.param(name, kind, marks=[pytest.mark.opencl] if name == "opencl" else [])
     for name, kinds in OTHERS.items() for kind in kinds],
)
def test_step_equals_torch_cpu_step(name, loss_kind):
    if name not in available_backends():
        pytest.skip(f"{name} is not available here")
    weights, reference_value, reference = _one_step("torch-cpu", loss_kind)
    _, value, got = _one_step(name, loss_kind)
    assert value == pytest.approx(reference_value, rel=1e-4)
    for key, expected in reference.items():
        np.testing.assert_allclose(got[key], expected, rtol=1e-3, atol=1e-5)
    assert any(not np.allclose(got[k], weights[k]) for k in weights)
