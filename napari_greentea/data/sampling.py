"""Training patch sampling with Greentea's label-histogram equalisation.

Label convention: 0 = unlabeled (ignored by every loss), 1..K = classes.
Histogram equalisation follows caffe_neural_tool ``ImageProcessor::Init`` /
``DrawPatchRandom``: a patch prior that favours
patches rich in rare classes, plus random masking of frequent-class pixels.
Only the class axis differs: unlabeled pixels (0) are excluded from every
frequency, and class ``l`` is stored at index ``l - 1``.

All label inputs may be one 2-D array, an array ``(..., H, W)`` of 2-D slices,
or a sequence of such arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .augment import Augmenter

__all__ = [
    "PatchSampler",
    "apply_masking",
    "border_weighted_frequencies",
    "masking_keep_probabilities",
    "patch_prior_weights",
]


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if np.isscalar(size):
        return int(size), int(size)
    py, px = size
    return int(py), int(px)


def _slices(labels) -> list[np.ndarray]:
    arrays = [labels] if isinstance(labels, np.ndarray) else list(labels)
    out = []
    for arr in arrays:
        arr = np.asarray(arr)
        if arr.ndim < 2:
            raise ValueError(f"label images must be at least 2-D, got {arr.shape}")
        out.extend(arr.reshape(-1, *arr.shape[-2:]))
    return out


def channel_slices(image, labels) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """An image and its labels as 2-D slices: ``(C, H, W)`` float32 and ``(H, W)``.

    An image of the labels' shape has one channel; ``(C, *labels.shape)``
    has ``C`` (channel first). Anything else raises ``ValueError``.
    """
    img, lab = np.asarray(image, dtype=np.float32), np.asarray(labels)
    if img.shape == lab.shape:
        img = img[None]
    if img.shape[1:] != lab.shape:
        raise ValueError(f"labels shape {lab.shape} != image shape {img.shape}")
    if lab.ndim not in (2, 3):
        raise ValueError(f"expected 2-D or 3-D, got {lab.shape}")
    planes = np.moveaxis(img.reshape(img.shape[0], -1, *img.shape[-2:]), 1, 0)
    return list(planes), list(lab.reshape(-1, *lab.shape[-2:]))


def _num_classes(slices: list[np.ndarray], num_classes: int | None) -> int:
    return int(max(s.max() for s in slices)) if num_classes is None else num_classes


def _box_sums(mask: np.ndarray, py: int, px: int) -> np.ndarray:
    """Sum of ``mask`` over every ``py x px`` window (integral image)."""
    s = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    s[1:, 1:] = mask.cumsum(0).cumsum(1)
    return s[py:, px:] - s[:-py, px:] - s[py:, :-px] + s[:-py, :-px]


def border_weighted_frequencies(
    labels, patch: int | Sequence[int], num_classes: int | None = None
) -> np.ndarray:
    """Class frequencies weighted by how often a pixel is covered by patches.

    Uses ``w(x, y) = min(x, W - x, P_x) * min(y, H - y, P_y)`` with **0-based**
    ``x, y``, exactly as the C++ loop ``for (x = 0; x < W; ++x)``. (The exact
    coverage count would be ``min(x + 1, W - x, P)``; the original's first row
    and column get weight 0. We keep the original to reproduce its numbers.)

    Parameters
    ----------
    labels : array or sequence of arrays
        Label images (see module docstring); 0 is excluded.
    patch : int or (int, int)
        Patch size ``P`` or ``(P_y, P_x)``.
    num_classes : int, optional
        K; defaults to the largest label present.

    Returns
    -------
    ndarray of float64, shape (K,)
        ``f_l`` for classes 1..K; sums to 1. If every labeled pixel has zero
        weight (labels only on the first row/column), plain counts are used.
    """
    py, px = _pair(patch)
    slices = _slices(labels)
    k = _num_classes(slices, num_classes)
    weighted = np.zeros(k + 1)
    plain = np.zeros(k + 1)
    for lab in slices:
        h, w = lab.shape
        wy = np.minimum(np.minimum(np.arange(h), h - np.arange(h)), py)
        wx = np.minimum(np.minimum(np.arange(w), w - np.arange(w)), px)
        flat = lab.ravel().astype(np.int64)
        weighted += np.bincount(flat, np.outer(wy, wx).ravel(), minlength=k + 1)
        plain += np.bincount(flat, minlength=k + 1)
    counts = weighted[1:] if weighted[1:].sum() > 0 else plain[1:]
    if counts.sum() == 0:
        raise ValueError("no labeled pixels to compute class frequencies from")
    return counts / counts.sum()


def patch_prior_weights(
    labels, patch: int | Sequence[int], freqs: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-offset patch weights ``sum_l (n_l / P^2) / f_l`` and new frequencies.

    Parameters
    ----------
    labels : array or sequence of arrays
        Label images; every 2-D slice must be at least ``patch`` in size.
    patch : int or (int, int)
        Patch size.
    freqs : ndarray, shape (K,)
        Class frequencies (e.g. from :func:`border_weighted_frequencies`).
        Classes with ``f_l == 0`` are absent and contribute nothing.

    Returns
    -------
    weights : list of ndarray
        One ``(H - P_y + 1, W - P_x + 1)`` map per 2-D slice; the entry at
        ``(oy, ox)`` is the weight of the patch whose top-left corner is there.
        It is 0 exactly when the patch holds no labeled pixel.
    freqs : ndarray, shape (K,)
        Frequencies as the sampler sees them: ``f_l ∝ sum weight * n_l``.
    """
    py, px = _pair(patch)
    freqs = np.asarray(freqs, dtype=np.float64)
    inv = np.where(freqs > 0, 1.0 / np.where(freqs > 0, freqs, 1.0), 0.0)
    weighted_counts = np.zeros(freqs.size)
    maps = []
    for lab in _slices(labels):
        if lab.shape[0] < py or lab.shape[1] < px:
            raise ValueError(f"label image {lab.shape} is smaller than the patch")
        counts = [_box_sums(lab == cls, py, px) for cls in range(1, freqs.size + 1)]
        weight = sum(c * (v / (py * px)) for c, v in zip(counts, inv, strict=True))
        weighted_counts += [float((weight * c).sum()) for c in counts]
        maps.append(np.asarray(weight, dtype=np.float64))
    total = weighted_counts.sum()
    return maps, weighted_counts / total if total > 0 else weighted_counts


def masking_keep_probabilities(
    freqs: np.ndarray, boost: Sequence[float] | None = None
) -> np.ndarray:
    """Keep probability ``m_l = (1/f_l) / max_k (1/f_k)`` per class.

    ``f_l`` is first divided by ``boost_l`` and renormalised, so a boost > 1
    makes a class look rarer (kept more often). The rarest class is always
    kept (``m = 1``); classes with zero frequency also get 1.
    """
    f = np.asarray(freqs, dtype=np.float64)
    if boost is not None:
        f = f / np.asarray(boost, dtype=np.float64)
        f = f / f.sum()
    present = f > 0
    if not present.any():
        return np.ones_like(f)
    return np.where(present, f[present].min() / np.where(present, f, 1.0), 1.0)


def apply_masking(
    labels: np.ndarray, keep_prob: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Return a copy of ``labels`` with class-l pixels unlabeled w.p. ``1 - m_l``.

    Pixel masking balances the softmax loss without loss weights, as in the
    original tool; the input array is never modified.
    """
    labels = np.asarray(labels)
    keep_prob = np.asarray(keep_prob, dtype=np.float64)
    table = np.concatenate([[1.0], keep_prob])
    keep = rng.random(labels.shape) < table[labels]
    return np.where(keep, labels, 0).astype(labels.dtype, copy=False)


class PatchSampler:
    """Draw (image, label) training patches that contain labeled pixels.

    Parameters
    ----------
    pairs : sequence of (image, labels)
        Preprocessed float images with integer labels, either 2-D ``(Y, X)``
        or 3-D stacks ``(Z, Y, X)``; stacks are sampled slice by slice (the
        networks are 2-D). An image of the labels' shape has one channel; one
        of shape ``(C, *labels.shape)`` has ``C`` channels (channel first),
        and every image must have the same count. Any size is accepted: images
        are mirror-padded ('symmetric', like ``IPL_BORDER_REFLECT``) so that
        the output patch can reach every border, and images smaller than the
        output patch are additionally padded with unlabeled pixels.
    input_size, output_size : int or (int, int)
        Network input and output patch sizes; ``context = input - output``.
    num_classes : int
        K; labels must lie in 0..K.
    context_lo : int or (int, int), optional
        Offset of the output region inside the input patch (top/left context);
        defaults to ``context // 2``.
    mode : {"uniform", "histeq"}
        ``"uniform"``: offsets drawn uniformly among those whose output region
        holds at least one labeled pixel. ``"histeq"``: Greentea's label
        histogram equalisation with ``patch_prior`` and/or ``masking``.
    patch_prior, masking : bool
        Histeq components (ignored in uniform mode).
    boost : sequence of float, optional
        Per-class boost for masking (length K).
    augmenter : Augmenter, optional
        Applied to every patch; ``None`` (default) means no augmentation.
    seed : int or numpy.random.Generator, optional
        Seed of the sampler's generator.

    Notes
    -----
    Masking happens after a patch is drawn, so a drawn patch can end up
    without labeled pixels; the losses then contribute 0.
    """

    def __init__(
        self,
        pairs,
        input_size: int | Sequence[int],
        output_size: int | Sequence[int],
        *,
        num_classes: int = 2,
        context_lo: int | Sequence[int] | None = None,
        mode: str = "uniform",
        patch_prior: bool = True,
        masking: bool = True,
        boost: Sequence[float] | None = None,
        augmenter: Augmenter | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if mode not in ("uniform", "histeq"):
            raise ValueError(f"mode must be 'uniform' or 'histeq', got {mode!r}")
        self.input_size = _pair(input_size)
        self.output_size = _pair(output_size)
        context = tuple(i - o for i, o in zip(self.input_size, self.output_size))
        if min(context) < 0 or min(self.output_size) < 1:
            raise ValueError("input_size must be >= output_size >= 1")
        lo = tuple(c // 2 for c in context) if context_lo is None else context_lo
        self.context_lo = _pair(lo)
        if any(not 0 <= lo <= c for lo, c in zip(self.context_lo, context)):
            raise ValueError(f"context_lo must lie in [0, {context}]")
        # Symmetric margin: augmentation needs the label centred in the patch.
        self._margin = tuple(max(lo, c - lo) for lo, c in zip(self.context_lo, context))
        self.num_classes = num_classes
        self.mode = mode
        self.augmenter = augmenter
        self.rng = np.random.default_rng(seed)

        images, labels = self._load(pairs)
        oy, ox = self.output_size
        self._images, self._labels = [], []
        for img, lab in zip(images, labels):
            ph, pw = max(oy - lab.shape[0], 0), max(ox - lab.shape[1], 0)
            self._labels.append(np.pad(lab, ((0, ph), (0, pw))).astype(np.int64))
            (my, mx) = self._margin
            pad = ((0, 0), (my, my + ph), (mx, mx + pw))
            self._images.append(np.pad(img, pad, mode="symmetric"))

        self.keep_prob = None
        self.freqs = None
        weights = [(_box_sums(lab > 0, oy, ox) > 0).astype(np.float64) for lab in self._labels]
        if mode == "histeq":
            self.freqs = border_weighted_frequencies(labels, (oy, ox), num_classes)
            if patch_prior:
                weights, self.freqs = patch_prior_weights(self._labels, (oy, ox), self.freqs)
            if masking:
                self.keep_prob = masking_keep_probabilities(self.freqs, boost)
        self._shapes = [w.shape for w in weights]
        self._cum = np.cumsum(np.concatenate([w.ravel() for w in weights]))
        self._starts = np.cumsum([0] + [w.size for w in weights])

    def _load(self, pairs) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per 2-D slice: ``(C, H, W)`` images and ``(H, W)`` labels."""
        images, labels = [], []
        self.channels: int | None = None
        for n, (img, lab) in enumerate(pairs):
            try:
                planes, lab_slices = channel_slices(img, lab)
            except ValueError as err:
                raise ValueError(f"pair {n}: {err}") from None
            lab = np.asarray(lab)
            if self.channels not in (None, planes[0].shape[0]):
                raise ValueError(f"pair {n} has {planes[0].shape[0]} channels, the first pair "
                                 f"{self.channels}; every image needs the same channels")
            self.channels = planes[0].shape[0]
            if not np.issubdtype(lab.dtype, np.integer) and not np.all(lab == np.round(lab)):
                raise ValueError(f"pair {n}: labels must be integers")
            if lab.size and (lab.min() < 0 or lab.max() > self.num_classes):
                raise ValueError(
                    f"pair {n}: label values must lie in 0..{self.num_classes}, "
                    f"found {lab.min()}..{lab.max()}"
                )
            images.extend(planes)
            labels.extend(s.astype(np.int64) for s in lab_slices)
        if not labels or not any((lab > 0).any() for lab in labels):
            raise ValueError("no labeled pixels: nothing to train on")
        return images, labels

    def _draw_offset(self) -> tuple[int, int, int]:
        u = self.rng.random() * self._cum[-1]
        idx = int(np.searchsorted(self._cum, u, side="right"))
        idx = min(idx, self._cum.size - 1)
        k = int(np.searchsorted(self._starts, idx, side="right")) - 1
        oy, ox = np.unravel_index(idx - self._starts[k], self._shapes[k])
        return k, int(oy), int(ox)

    def sample(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``batch`` patches.

        Returns
        -------
        images : ndarray of float32, shape (N, C, H_in, W_in)
        labels : ndarray of int64, shape (N, H_out, W_out)
        """
        (hin, win), (hout, wout) = self.input_size, self.output_size
        (my, mx), (ly, lx) = self._margin, self.context_lo
        images = np.empty((batch, self.channels or 1, hin, win), dtype=np.float32)
        labels = np.empty((batch, hout, wout), dtype=np.int64)
        for n in range(batch):
            k, oy, ox = self._draw_offset()
            img = self._images[k][:, oy : oy + hout + 2 * my, ox : ox + wout + 2 * mx]
            lab = self._labels[k][oy : oy + hout, ox : ox + wout]
            if self.augmenter is not None:
                img, lab = self.augmenter(img, lab)
            if self.keep_prob is not None:
                lab = apply_masking(lab, self.keep_prob, self.rng)
            images[n] = img[:, my - ly : my - ly + hin, mx - lx : mx - lx + win]
            labels[n] = lab
        return images, labels
