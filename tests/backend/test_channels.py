"""Multi-channel networks on both backends: the first convolution reads C > 1
channels, a two-channel image trains and predicts, and OpenCL equals torch."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.backend.opencl import opencl_available

_OK, _WHY = opencl_available()
pytestmark = [
    pytest.mark.opencl,
    pytest.mark.skipif(not _OK, reason=f"OpenCL unavailable: {_WHY}"),
]
pytest.importorskip("torch")


@pytest.mark.parametrize("kind", ["sw", "sk", "u", "usk"])
def test_forward_with_three_channels_matches_torch(kind):
    from napari_greentea.backend import get_backend
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights

    graph = dense_graph(preset(kind, in_channels=3))
    rng = np.random.default_rng(0)
    weights = {k: v + (0.05 * rng.standard_normal(v.shape)).astype(np.float32)
               for k, v in init_weights(graph, 0).items()}
    assert weights[f"{graph.nodes[1].name}.weight"].shape[1] == 3
    size = graph.input_size_for(16)
    x = rng.standard_normal((2, 3, size, size)).astype(np.float32)
    want = get_backend("torch-cpu").build(graph, weights)(x)
    got = get_backend("opencl").build(graph, weights)(x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _membranes_and_noise():
    """(Y, X, 2): channel 0 carries the membranes, channel 1 only noise."""
    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.sample import synthetic_membranes

    img, gt = synthetic_membranes((80, 80), seed=4)
    noise = np.random.default_rng(4).random(img.shape)
    stack = np.stack([img.astype(np.float32), noise.astype(np.float32)], -1)
    return stack, scribbles_from_ground_truth(gt, fraction=0.05, seed=4)


def test_two_channel_image_trains_and_predicts_alike_on_both_backends():
    from napari_greentea.channels import as_channels
    from napari_greentea.config import TrainConfig
    from napari_greentea.models import preset
    from napari_greentea.predict import predict_image
    from napari_greentea.train import LabeledImage, Trainer

    stack, labels = _membranes_and_noise()
    image = as_channels(stack, axis=-1)
    spec = preset("u", "interactive", in_channels=2, base_fmaps=8, depth=2)
    train = TrainConfig(iterations=6, batch_size=2, output_size=16, lr=1e-4, seed=2)
    runs = {}
    for backend in ("torch-cpu", "opencl"):
        trainer = Trainer(spec, [LabeledImage(image, labels)], train=train, backend=backend)
        trainer.fit()
        prob = predict_image(trainer.model.predict, trainer.graph, image, block=32,
                             preprocess=trainer.preprocess)
        runs[backend] = (np.array(trainer.history), trainer.model.weights(), prob)
    (loss_t, w_t, p_t), (loss_o, w_o, p_o) = runs["torch-cpu"], runs["opencl"]
    first = next(k for k, v in w_t.items() if v.ndim == 4 and v.shape[1] == 2)
    assert w_t[first].shape[1] == 2  # the first convolution reads both channels
    np.testing.assert_allclose(loss_o, loss_t, rtol=1e-3)
    for key in w_t:
        np.testing.assert_allclose(w_o[key], w_t[key], rtol=1e-2, atol=1e-4)
    assert p_t.shape == (2, 80, 80) and np.isfinite(p_t).all()
    np.testing.assert_allclose(p_o, p_t, atol=2e-3)
