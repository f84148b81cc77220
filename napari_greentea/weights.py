"""Backend-independent weights: ``{"<layer>.weight": array, "<layer>.bias": array}``."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from .graph import Graph


def init_weights(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    """Gaussian weights with each layer's ``init_std`` and zero biases (float32)."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        for key, shape in node.weight_shapes().items():
            if key.endswith(".bias"):
                weights[key] = np.zeros(shape, np.float32)
            else:
                weights[key] = (rng.standard_normal(shape) * node.init_std).astype(
                    np.float32
                )
    return weights


def check_weights(graph: Graph, weights: Mapping[str, np.ndarray], *,
                  without: Collection[str] = ()) -> None:
    """Raise ``ValueError`` if ``weights`` does not fit ``graph`` exactly
    (apart from the tensors named in ``without``, which must be absent).

    The message lists missing, unexpected and mis-shaped tensors so a user
    who loads a checkpoint into the wrong architecture sees why.
    """
    expected = {k: v for k, v in graph.weight_shapes().items() if k not in without}
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    wrong = [
        f"{k}: checkpoint {tuple(np.shape(weights[k]))} vs network {expected[k]}"
        for k in expected
        if k in weights and tuple(np.shape(weights[k])) != expected[k]
    ]
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if extra:
            parts.append(f"unexpected {extra[:5]}{' ...' if len(extra) > 5 else ''}")
        if wrong:
            parts.append("wrong shapes: " + "; ".join(wrong[:5]))
        raise ValueError(
            f"weights do not match the network ({graph.description}): " + ", ".join(parts)
        )
