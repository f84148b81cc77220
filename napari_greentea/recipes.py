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
"""

from __future__ import annotations

from typing import Any

from .config import LossConfig, TrainConfig

RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "interactive": {
        "train": dict(batch_size=2, output_size=128, holdout=0.1, validate_every=50,
                      average=0.99, anchor_decay=1e-3),
        "loss": dict(kind="softmax", class_balance="histeq"),
        "from_model": dict(lr=3e-4),
    },
    "paper": {
        "train": dict(batch_size=2, output_size=96),
        "loss": dict(kind="softmax", class_balance="none"),
    },
}


def recipe(
    preset: str, *, train: dict[str, Any] | None = None, loss: dict[str, Any] | None = None,
    from_model: bool = False,
) -> tuple[TrainConfig, LossConfig]:
    """The configs of ``preset``'s recipe with ``train`` / ``loss`` fields changed.

    ``from_model``: the run starts from a trained model, so the recipe's
    ``from_model`` settings apply (``train`` still overrides them). A preset
    without a recipe gets the config defaults.
    """
    base = RECIPES.get(preset, {"train": {}, "loss": {}})
    adapt = base.get("from_model", {}) if from_model else {}
    return (TrainConfig(**{**base["train"], **adapt, **(train or {})}),
            LossConfig(**{**base["loss"], **(loss or {})}))
