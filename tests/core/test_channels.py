"""Multi-channel images in the core: channel choice, per-channel normalisation,
tiled prediction, training, checkpoints and the errors for channels that do not fit."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.backend import get_backend
from napari_greentea.channels import (
    ChannelError,
    ChannelImage,
    as_channels,
    channel_planes,
    model_input,
)
from napari_greentea.checkpoint import Checkpoint
from napari_greentea.config import PreprocessConfig, TrainConfig
from napari_greentea.models import dense_graph, preset
from napari_greentea.predict import predict_image
from napari_greentea.preprocess import ConstantSlice, channel_stats, preprocess_channels
from napari_greentea.train import LabeledImage, Trainer, TrainingError
from napari_greentea.weights import init_weights


def _two_channel(seed=0, shape=(72, 80)):
    """(Y, X, 2): channel 0 membranes (uint16 range), channel 1 noise of another scale."""
    from napari_greentea.sample import synthetic_membranes

    img, gt = synthetic_membranes(shape, seed=seed)
    noise = np.random.default_rng(seed).normal(5.0, 0.5, shape)
    stack = np.stack([img.astype(np.float64) * 1000.0, noise], axis=-1).astype(np.float32)
    return stack, gt


def _predictor(kind="usk", in_channels=2, seed=0):
    graph = dense_graph(preset(kind, in_channels=in_channels))
    return get_backend("torch-cpu").build(graph, init_weights(graph, seed)), graph


# ---------------------------------------------------------------- choosing channels
def test_rgb_is_read_as_colour_channels_and_rgba_drops_alpha():
    rgb = np.zeros((20, 30, 3), np.uint8)
    image = as_channels(rgb)
    assert isinstance(image, ChannelImage)
    assert image.shape == (20, 30) and image.channels == (0, 1, 2) and image.axis == 2
    assert as_channels(np.zeros((20, 30, 4), np.uint8)).channels == (0, 1, 2)
    stack = as_channels(np.zeros((5, 20, 30, 3), np.uint8))
    assert stack.shape == (5, 20, 30) and stack.count == 3
    grey = np.zeros((3, 20, 30))  # a stack of 3 slices, not colour
    assert as_channels(grey) is grey


def test_chosen_channels_and_planes_follow_the_axis():
    data = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    image = as_channels(data, axis=1, channels=(3, 0))
    assert image.shape == (3, 5) and image.count == 2
    planes = channel_planes(image)
    np.testing.assert_array_equal(planes[0], data[:, 3])
    np.testing.assert_array_equal(planes[1], data[:, 0])


def test_lazy_zarr_planes_read_the_same_pixels(tmp_path):
    import zarr

    data = np.random.default_rng(0).random((6, 2, 20, 24)).astype(np.float32)  # (Z, C, Y, X)
    arr = zarr.create_array(str(tmp_path / "a.zarr"), shape=data.shape, chunks=(1, 1, 8, 8),
                            dtype="float32")
    arr[...] = data
    lazy, eager = ChannelImage(arr, 1), ChannelImage(data, 1)
    for i in range(2):
        plane = lazy.plane(i)
        np.testing.assert_array_equal(plane[2][3:9:2, 1:], data[2, i, 3:9:2, 1:])
        np.testing.assert_array_equal(plane[..., 5], data[:, i, :, 5])
        np.testing.assert_array_equal(np.asarray(plane), eager.plane(i))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: as_channels(np.zeros((8, 8, 2)), axis=3), r"channel axis 3 is out of range"),
        (lambda: as_channels(np.zeros((8, 8, 2)), axis=-1, channels=(0, 2)),
         r"channel 2 is out of range: the image has 2 channels"),
        (lambda: as_channels(np.zeros((8, 8, 2)), axis=-1, channels=(1, 1)), "twice"),
        (lambda: as_channels(np.zeros((8, 8)), channels=(1,)), "no channel axis"),
        (lambda: model_input(np.zeros((8, 8)), 3, (0, 1, 2)),
         r"reads 3 channel\(s\) but the image gives 1"),
        (lambda: model_input(np.zeros((8, 8, 3), np.uint8), 1),
         r"reads 1 channel\(s\) but the image gives 3"),
    ],
)
def test_channels_that_do_not_fit_are_named(call, message):
    with pytest.raises(ChannelError, match=message):
        call()


def test_model_input_uses_the_trained_channels_unless_told():
    data = np.zeros((16, 16, 4), np.float32)
    assert model_input(data, 2, (0, 2), axis=-1).channels == (0, 2)
    assert model_input(data, 2, (0, 2), axis=-1, channels=(3, 1)).channels == (3, 1)


# ---------------------------------------------------------------- normalisation
def _reference_norm(plane, cfg):
    """Independent numpy: the sampled grid of the slice, then min/max or percentiles."""
    h, w = plane.shape
    step = 1 if cfg.stats == "full" else max(1, int(np.sqrt(h * w / cfg.stat_samples)))
    grid = plane[::step, ::step].astype(np.float64)
    if cfg.normalize == "minmax":
        lo, hi = grid.min(), grid.max()
    else:
        lo, hi = np.percentile(grid, cfg.percentiles)
    return (plane.astype(np.float64) - lo) * (2.0 / (hi - lo)) - 1.0


@pytest.mark.parametrize("normalize", ["minmax", "percentile"])
@pytest.mark.parametrize("stat_samples", [100, 4_000_000])
def test_each_channel_is_normalised_with_its_own_statistics(normalize, stat_samples):
    stack, _ = _two_channel()
    stack = np.stack([stack[:30], stack[30:60]])  # (Z, Y, X, C)
    cfg = PreprocessConfig(normalize=normalize, stat_samples=stat_samples)
    out = preprocess_channels(as_channels(stack, axis=-1), cfg)
    assert out.shape == (2, 2, 30, 80) and out.dtype == np.float32
    for c in range(2):
        for z in range(2):
            np.testing.assert_allclose(out[c, z], _reference_norm(stack[z, :, :, c], cfg),
                                       rtol=1e-5, atol=1e-5)


def test_a_constant_channel_maps_to_minus_one_but_all_constant_is_an_error():
    stack, _ = _two_channel()
    stack[..., 1] = 7.0
    out = preprocess_channels(as_channels(stack, axis=-1))
    np.testing.assert_array_equal(out[1], -1.0)
    assert out[0].min() == pytest.approx(-1.0) and out[0].max() == pytest.approx(1.0)
    stack[..., 0] = 3.0
    with pytest.raises(ConstantSlice, match="every channel of the image is constant"):
        channel_stats(as_channels(stack, axis=-1), None, PreprocessConfig())


# ---------------------------------------------------------------- prediction
@pytest.mark.parametrize("kind", ["u", "usk"])
def test_tiled_equals_untiled_with_channels(kind):
    predictor, graph = _predictor(kind)
    rng = np.random.default_rng(2)
    data = (rng.random((2, 2, 71, 90)) * 200).astype(np.uint8)  # (C, Z, Y, X)
    image = as_channels(data, axis=0)
    whole = predict_image(predictor, graph, image, block=128)
    tiled = predict_image(predictor, graph, image, block=24)
    assert whole.shape == (2, 2, 71, 90)
    np.testing.assert_allclose(tiled, whole, atol=1e-5, rtol=1e-5)
    # same numbers as the network on the whole, per-channel normalised slice
    size = graph.input_size_for(96)
    x = preprocess_channels(image)[:, 1]
    lo = graph.context // 2
    from napari_greentea.predict import symmetric_indices

    rows = symmetric_indices(-lo, size - lo, 71)
    cols = symmetric_indices(-lo, size - lo, 90)
    direct = predictor(np.ascontiguousarray(x[:, rows][:, :, cols])[None])[0]
    np.testing.assert_allclose(whole[:, 1], direct[:, :71, :90], atol=1e-5)


def test_tiled_prediction_of_a_lazy_channel_image(tmp_path):
    import zarr

    predictor, graph = _predictor("usk")
    stack, _ = _two_channel()
    arr = zarr.create_array(str(tmp_path / "in.zarr"), shape=stack.shape, chunks=(16, 16, 1),
                            dtype="float32")
    arr[...] = stack
    lazy = predict_image(predictor, graph, ChannelImage(arr, -1), block=32)
    eager = predict_image(predictor, graph, as_channels(stack, axis=-1), block=64)
    np.testing.assert_allclose(lazy, eager, atol=1e-5)


# ---------------------------------------------------------------- training
def _scribbles(gt):
    from napari_greentea.data.scribbles import scribbles_from_ground_truth

    return scribbles_from_ground_truth(gt, fraction=0.05, seed=0)


def test_two_channels_train_save_load_predict(tmp_path):
    stack, gt = _two_channel()
    pairs = [LabeledImage(as_channels(stack, axis=-1), _scribbles(gt))]
    trainer = Trainer(preset("usk", in_channels=2), pairs, backend="torch-cpu",
                      train=TrainConfig(iterations=3, output_size=16, seed=1,
                                        output=str(tmp_path / "m.npz")),
                      validation=pairs)
    trainer.fit()
    assert trainer.sampler.sample(2)[0].shape[1] == 2
    assert "pixel_accuracy" in trainer.validate()
    ckpt = Checkpoint.load(tmp_path / "m.npz")
    assert ckpt.spec.in_channels == 2 and ckpt.preprocess.channels == (0, 1)
    graph = dense_graph(ckpt.spec)
    predictor = get_backend("torch-cpu").build(graph, ckpt.weights)
    image = model_input(stack, 2, ckpt.preprocess.channels, axis=-1)
    prob = predict_image(predictor, graph, image, preprocess=ckpt.preprocess, block=32)
    assert prob.shape == (2, *gt.shape) and np.isfinite(prob).all()


def test_chosen_channels_are_kept_in_the_checkpoint(tmp_path):
    stack, gt = _two_channel()
    three = np.concatenate([stack, stack[..., :1] * 0.5], axis=-1)  # (Y, X, 3)
    pairs = [LabeledImage(as_channels(three, axis=-1, channels=(2, 0)), _scribbles(gt))]
    trainer = Trainer(preset("usk", in_channels=2), pairs, backend="torch-cpu",
                      train=TrainConfig(iterations=1, output_size=16))
    path = trainer.checkpoint().save(tmp_path / "c.npz")
    assert Checkpoint.load(path).preprocess.channels == (2, 0)


def test_rgb_uint8_trains_without_wrapping():
    stack, gt = _two_channel()
    rgb = np.stack([stack[..., 0] / 4, stack[..., 1] * 40, stack[..., 1] * 20], -1)
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    trainer = Trainer(preset("usk", in_channels=3), [LabeledImage(rgb, _scribbles(gt))],
                      backend="torch-cpu", train=TrainConfig(iterations=2, output_size=16))
    trainer.fit()
    assert trainer.checkpoint().preprocess.channels == (0, 1, 2)
    prob = predict_image(trainer.model.predict, trainer.graph, rgb, block=32)
    assert prob.shape == (2, *gt.shape)


def test_channel_count_must_match_the_network():
    stack, gt = _two_channel()
    with pytest.raises(TrainingError, match=r"image 0 gives 2 channel\(s\).*reads 1"):
        Trainer(preset("usk"), [LabeledImage(as_channels(stack, axis=-1), _scribbles(gt))],
                backend="torch-cpu")
