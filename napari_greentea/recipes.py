"""Training settings per model preset: what the Train widget and ``greentea train`` start from.

``interactive`` is the annotate -> train -> correct loop on a few strokes
(measured in ``benchmarks/bench_scribbles.py``, results in
``benchmarks/results/scribbles_*.md``): output patches of 128 px in
batches of 2 with label-histogram equalisation, 10 % of the strokes held
out to keep the best weights, predictions from an exponential moving
average of the weights, and every step pulled back by 0.1 % toward the
weights training started from (``anchor_decay``: the pretrained ones after
background pretraining), so sparse strokes cannot drag the network ever
further from them. ``paper`` keeps the plain settings of the paper's
dense-label training.

``from_model``: what changes when the run starts from a *trained* model (a
shipped starter, a checkpoint), not from pretraining or random weights. Such
a network only has to adapt to the strokes, and smaller steps adapt it
without losing what it knows: from the shipped depth-4 starter on ISBI 2012,
60 s of strokes at Adam 3e-4 scored V_rand 0.907 against 0.895 at 1e-3 (six
fresh stroke seeds, interleaved; ``benchmarks/results/scribbles_explore.md``,
phase 17). On pretrained weights 3e-4 gained nothing beyond the spread
between seeds (phase 8), so that path keeps 1e-3.

``dense_labels``: what changes when the labels cover most of every plane
they are painted in (a finished annotation, not strokes). The stroke
remedies then cost more than they save: holding out 10 % of the labels
withholds data and its validation takes training time, the pull toward the
start weights keeps the network from learning what the labels teach, and
class balancing re-weights a class histogram that is already the image's
own. From the shipped starter on dense ISBI labels of slices 0-19, 14 min
on the CPU, no class weights, an average over ~500 iterations (decay
0.998) and neither holdout nor pull scored TTA V_rand 0.962-0.973 on
slices 20-29 over seven runs, against 0.950 with the stroke settings (README,
"Dense labels from the shipped starter").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .config import LossConfig, TrainConfig

RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "interactive": {
        "train": dict(batch_size=2, output_size=128, holdout=0.1, validate_every=50,
                      average=0.99, anchor_decay=1e-3),
        "loss": dict(kind="softmax", class_balance="histeq"),
        "from_model": dict(lr=3e-4),
        "dense_labels": {"train": dict(holdout=0.0, anchor_decay=0.0, average=0.998),
                         "loss": dict(class_balance="none")},
    },
    "paper": {
        "train": dict(batch_size=2, output_size=96),
        "loss": dict(kind="softmax", class_balance="none"),
    },
}


#: Labels are a dense annotation (``recipe(dense_labels=True)``) when their
#: :func:`labeled_share` reaches this; strokes cover a few percent.
DENSE_SHARE = 0.5


def recipe(
    preset: str, *, train: dict[str, Any] | None = None, loss: dict[str, Any] | None = None,
    from_model: bool = False, dense_labels: bool = False,
) -> tuple[TrainConfig, LossConfig]:
    """The configs of ``preset``'s recipe with ``train`` / ``loss`` fields changed.

    ``from_model``: the run starts from a trained model, so the recipe's
    ``from_model`` settings apply. ``dense_labels``: the labels are a dense
    annotation, so the recipe's ``dense_labels`` settings apply. ``train``
    and ``loss`` override both. A preset without a recipe gets the config
    defaults.
    """
    base = RECIPES.get(preset, {"train": {}, "loss": {}})
    adapt = base.get("from_model", {}) if from_model else {}
    dense = base.get("dense_labels", {}) if dense_labels else {}
    return (TrainConfig(**{**base["train"], **adapt, **dense.get("train", {}),
                           **(train or {})}),
            LossConfig(**{**base["loss"], **dense.get("loss", {}), **(loss or {})}))


def labeled_share(labels: Sequence[np.ndarray]) -> float:
    """The share of labeled (> 0) pixels in the 2-D planes of ``labels`` that hold any
    label: ~1 for a finished annotation, a few percent for strokes, however many
    planes of a stack were left unpainted."""
    labeled = painted = 0
    for lab in labels:
        planes = np.asarray(lab).reshape(-1, *np.shape(lab)[-2:]) > 0
        counts = planes.sum(axis=(1, 2))
        labeled += int(counts.sum())
        painted += int((counts > 0).sum()) * planes.shape[1] * planes.shape[2]
    return labeled / painted if painted else 0.0
