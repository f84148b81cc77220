"""Normalisation statistics: the sampled grid, the exact pass, one rule for
training and prediction."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.config import PreprocessConfig
from napari_greentea.preprocess import ImageError, preprocess_image, slice_stats, stat_step


def _image() -> np.ndarray:
    image = np.random.default_rng(3).random((150, 130)) * 100
    image[1, 1] = 500.0  # off the strided grid of a small sample budget
    image[2, 3] = -50.0
    return image


def test_full_statistics_are_the_exact_min_and_max():
    norm = slice_stats(_image(), None, PreprocessConfig(stats="full", stat_samples=100))
    assert (norm.lo, norm.hi) == (-50.0, 500.0)


def test_sampled_statistics_read_exactly_the_strided_grid():
    image = _image()
    cfg = PreprocessConfig(stats="sample", stat_samples=100)
    step = stat_step(*image.shape, cfg)
    assert step == int(np.sqrt(150 * 130 / 100))
    grid = image[::step, ::step]
    norm = slice_stats(image, None, cfg)
    assert (norm.lo, norm.hi) == (grid.min(), grid.max())
    lo, hi = np.percentile(grid, (1.0, 99.8))
    pnorm = slice_stats(image, None, cfg.replace(normalize="percentile"))
    np.testing.assert_allclose((pnorm.lo, pnorm.hi), (lo, hi))


def test_small_slices_use_every_pixel_by_default():
    norm = slice_stats(_image(), None, PreprocessConfig())
    assert (norm.lo, norm.hi) == (-50.0, 500.0)


def test_training_preprocessing_uses_the_prediction_statistics():
    """The Trainer's whole-array preprocessing and the tiled predictor share slice_stats."""
    image = np.stack([_image(), _image() * 2])
    cfg = PreprocessConfig(stat_samples=100)
    out = preprocess_image(image, cfg)
    for z in range(2):
        np.testing.assert_array_equal(out[z], slice_stats(image, z, cfg).apply(image[z]))


def test_nan_off_the_sample_is_caught_when_normalised():
    image = _image()
    image[1, 2] = np.nan
    cfg = PreprocessConfig(stat_samples=100)
    slice_stats(image, None, cfg)  # the grid does not see it
    with pytest.raises(ImageError, match="NaN"):
        preprocess_image(image, cfg)


@pytest.mark.parametrize(("normalize", "legacy"), [("minmax", "full"), ("percentile", "sample")])
def test_checkpoints_without_a_stats_field_keep_their_training_statistics(
        tmp_path, normalize, legacy):
    import json

    from napari_greentea.checkpoint import Checkpoint
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights

    graph = dense_graph(preset("u"))
    ckpt = Checkpoint(spec=preset("u"), weights=init_weights(graph, 0),
                      preprocess=PreprocessConfig(normalize=normalize))
    path = ckpt.save(tmp_path / "old.npz")
    with np.load(path) as data:
        arrays = dict(data)
    meta = json.loads(bytes(arrays["meta"]).decode())
    del meta["preprocess"]["stats"]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)
    assert Checkpoint.load(path).preprocess.stats == legacy


def test_bad_stats_settings_are_refused():
    with pytest.raises(ValueError, match="stats"):
        PreprocessConfig(stats="most")
    with pytest.raises(ValueError, match="stat_samples"):
        PreprocessConfig(stat_samples=0)
