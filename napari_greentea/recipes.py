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
"""

from __future__ import annotations

from typing import Any

from .config import LossConfig, TrainConfig

RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "interactive": {
        "train": dict(batch_size=2, output_size=128, holdout=0.1, validate_every=50,
                      average=0.99, anchor_decay=1e-3),
        "loss": dict(kind="softmax", class_balance="histeq"),
    },
    "paper": {
        "train": dict(batch_size=2, output_size=96),
        "loss": dict(kind="softmax", class_balance="none"),
    },
}


def recipe(
    preset: str, *, train: dict[str, Any] | None = None, loss: dict[str, Any] | None = None
) -> tuple[TrainConfig, LossConfig]:
    """The configs of ``preset``'s recipe with ``train`` / ``loss`` fields changed.

    A preset without a recipe gets the config defaults.
    """
    base = RECIPES.get(preset, {"train": {}, "loss": {}})
    return (TrainConfig(**{**base["train"], **(train or {})}),
            LossConfig(**{**base["loss"], **(loss or {})}))
