"""Every backend trains the image-aware CRF loss exactly as torch does.

torch differentiates ``SoftmaxCRFLoss.torch``; the OpenCL backend uploads
the numpy ``value_and_grad`` gradient. One Adam step from the same weights
on the same batch must give the same loss and the same new weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.backend import available_backends, get_backend


@pytest.mark.opencl
@pytest.mark.parametrize("loss_kind", ["softmax+crf", "softmax"])
def test_opencl_step_equals_torch_step(loss_kind):
    if "opencl" not in available_backends():
        pytest.skip("opencl is not available here")
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
    train = TrainConfig(lr=1e-2)
    results = {}
    for name in ("torch-cpu", "opencl"):
        model = get_backend(name).trainable(graph, weights, train=train, loss=loss)
        value = model.train_step(x, batch, 1e-2)
        results[name] = (value, model.weights())
    assert results["opencl"][0] == pytest.approx(results["torch-cpu"][0], rel=1e-4)
    for key, value in results["torch-cpu"][1].items():
        np.testing.assert_allclose(results["opencl"][1][key], value, rtol=1e-3, atol=1e-5)
    assert any(not np.allclose(results["opencl"][1][k], weights[k]) for k in weights)
