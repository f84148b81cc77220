import numpy as np
import pytest

from napari_greentea.channels import ChannelImage
from napari_greentea.data.subsample import bounded_sample


def test_small_images_are_returned_whole():
    image = np.arange(30 * 40, dtype=np.float32).reshape(30, 40)
    np.testing.assert_array_equal(bounded_sample(image, max_pixels=10_000), image)
    stack = np.arange(3 * 8 * 9).reshape(3, 8, 9)
    np.testing.assert_array_equal(bounded_sample(stack, max_pixels=1000), stack)


def test_a_large_plane_gives_a_central_crop_within_the_bound():
    image = np.arange(100 * 200).reshape(100, 200)
    cut = bounded_sample(image, max_pixels=2000)
    assert cut.size <= 2000 and cut.size >= 1800
    h, w = cut.shape
    y0, x0 = (100 - h) // 2, (200 - w) // 2
    np.testing.assert_array_equal(cut, image[y0:y0 + h, x0:x0 + w])
    assert w / h == pytest.approx(2, rel=0.1)  # the crop keeps the plane's aspect


def test_a_stack_keeps_evenly_spaced_planes_first_and_last_included():
    stack = np.stack([np.full((10, 10), z) for z in range(30)])
    cut = bounded_sample(stack, max_pixels=400)  # 4 planes of 100 px
    assert cut.shape == (4, 10, 10)
    assert cut[:, 0, 0].tolist() == [0, 10, 19, 29]


def test_lazy_images_are_read_only_where_sampled():
    class Counting:
        def __init__(self, array):
            self.array, self.shape, self.dtype, self.read = array, array.shape, array.dtype, 0

        def __getitem__(self, key):
            out = self.array[key]
            self.read += out.size
            return out

    lazy = Counting(np.ones((4000, 4000), np.uint8))
    cut = bounded_sample(lazy, max_pixels=10_000)
    assert lazy.read == cut.size <= 10_000


def test_channel_images_keep_their_channels_first():
    rgb = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    cut = bounded_sample(ChannelImage(rgb, -1), max_pixels=64 * 80)
    assert isinstance(cut, ChannelImage) and cut.count == 3 and cut.shape == (64, 80)
    np.testing.assert_array_equal(cut.plane(1), rgb[..., 1])


def test_bad_bounds_and_shapes_are_refused():
    with pytest.raises(ValueError, match="positive"):
        bounded_sample(np.zeros((4, 4)), max_pixels=0)
    with pytest.raises(ValueError, match="spatial shape"):
        bounded_sample(np.zeros((2, 3, 4, 5)))
