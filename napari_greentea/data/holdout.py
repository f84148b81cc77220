"""Hold out whole strokes of the user's labels for validation.

Neighbouring pixels of one stroke are nearly identical, so validating on
random pixels of the painted strokes measures memorisation, not
generalisation. Whole strokes (connected components of one class in one
2-D slice) are held out instead: the network never saw anything of them.
"""

from __future__ import annotations

import numpy as np

from .sampling import channel_slices


def stroke_components(labels: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """``(class, slice, flat indices)`` of every 8-connected stroke, in scan order."""
    from scipy import ndimage as ndi

    labels = np.asarray(labels)
    planes = labels.reshape(-1, *labels.shape[-2:])
    plane_size = planes.shape[1] * planes.shape[2]
    out = []
    for z, plane in enumerate(planes):
        for c in (int(v) for v in np.unique(plane) if v > 0):
            comp, count = ndi.label(plane == c, structure=np.ones((3, 3)))
            flat = np.argsort(comp, axis=None, kind="stable")
            bounds = np.searchsorted(comp.ravel()[flat], np.arange(1, count + 2))
            for k in range(count):
                out.append((c, z, z * plane_size + flat[bounds[k] : bounds[k + 1]]))
    return out


def split_strokes(
    labels: np.ndarray, fraction: float = 0.1, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``labels`` into (training, validation) labels by whole strokes.

    Per class, strokes are drawn in a seeded random order and held out until
    they hold at least ``fraction`` of that class's labeled pixels; a stroke
    that would take the share past ``2 * fraction`` is skipped, so a few
    huge components (dense labels) are not held out wholesale. A class
    painted as a single stroke keeps it for training (the network cannot
    learn a class it never sees), so its validation part is empty.
    Both outputs have ``labels``' shape and dtype; 0 = not in that part.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the held-out fraction must lie in (0, 1), got {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train = labels.copy()
    val = np.zeros_like(labels)
    flat_train, flat_val, flat_labels = train.reshape(-1), val.reshape(-1), labels.reshape(-1)
    strokes = stroke_components(labels)
    for c in sorted({s[0] for s in strokes}):
        mine = [s[2] for s in strokes if s[0] == c]
        if len(mine) < 2:
            continue
        total = sum(len(idx) for idx in mine)
        held = 0
        kept = len(mine)
        for k in rng.permutation(len(mine)):
            if held >= fraction * total:
                break
            idx = mine[k]
            if held + len(idx) > 2 * fraction * total or kept == 1:
                continue
            kept -= 1
            flat_val[idx] = flat_labels[idx]
            flat_train[idx] = 0
            held += len(idx)
    return train, val


def validation_windows(
    images: list[np.ndarray],
    labels: list[np.ndarray],
    *,
    input_size: int,
    output_size: int,
    context_lo: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Network input windows covering every held-out labeled pixel, and their labels.

    ``images`` (preprocessed) and ``labels`` are 2-D slices or 3-D stacks,
    images of the labels' shape or channel first (``(C, *labels.shape)``).
    The output grid of each slice is cut into ``output_size`` tiles and
    only tiles holding a labeled pixel are kept, so validation
    costs a fraction of a whole-image prediction. Images are mirror-padded
    like the training sampler's. Returns ``(N, C, input_size, input_size)``
    float32 and ``(N, output_size, output_size)`` int64 (0 = not validated).
    """
    context = input_size - output_size
    windows, targets, channels = [], [], 1
    for image, label in zip(images, labels, strict=True):
        planes, label_slices = channel_slices(image, label)
        channels = planes[0].shape[0]
        for plane, lab in zip(planes, label_slices, strict=True):
            if not lab.any():
                continue
            h, w = lab.shape
            ty, tx = -(-h // output_size), -(-w // output_size)
            lab_pad = np.zeros((ty * output_size, tx * output_size), np.int64)
            lab_pad[:h, :w] = lab
            pad = ((0, 0), (context_lo, context - context_lo + lab_pad.shape[0] - h),
                   (context_lo, context - context_lo + lab_pad.shape[1] - w))
            img_pad = np.pad(plane, pad, mode="symmetric")
            for y in range(0, lab_pad.shape[0], output_size):
                for x in range(0, lab_pad.shape[1], output_size):
                    tile = lab_pad[y : y + output_size, x : x + output_size]
                    if tile.any():
                        targets.append(tile)
                        windows.append(img_pad[:, y : y + input_size, x : x + input_size])
    if not windows:
        return (np.zeros((0, channels, input_size, input_size), np.float32),
                np.zeros((0, output_size, output_size), np.int64))
    return np.stack(windows), np.stack(targets)


def balanced_accuracy(prob: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the labeled classes of the share of their pixels predicted right.

    ``prob`` (N, K, Y, X), ``labels`` (N, Y, X) with 0 = not scored. Balanced,
    so that the frequent class cannot hide errors on the rare one.
    """
    pred = np.asarray(prob).argmax(1) + 1
    labels = np.asarray(labels)
    recalls = [float((pred[labels == c] == c).mean()) for c in np.unique(labels) if c > 0]
    if not recalls:
        raise ValueError("no labeled pixels to validate on")
    return float(np.mean(recalls))
