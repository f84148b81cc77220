"""Patch sampling and label-histogram equalisation against hand computations."""

import numpy as np
import pytest
from scipy import stats

from napari_greentea.data.augment import Augmenter
from napari_greentea.data.sampling import (
    PatchSampler,
    apply_masking,
    border_weighted_frequencies,
    masking_keep_probabilities,
    patch_prior_weights,
)


def test_border_weighted_frequencies_by_hand():
    labels = np.array([[1, 1, 2, 0], [1, 2, 2, 2], [0, 1, 1, 2]])
    # H=3, W=4, P=2, 0-based: wy = min(y, 3-y, 2) = [0, 1, 1],
    # wx = min(x, 4-x, 2) = [0, 1, 2, 1]; w = outer(wy, wx).
    # class 1 at (0,0),(0,1),(1,0),(2,1),(2,2): 0 + 0 + 0 + 1 + 2 = 3
    # class 2 at (0,2),(1,1),(1,2),(1,3),(2,3): 0 + 1 + 2 + 1 + 1 = 5
    f = border_weighted_frequencies(labels, 2)
    np.testing.assert_allclose(f, [3 / 8, 5 / 8])
    f = border_weighted_frequencies([labels, labels[None]], 2, num_classes=3)
    np.testing.assert_allclose(f, [3 / 8, 5 / 8, 0.0])
    # Rectangular patch (P_y, P_x) = (1, 3): wy = [0, 1, 1], wx = [0, 1, 2, 1].
    np.testing.assert_allclose(border_weighted_frequencies(labels, (1, 3)), [3 / 8, 5 / 8])
    # P_y = 3: wy = min(y, 3-y, 3) = [0, 1, 1] again; P_x = 1: wx = [0, 1, 1, 1]
    # class 1: (2,1)=1, (2,2)=1 -> 2; class 2: (1,1),(1,2),(1,3),(2,3) -> 4
    np.testing.assert_allclose(border_weighted_frequencies(labels, (3, 1)), [1 / 3, 2 / 3])


def test_patch_prior_weights_by_hand():
    labels = np.array([[1, 2, 2], [0, 2, 2]])
    maps, f = patch_prior_weights(labels, 2, np.array([0.25, 0.75]))
    # (0,0): n1=1, n2=2 -> 1/4/0.25 + 2/4/0.75 = 5/3; (0,1): n2=4 -> 4/3.
    np.testing.assert_allclose(maps[0], [[5 / 3, 4 / 3]])
    # weighted counts: class 1: 5/3; class 2: 5/3*2 + 4/3*4 = 26/3.
    np.testing.assert_allclose(f, [5 / 31, 26 / 31])


def test_patch_prior_weights_brute_force():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=(2, 7, 9))
    freqs = np.array([0.5, 0.3, 0.2])
    maps, _ = patch_prior_weights(labels, (3, 4), freqs)
    for z in range(2):
        for y in range(5):
            for x in range(6):
                win = labels[z, y : y + 3, x : x + 4]
                ref = sum((win == c).sum() / 12 / freqs[c - 1] for c in (1, 2, 3))
                assert maps[z][y, x] == pytest.approx(ref)


def test_masking_keep_probabilities():
    np.testing.assert_allclose(masking_keep_probabilities([0.2, 0.8]), [1, 0.25])
    np.testing.assert_allclose(masking_keep_probabilities([0.2, 0.8], [1, 4]), [1, 1])
    np.testing.assert_allclose(masking_keep_probabilities([0.0, 0.1, 0.9]), [1, 1, 1 / 9])


def test_apply_masking_statistics_and_copy():
    labels = np.repeat([[1, 2, 0]], 20000, axis=0)
    original = labels.copy()
    out = apply_masking(labels, np.array([1.0, 0.25]), np.random.default_rng(0))
    np.testing.assert_array_equal(labels, original)
    assert np.all(out[:, 0] == 1) and np.all(out[:, 2] == 0)
    kept = (out[:, 1] == 2).mean()
    assert abs(kept - 0.25) < 0.02
    assert set(np.unique(out[:, 1])) == {0, 2}


def _sparse_pair(shape=(12, 12)):
    labels = np.zeros(shape, dtype=np.int64)
    labels[2, 3] = 1
    labels[9, 10] = 2
    labels[10, 1] = 1
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    return image, labels


def test_patches_always_contain_labels_and_have_right_shapes():
    image, labels = _sparse_pair()
    sampler = PatchSampler([(image, labels)], 9, 4, seed=0)
    imgs, labs = sampler.sample(200)
    assert imgs.shape == (200, 1, 9, 9) and imgs.dtype == np.float32
    assert labs.shape == (200, 4, 4) and labs.dtype == np.int64
    assert np.all((labs > 0).reshape(200, -1).any(axis=1))


def test_uniform_mode_is_uniform_over_valid_offsets():
    # context 0 and image = flat index, so the patch reveals its offset.
    labels = np.zeros((5, 6), dtype=np.int64)
    labels[1, 1] = 1
    labels[4, 5] = 2
    image = np.arange(30, dtype=np.float32).reshape(5, 6)
    sampler = PatchSampler([(image, labels)], 2, 2, seed=123)
    imgs, _ = sampler.sample(4000)
    offsets = imgs[:, 0, 0, 0].astype(int)
    valid = {y * 6 + x for y in range(4) for x in range(5) if labels[y : y + 2, x : x + 2].any()}
    assert set(np.unique(offsets)) == valid  # 4 + 1 = 5 valid offsets
    counts = np.array([(offsets == v).sum() for v in sorted(valid)])
    chi2 = ((counts - counts.mean()) ** 2 / counts.mean()).sum()
    assert chi2 < stats.chi2.ppf(0.999, len(valid) - 1)


def test_histeq_draws_rare_class_more_often():
    labels = np.ones((40, 40), dtype=np.int64)
    labels[30:33, 5:8] = 2
    image = np.zeros((40, 40), dtype=np.float32)

    def rare_fraction(mode):
        sampler = PatchSampler([(image, labels)], 8, 8, mode=mode, masking=False, seed=1)
        _, labs = sampler.sample(2000)
        return (labs == 2).reshape(2000, -1).any(axis=1).mean()

    uniform, histeq = rare_fraction("uniform"), rare_fraction("histeq")
    assert histeq > 2 * uniform


def test_histeq_masking_keeps_rare_class():
    labels = np.ones((20, 20), dtype=np.int64)
    labels[5:8, 5:8] = 2
    image = np.zeros((20, 20), dtype=np.float32)
    sampler = PatchSampler([(image, labels)], 6, 6, mode="histeq", seed=0)
    assert sampler.keep_prob[1] == 1.0 and sampler.keep_prob[0] < 1.0
    _, labs = sampler.sample(300)
    assert (labs == 0).any()  # class 1 pixels got masked


def test_alignment_with_asymmetric_context_and_augmentation():
    rng = np.random.default_rng(2)
    labels = rng.integers(1, 4, size=(3, 15, 17))
    image = labels.astype(np.float32)
    sampler = PatchSampler(
        [(image, labels)],
        (9, 9),
        (4, 4),
        num_classes=3,
        context_lo=(1, 3),
        augmenter=Augmenter(blur=False, seed=3),
        seed=4,
    )
    imgs, labs = sampler.sample(100)
    np.testing.assert_array_equal(imgs[:, 0, 1:5, 3:7], labs.astype(np.float32))


def test_image_smaller_than_patch():
    image = np.arange(9, dtype=np.float32).reshape(3, 3)
    labels = np.array([[0, 1, 0], [2, 0, 0], [0, 0, 1]])
    sampler = PatchSampler([(image, labels)], 11, 5, seed=0)
    imgs, labs = sampler.sample(5)
    assert imgs.shape == (5, 1, 11, 11) and labs.shape == (5, 5, 5)
    np.testing.assert_array_equal(labs[0, :3, :3], labels)
    assert np.all(labs[:, 3:, :] == 0) and np.all(labs[:, :, 3:] == 0)
    np.testing.assert_array_equal(imgs[0, 0, 3:6, 3:6], image)


def test_errors():
    image, labels = _sparse_pair()
    with pytest.raises(ValueError, match="shape"):
        PatchSampler([(image, labels[:-1])], 5, 3)
    with pytest.raises(ValueError, match="no labeled"):
        PatchSampler([(image, np.zeros_like(labels))], 5, 3)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        PatchSampler([(image, labels * 2)], 5, 3, num_classes=2)
    with pytest.raises(ValueError, match="mode"):
        PatchSampler([(image, labels)], 5, 3, mode="bogus")
