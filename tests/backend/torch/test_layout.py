"""Channels-last training on the CPU: a different memory layout, the same numbers."""

import numpy as np

from napari_greentea.backend.torch import _train


def _three_steps(monkeypatch, channels_last: bool):
    import torch

    from napari_greentea.backend import get_backend
    from napari_greentea.config import LossConfig, TrainConfig
    from napari_greentea.losses import LossBatch, make_loss
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights

    monkeypatch.setattr(_train, "CHANNELS_LAST_ON_CPU", channels_last)
    graph = dense_graph(preset("u", depth=2, base_fmaps=8))
    rng = np.random.default_rng(1)
    size = graph.input_size_for(32)
    out = graph.output_size(size)
    model = get_backend("torch-cpu").trainable(
        graph, init_weights(graph, 0), train=TrainConfig(lr=1e-3),
        loss=make_loss(LossConfig()))
    conv = next(p for p in model.module.parameters() if p.ndim == 4)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    assert conv.is_contiguous(memory_format=layout)
    losses = []
    for _ in range(3):
        x = rng.standard_normal((2, 1, size, size)).astype(np.float32)
        y = rng.integers(0, 3, (2, out, out))
        losses.append(model.train_step(x, LossBatch.from_patches(
            x, y, context_lo=graph.context // 2), 1e-3))
    return losses, model.weights(), model.optimizer_state(), model.predict(x)


def test_channels_last_steps_equal_the_contiguous_ones(monkeypatch):
    losses, weights, state, prob = _three_steps(monkeypatch, True)
    ref_losses, ref_weights, ref_state, ref_prob = _three_steps(monkeypatch, False)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    np.testing.assert_allclose(prob, ref_prob, atol=1e-5)
    for key, value in ref_weights.items():
        assert weights[key].flags.c_contiguous  # checkpoints hold plain C-order arrays
        np.testing.assert_allclose(weights[key], value, atol=1e-5, err_msg=key)
    for key, value in ref_state.items():
        np.testing.assert_allclose(state[key], value, atol=1e-5, err_msg=key)


def test_cpu_training_runs_channels_last_by_default():
    import torch

    from napari_greentea.backend import get_backend
    from napari_greentea.config import LossConfig, TrainConfig
    from napari_greentea.losses import make_loss
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights

    graph = dense_graph(preset("u", depth=2, base_fmaps=8))
    model = get_backend("torch-cpu").trainable(
        graph, init_weights(graph, 0), train=TrainConfig(), loss=make_loss(LossConfig()))
    convs = [p for p in model.module.parameters() if p.ndim == 4 and p.shape[-1] > 1]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert not any(p.is_contiguous() for p in convs if p.shape[1] > 1)
