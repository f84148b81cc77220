"""bf16 autocast training and inference stay close to float32 (stated tolerance: 2e-2)."""

import numpy as np
import pytest

TOLERANCE = 2e-2  # bfloat16 keeps 8 mantissa bits: ~4e-3 relative per operation


def test_bf16_training_steps_match_float32_within_tolerance():
    from napari_greentea.backend import get_backend
    from napari_greentea.config import LossConfig, TrainConfig
    from napari_greentea.losses import LossBatch, make_loss
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights

    graph = dense_graph(preset("u", depth=2, base_fmaps=8))
    weights = init_weights(graph, 0)
    rng = np.random.default_rng(0)
    size = graph.input_size_for(32)
    out = graph.output_size(size)
    batches = []
    for _ in range(3):
        x = rng.standard_normal((2, 1, size, size)).astype(np.float32)
        y = rng.integers(0, 3, (2, out, out))
        batches.append((x, LossBatch.from_patches(x, y, context_lo=graph.context // 2)))
    results = {}
    for bf16 in (False, True):
        model = get_backend("torch-cpu").trainable(
            graph, weights, train=TrainConfig(lr=1e-3, bf16=bf16),
            loss=make_loss(LossConfig()))
        losses = [model.train_step(x, b, 1e-3) for x, b in batches]
        results[bf16] = (losses, model.predict(batches[0][0]))
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=TOLERANCE)
    diff = np.abs(results[True][1] - results[False][1]).max()
    assert diff < TOLERANCE
    assert diff > 0  # bf16 really ran: the trajectories are not bit-identical
    assert results[True][1].dtype == np.float32


def test_bf16_is_off_by_default():
    from napari_greentea.config import TrainConfig

    assert TrainConfig().bf16 is False
    with pytest.raises(TypeError):
        TrainConfig(bf16_mode=True)


def test_bf16_inference_matches_float32_within_tolerance(synthetic_pair):
    """A random-weights interactive U-Net over an EM-like image, tiled as the CLI does."""
    from napari_greentea.models import preset
    from napari_greentea.predict import build_predictor, predict_image

    image = synthetic_pair[0]
    probs = {}
    for bf16 in (False, True):
        predictor = build_predictor(preset("u"), "torch-cpu", seed=0, bf16=bf16)
        probs[bf16] = predict_image(predictor, predictor.graph, image, block=64)
    assert probs[True].dtype == np.float32 and probs[True].shape == probs[False].shape
    diff = np.abs(probs[True] - probs[False]).max()
    assert diff <= TOLERANCE
    assert diff > 0  # bf16 really ran: not bit-identical to float32


def test_bf16_inference_is_off_by_default():
    from napari_greentea.backend import get_backend
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights

    graph = dense_graph(preset("u", depth=1, base_fmaps=4))
    weights = init_weights(graph, 0)
    backend = get_backend("torch-cpu")
    assert backend.build(graph, weights).bf16 is False
    assert backend.build(graph, weights, bf16=True).bf16 is True
