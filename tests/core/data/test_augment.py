"""Augmentation: alignment of image and labels, OpenCV blur semantics."""

import numpy as np
import pytest

from napari_greentea.data.augment import Augmenter, gaussian_blur, gaussian_kernel_1d


def test_geometric_ops_keep_alignment_with_centred_label():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(6, 6))
    image = np.pad(labels, 2, mode="symmetric").astype(np.float32)
    aug = Augmenter(blur=False, seed=1)
    seen = set()
    for _ in range(60):
        img, lab = aug(image, labels)
        assert img.shape == (10, 10) and lab.shape == (6, 6)
        np.testing.assert_array_equal(img[2:-2, 2:-2], lab)
        seen.add(lab.tobytes())
    assert len(seen) == 8  # all dihedral transforms occur (mirror x rotation)


def test_non_square_patch_is_only_flipped_or_half_turned():
    labels = np.arange(12).reshape(3, 4)
    image = np.pad(labels, ((1, 1), (2, 2)), mode="symmetric").astype(np.float32)
    aug = Augmenter(blur=False, seed=2)
    for _ in range(20):
        img, lab = aug(image, labels)
        assert lab.shape == (3, 4)
        np.testing.assert_array_equal(img[1:-1, 2:-2], lab)


def test_disabled_is_identity_and_inputs_untouched():
    image = np.random.default_rng(0).random((5, 5)).astype(np.float32)
    labels = np.ones((5, 5), dtype=np.int64)
    img, lab = Augmenter(enabled=False)(image, labels)
    assert img is image and lab is labels
    copy = image.copy()
    Augmenter(seed=0)(image, labels)
    np.testing.assert_array_equal(image, copy)


def test_kernel_follows_opencv_rules():
    np.testing.assert_allclose(gaussian_kernel_1d(5, -0.05), np.array([1, 4, 6, 4, 1]) / 16)
    np.testing.assert_allclose(gaussian_kernel_1d(5, 0.0), np.array([1, 4, 6, 4, 1]) / 16)
    k = gaussian_kernel_1d(5, 1.0)
    ref = np.exp(-(np.arange(-2, 3) ** 2) / 2.0)
    np.testing.assert_allclose(k, ref / ref.sum())
    # Large kernels with sigma <= 0 use 0.3 ((ksize - 1) / 2 - 1) + 0.8.
    ref = np.exp(-(np.arange(-4, 5) ** 2) / (2 * 1.7**2))
    np.testing.assert_allclose(gaussian_kernel_1d(9, -1), ref / ref.sum())
    # Tiny sigma: practically no blur.
    np.testing.assert_allclose(gaussian_kernel_1d(5, 0.05), [0, 0, 1, 0, 0], atol=1e-12)
    with pytest.raises(ValueError):
        gaussian_kernel_1d(4, 1.0)


def test_blur_border_is_reflect_101():
    image = np.zeros((5, 5))
    image[1, 1] = 1.0
    out = gaussian_blur(image, 0.0)
    k = np.array([1, 4, 6, 4, 1]) / 16
    # Reflect-101 maps index -1 to 1, so row 0 sees the impulse through taps
    # k[3] (direct) and k[1] (mirrored): 0.5; 'symmetric' would give 0.3125.
    edge = k[1] + k[3]
    assert out[0, 0] == pytest.approx(edge * edge)
    # Row/column 1 sees it directly (k[2]) and mirrored from index -1 (k[0]).
    centre = k[2] + k[0]
    assert out[0, 1] == pytest.approx(edge * centre)
    assert out[1, 1] == pytest.approx(centre * centre)


def test_blur_and_intensity_touch_image_only():
    labels = np.arange(16).reshape(4, 4)
    image = np.random.default_rng(3).random((4, 4)).astype(np.float32)
    aug = Augmenter(mirror=False, rotate=False, intensity_scale=0.2, intensity_shift=0.1, seed=4)
    img, lab = aug(image, labels)
    np.testing.assert_array_equal(lab, labels)
    assert img.dtype == np.float32 and not np.allclose(img, image)
