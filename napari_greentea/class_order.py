"""Match a starter model's classes to the user's before a new run starts from it.

A starter's classifier row ``k`` scores the model's class ``k + 1`` (the
shipped EM starter: 1 membrane, 2 cell). A user whose class 1 is "cell"
would otherwise start from an inverted classifier: every stroke fights the
starter, and the anchor pulls back toward the wrong answer.
:func:`matching_order` finds the order of the model's classes that fits
the user's, by name when both name the same classes, else by what the model
predicts under the user's strokes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .checkpoint import Checkpoint

__all__ = ["matching_order", "order_by_names", "order_by_strokes", "reorder_classifier"]

#: A permutation must beat the model's own order by this much mean agreement
#: (mean probability of the matched class under each class's strokes) to be used.
MARGIN = 0.1
#: Planes of a stack predicted for the stroke check (those with the most strokes).
MAX_PLANES = 3
#: Image context kept around the strokes' bounding box for the stroke check, px.
PAD = 64


def _key(name: str) -> str:
    return " ".join(str(name).casefold().split())


def order_by_names(model_names: Sequence[str], names: Sequence[str]) -> tuple[int, ...] | None:
    """``order[i]`` = the model's row for the user's class ``i + 1``, when both name the
    same classes (case and spacing ignored); None when the names do not decide."""
    mine, theirs = [_key(n) for n in model_names], [_key(n) for n in names]
    if len(mine) != len(theirs) or len(set(mine)) != len(mine) or sorted(mine) != sorted(theirs):
        return None
    return tuple(mine.index(n) for n in theirs)


def _stroked_planes(image: Any, labels: np.ndarray) -> list[tuple[Any, np.ndarray]]:
    """(image, labels) of the planes with strokes, the most painted first, each cut to
    the strokes' bounding box plus :data:`PAD` px: the check costs what was painted,
    not the size of the image."""
    from .channels import ChannelImage, as_channels

    labels = np.asarray(labels)
    stack = labels[None] if labels.ndim == 2 else labels
    counts = (stack > 0).reshape(len(stack), -1).sum(axis=1)
    picked = [int(z) for z in np.argsort(-counts, kind="stable")[:MAX_PLANES] if counts[z]]
    image = as_channels(image)
    planes = []
    for z in picked:
        ys, xs = np.nonzero(stack[z])
        box = (slice(max(int(ys.min()) - PAD, 0), int(ys.max()) + PAD + 1),
               slice(max(int(xs.min()) - PAD, 0), int(xs.max()) + PAD + 1))
        where = box if labels.ndim == 2 else (z, *box)
        if isinstance(image, ChannelImage):
            cut = np.stack([np.asarray(image.plane(c)[where]) for c in range(image.count)])
            plane = ChannelImage(cut, axis=0) if image.count > 1 else cut[0]
        else:
            plane = np.asarray(image[where])
        planes.append((plane, stack[z][box]))
    return planes


def order_by_strokes(model: Checkpoint, strokes: Sequence[Any], backend: Any = None,
                     ) -> tuple[tuple[int, ...], float, float]:
    """The order of the model's classes that agrees best with the strokes, its mean
    agreement and the model's own order's; ``strokes`` are ``(image, labels)`` pairs
    or objects with ``.image`` and ``.labels`` (the Trainer's ``LabeledImage``)."""
    from scipy.optimize import linear_sum_assignment

    from .predict import build_predictor, predict_image

    k = model.spec.num_classes
    predictor = build_predictor(model, backend)
    mass, count = np.zeros((k, k)), np.zeros(k)
    for pair in strokes:
        image, labels = (pair.image, pair.labels) if hasattr(pair, "labels") else pair
        for plane, lab in _stroked_planes(image, labels):
            prob = np.asarray(predict_image(predictor, predictor.graph, plane,
                                            preprocess=model.preprocess))
            for c in range(1, k + 1):
                where = lab == c
                count[c - 1] += where.sum()
                mass[c - 1] += prob[:, where].sum(axis=1)
    seen = count > 0
    if not seen.any():
        identity = tuple(range(k))
        return identity, float("nan"), float("nan")
    agreement = mass[seen] / count[seen, None]  # painted class x model row
    rows, cols = linear_sum_assignment(-agreement)
    order = list(range(k))
    users = np.flatnonzero(seen)
    for r, c in zip(rows, cols, strict=True):
        order[users[r]] = int(c)
    free = [c for c in range(k) if c not in {order[u] for u in users}]
    for u in np.flatnonzero(~seen):  # unpainted classes take the rows left, in order
        order[u] = free.pop(0)
    best = float(agreement[rows, cols].mean())
    own = float(np.mean([agreement[i, u] for i, u in enumerate(users)]))
    return tuple(order), best, own


def matching_order(model: Checkpoint, class_names: Sequence[str] = (),
                   strokes: Sequence[Any] = (), backend: Any = None,
                   ) -> tuple[tuple[int, ...] | None, str]:
    """``(order, why)``: the model's rows in the user's class order, or None to keep them
    as they are; ``why`` says how it was decided, for the user. Names decide when both
    sides name the same classes; otherwise the strokes, when a permutation agrees with
    them by :data:`MARGIN` more than the model's own order."""
    k = model.spec.num_classes
    identity = tuple(range(k))
    by_name = order_by_names(model.class_names, class_names) if model.class_names else None
    if by_name is not None:
        if by_name == identity:
            return None, "the classes match by name"
        return by_name, "classes matched to yours by name"
    if not strokes or k < 2:
        return None, "kept the model's class order"
    order, best, own = order_by_strokes(model, strokes, backend)
    if order != identity and best >= own + MARGIN:
        return order, f"classes matched to your strokes (agreement {best:.2f}, not {own:.2f})"
    return None, "kept the model's class order"


def reorder_classifier(model: Checkpoint, order: Sequence[int]) -> dict[str, np.ndarray]:
    """The model's weights with the classifier's rows in ``order``."""
    from .models import dense_graph
    from .pretrain import classifier_keys

    weights = {k: v.copy() for k, v in model.weights.items()}
    index = np.asarray(order, np.int64)
    for key in classifier_keys(dense_graph(model.spec)):
        weights[key] = np.ascontiguousarray(weights[key][index])
    return weights
