"""Tiled prediction equals one whole-image pass; sinks, resume, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.backend import get_backend
from napari_greentea.models import dense_graph, preset
from napari_greentea.predict import (
    PredictionJob,
    TileGeometry,
    plan_blocks,
    predict_image,
    symmetric_indices,
)
from napari_greentea.preprocess import ImageError
from napari_greentea.weights import init_weights


def _predictor(kind: str, seed: int = 0):
    graph = dense_graph(preset(kind))
    return get_backend("torch-cpu").build(graph, init_weights(graph, seed)), graph


@pytest.mark.parametrize("kind", ["sw", "sk", "u", "usk"])
def test_tiled_equals_untiled(kind):
    predictor, graph = _predictor(kind)
    rng = np.random.default_rng(1)
    image = (rng.random((2, 71, 90)) * 200).astype(np.uint8)  # not multiples of the block
    whole = predict_image(predictor, graph, image, block=128)  # one block per slice
    tiled = predict_image(predictor, graph, image, block=24)
    assert whole.shape == tiled.shape == (2, 2, 71, 90)
    assert whole.dtype == np.float32
    np.testing.assert_allclose(tiled, whole, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(whole.sum(0), 1.0, atol=1e-5)


def test_image_smaller_than_one_block():
    predictor, graph = _predictor("u")
    image = np.random.default_rng(2).random((13, 9)).astype(np.float32)
    small = predict_image(predictor, graph, image, block=256)
    tiled = predict_image(predictor, graph, image, block=4)
    assert small.shape == (2, 13, 9)
    np.testing.assert_allclose(small, tiled, atol=1e-5)


def test_block_rounds_to_pool_stride():
    graph = dense_graph(preset("u", "paper"))
    geom = TileGeometry.for_graph(graph, 380)
    assert geom.block == 384 and geom.net_output == 388 and geom.net_input == 572


def test_symmetric_indices_match_numpy_pad():
    data = np.arange(7)
    padded = np.pad(data, 5, mode="symmetric")
    np.testing.assert_array_equal(data[symmetric_indices(-5, 12, 7)], padded)


def test_plan_blocks_covers_every_pixel_once():
    blocks = plan_blocks((3, 50, 33), 16)
    cover = np.zeros((3, 50, 33), int)
    for b in blocks:
        cover[b.z, slice(*b.y), slice(*b.x)] += 1
    assert (cover == 1).all()


def test_zarr_sink_chunks_equal_block_and_resume(tmp_zarr):
    predictor, graph = _predictor("usk")
    image = np.random.default_rng(3).random((50, 70)).astype(np.float32)
    job = PredictionJob(predictor, graph, image, block=32, output=tmp_zarr)
    assert job.prob.chunks == (1, 32, 32)
    events = list(job.run(order=job.blocks[:2]))
    assert len(job.pending()) == len(job.blocks) - 2
    assert events[-1].blocks == 2
    calls = []

    def counting(batch):
        calls.append(1)
        return predictor(batch)

    again = PredictionJob(counting, graph, image, block=32, output=tmp_zarr)
    list(again.run())
    assert len(calls) == len(job.blocks) - 2  # finished tiles were not recomputed
    np.testing.assert_allclose(
        np.asarray(again.prob[...]), predict_image(predictor, graph, image, block=32), atol=1e-6
    )


def test_existing_output_with_other_shape_is_refused(tmp_zarr):
    predictor, graph = _predictor("usk")
    list(PredictionJob(predictor, graph, np.ones((20, 20)) * np.arange(20), block=32,
                       output=tmp_zarr).run())
    with pytest.raises(ValueError, match="exists with different settings"):
        PredictionJob(predictor, graph, np.random.rand(30, 20), block=32, output=tmp_zarr)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((2, 3, 20, 20)), "4 dimensions"),
        (np.zeros((0, 5)), "empty"),
        (np.array([["a", "b"], ["c", "d"]]), "non-numeric"),
        (np.full((20, 20), 7.0), "constant"),
        (np.where(np.eye(20) > 0, np.nan, 1.0), "NaN"),
    ],
)
def test_bad_images_give_one_clear_message(image, message):
    predictor, graph = _predictor("usk")
    with pytest.raises(ImageError, match=message):
        predict_image(predictor, graph, image, block=32)


def test_rgb_image_for_a_grey_model_names_both_channel_counts():
    """RGB is read as 3 channels, which a 1-channel model cannot take."""
    from napari_greentea.channels import ChannelError

    predictor, graph = _predictor("usk")
    with pytest.raises(ChannelError, match=r"reads 1 channel\(s\) but the image gives 3"):
        predict_image(predictor, graph, np.zeros((20, 20, 3), np.uint8) + np.arange(3), block=32)


def test_percentile_and_clahe_preprocessing_keep_tiling_exact():
    from napari_greentea.config import PreprocessConfig

    predictor, graph = _predictor("usk")
    image = np.random.default_rng(5).random((60, 60)).astype(np.float32)
    for cfg in (PreprocessConfig(normalize="percentile"), PreprocessConfig(clahe=True)):
        a = predict_image(predictor, graph, image, block=64, preprocess=cfg)
        b = predict_image(predictor, graph, image, block=16, preprocess=cfg)
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kind", ["sw", "sk", "u", "usk"])
def test_sampled_statistics_keep_tiled_equal_to_untiled(kind):
    from napari_greentea.config import PreprocessConfig
    from napari_greentea.preprocess import stat_step

    predictor, graph = _predictor(kind)
    image = (np.random.default_rng(7).random((2, 67, 93)) * 1000).astype(np.float32)
    cfg = PreprocessConfig(stats="sample", stat_samples=500)
    assert stat_step(67, 93, cfg) > 1  # the grid really skips pixels
    whole = predict_image(predictor, graph, image, block=128, preprocess=cfg)
    tiled = predict_image(predictor, graph, image, block=24, preprocess=cfg)
    np.testing.assert_allclose(tiled, whole, atol=1e-5, rtol=1e-5)
