"""Which weights a training run predicts with: averaged, and the best on held-out strokes.

A network trained on a few strokes fits them within a few hundred
iterations and then wanders: its predictions on the rest of the image
change from one iteration to the next, for better or worse. Two remedies,
both backend-independent (they only see weight dictionaries and a predict
function):

* :class:`WeightAverage`: an exponential moving average of the weights
  (Polyak averaging) smooths the wandering.
* :class:`HeldOutStrokes`: a seeded share of the user's strokes is never
  trained on; weights that score clearly worse on it than the best so far
  are not served, so more training cannot make the served model clearly
  worse on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .graph import PatchGeometry

Weights = Mapping[str, np.ndarray]


class WeightAverage:
    """``avg = d * avg + (1 - d) * w`` per iteration, applied every ``every`` iterations.

    Updating every ``every`` iterations with decay ``d ** every`` keeps the
    cost negligible (one host copy of the weights) with the same time
    constant. Early on the decay is capped at ``(1 + n) / (10 + n)`` for ``n``
    updates, so the average is not dominated by the random initial weights.
    """

    def __init__(self, decay: float, every: int = 10) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"decay must lie in (0, 1), got {decay}")
        self.decay, self.every = decay, every
        self.weights: dict[str, np.ndarray] | None = None
        self.updates = 0

    def update(self, weights: Weights) -> None:
        """Fold ``weights`` in; ``self.weights`` becomes a new dictionary (readers
        in other threads keep a consistent one)."""
        if self.weights is None:
            self.weights = {k: np.array(v, np.float32, copy=True) for k, v in weights.items()}
        else:
            d = min(self.decay**self.every, (1 + self.updates) / (10 + self.updates))
            self.weights = {
                k: (d * avg + (1 - d) * np.asarray(weights[k], np.float32)).astype(np.float32)
                for k, avg in self.weights.items()
            }
        self.updates += 1


class HeldOutStrokes:
    """Validation windows of held-out strokes, and the weights kept on them.

    Weights are kept when they score within ``tolerance`` of the best score
    so far (the latest such weights win). Held-out stroke accuracy peaks
    early and then drifts down by about a percent while the segmentation of
    unseen images keeps improving (``benchmarks/results/scribbles_*``):
    keeping only the single best weights froze the model at a few hundred
    iterations. A real drop (more than ``tolerance``) still reverts to the
    earlier weights.
    """

    def __init__(self, windows: np.ndarray, targets: np.ndarray,
                 tolerance: float = 0.02) -> None:
        self.windows, self.targets, self.tolerance = windows, targets, tolerance
        self.best_score = -np.inf
        self.best_iteration: int | None = None
        self.best_weights: dict[str, np.ndarray] | None = None

    @classmethod
    def from_labels(
        cls,
        images: Sequence[np.ndarray],
        held_out: Sequence[np.ndarray],
        *,
        patch: PatchGeometry,
    ) -> HeldOutStrokes | None:
        """None when no stroke could be held out (e.g. one stroke per class)."""
        from .data.holdout import validation_windows

        windows, targets = validation_windows(
            list(images), list(held_out), input_size=patch.input_size,
            output_size=patch.output_size, context_lo=patch.context_lo,
        )
        return cls(windows, targets) if len(windows) else None

    @property
    def pixels(self) -> int:
        return int((self.targets > 0).sum())

    def score(self, predict: Callable[[np.ndarray], np.ndarray], batch: int = 8) -> float:
        """Balanced accuracy of ``predict`` on the held-out stroke pixels."""
        from .data.holdout import balanced_accuracy

        prob = np.concatenate(
            [predict(self.windows[i : i + batch]) for i in range(0, len(self.windows), batch)]
        )
        return balanced_accuracy(prob, self.targets)

    def offer(self, iteration: int, score: float, weights: Callable[[], Weights]) -> bool:
        """Keep ``weights()`` unless ``score`` is more than ``tolerance`` below the best.

        ``best_score`` is the best score seen; ``best_iteration`` and
        ``best_weights`` are those of the weights kept (served).
        """
        self.best_score = max(self.best_score, score)
        if score < self.best_score - self.tolerance:
            return False
        self.best_iteration = iteration
        self.best_weights = {k: np.array(v, copy=True) for k, v in weights().items()}
        return True
