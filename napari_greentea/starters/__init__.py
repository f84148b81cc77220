"""Starter models shipped with the plugin: networks that already know membranes.

Stroke training that starts from a model trained on other membrane images
only has to adapt it to the new image (:mod:`napari_greentea.transfer`).
The models here are trained on data made by this package, so they carry no
third-party licence: ``em-membranes`` is the interactive U-Net with two
more levels than the preset (depth 4: 8x its context), trained on synthetic EM
sections (:mod:`napari_greentea.synthetic_em`, built by
``scripts/make_em_starter.py``). The starter is trained once, so its depth
costs no training time of the user's, and 60 s of strokes from it beat 60 s
from a depth-2 starter on ISBI 2012 (V_rand 0.907 against 0.866, six stroke
seeds), although each of those 60 s then runs fewer iterations
(``benchmarks/results/scribbles_explore.md``, phase 16).

A starter brings its network: ``greentea train IMAGE STROKES --init
em-membranes`` trains that network unless --arch/--preset/--knob/--fmaps/--depth
name another (which must fit it), and ticking the Train widget's starter box
sets the network choices to it. Both adapt it at the recipe's learning rate for a
trained model (``recipes.RECIPES[...]["from_model"]``, Adam 3e-4), not at the
1e-3 that trains from random or pretrained weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..checkpoint import Checkpoint
    from ..config import ModelSpec

__all__ = ["STARTERS", "Starter", "starter"]


@dataclass(frozen=True)
class Starter:
    """A shipped model: ``name`` is how the CLI and the GUI call it."""

    name: str
    filename: str
    #: what it is, for help texts
    summary: str
    #: the preset whose recipe it was trained with (the widget's preset choice)
    preset: str = "interactive"

    @property
    def path(self) -> Path:
        return Path(__file__).parent / self.filename

    def load(self) -> Checkpoint:
        """The trained model (a fresh copy: callers may change it)."""
        return _load(self.path)

    @property
    def spec(self) -> ModelSpec:
        """Its network (one class count; :meth:`fits` accepts others)."""
        return _cached(self.path).spec

    def fits(self, spec: ModelSpec) -> bool:
        """Whether ``spec``'s layers can take over this model's weights (the number of
        classes may differ: the classifier then starts afresh)."""
        from ..pretrain import layers_mismatch

        return layers_mismatch(_cached(self.path).spec, spec) is None


@cache
def _cached(path: Path) -> Checkpoint:
    from ..checkpoint import Checkpoint

    return Checkpoint.load(path)


def _load(path: Path) -> Checkpoint:
    import dataclasses

    model = _cached(path)
    return dataclasses.replace(model, weights={k: v.copy() for k, v in model.weights.items()})


STARTERS: dict[str, Starter] = {
    s.name: s for s in (
        Starter("em-membranes", "em_membranes.npz",
                "U-Net / interactive, depth 4, trained on synthetic EM sections; class 1 "
                "membrane, class 2 cell"),
    )
}


def starter(name: str) -> Starter:
    """The shipped starter called ``name``; ValueError listing the names otherwise."""
    try:
        return STARTERS[name]
    except KeyError:
        raise ValueError(f"no starter model called {name!r}; shipped: "
                         f"{', '.join(STARTERS)}") from None
