"""Start a new training run from a model trained on other data (a starter model).

A network trained on one labeled stack already knows what a membrane looks
like; strokes on a new image of the same kind then only have to adapt it.
On ISBI 2012 a U-Net trained for 10 min on the Gerhard et al. 2013 ssTEM
stack (another lab's Drosophila nerve cord, no ISBI labels) scored V_rand
0.81 on slices 20-29 before any stroke and 0.90 on average (0.86-0.93 per
run, two such starters, three stroke seeds) after 60 s of strokes on 2 % of
slices 0-4, against 0.84 from the image's own pretraining
(``benchmarks/results/scribbles_explore.md``, phase 10).

:func:`starting_checkpoint` turns such a model into the first weights of a
new run: iteration 0, no optimiser state or loss history (the starter's Adam
moments describe another dataset), the starter's preprocessing (the
normalisation its layers expect). Every weight carries over, the classifier
too when the class count matches (its rows in the user's class order, as
:mod:`.class_order` matches them); otherwise the classifier starts fresh.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from .checkpoint import Checkpoint
from .class_order import matching_order, reorder_classifier
from .config import ModelSpec
from .models import dense_graph
from .pretrain import Pretrained, classifier_keys, layers_mismatch
from .weights import init_weights

__all__ = ["load_start", "matched_start", "starting_checkpoint"]


def starting_checkpoint(model: Checkpoint, spec: ModelSpec | None = None, *, seed: int = 0,
                        class_names: Sequence[str] = (),
                        order: Sequence[int] | None = None) -> Checkpoint:
    """The first checkpoint of a run on new labels that starts from ``model``'s weights.

    ``spec`` is the network to train (default: ``model``'s); its layers must
    equal ``model``'s apart from the number of classes, else ValueError
    saying which settings differ. With another number of classes the
    classifier is drawn afresh (``seed``) and ``class_names`` name the new
    classes (none: the Trainer's defaults); with the same number the model's
    names are kept unless ``class_names`` are given, and ``order`` (from
    :func:`~napari_greentea.class_order.matching_order`) puts the
    classifier's rows in the user's class order.
    """
    spec = spec or model.spec
    problem = layers_mismatch(model.spec, spec)
    if problem:
        raise ValueError(f"the starter model does not fit the chosen network: {problem}")
    graph = dense_graph(spec)
    same = spec.num_classes == model.spec.num_classes
    weights = (reorder_classifier(model, order) if same and order is not None
               else {k: v.copy() for k, v in model.weights.items()})
    if not same:
        fresh = init_weights(graph, seed)
        weights.update({k: fresh[k] for k in classifier_keys(graph)})
    elif not class_names:
        class_names = model.class_names
    return Checkpoint(spec=spec, weights=weights, preprocess=model.preprocess,
                      class_names=tuple(class_names))


def matched_start(model: Checkpoint, spec: ModelSpec, *, seed: int = 0,
                  class_names: Sequence[str] = (), strokes: Sequence[object] = (),
                  names_decide: bool = True, backend: object = None) -> tuple[Checkpoint, str]:
    """:func:`starting_checkpoint` with the model's classes put in the user's order
    (:func:`~napari_greentea.class_order.matching_order`, by ``class_names`` when
    ``names_decide``, else by ``strokes``); the note says how, or is empty when the
    order stayed."""
    order, why = None, ""
    if spec.num_classes == model.spec.num_classes:
        order, why = matching_order(model, class_names if names_decide else (), strokes,
                                    backend)
    start = starting_checkpoint(model, spec, seed=seed, class_names=class_names, order=order)
    return start, why if order is not None else ""


def load_start(path: str | os.PathLike[str]) -> Checkpoint | Pretrained:
    """What ``--init`` names: a shipped starter by name (``em-membranes``), a trained
    checkpoint or the weights of ``greentea pretrain``; ValueError when it is none."""
    from .starters import STARTERS

    if str(path) in STARTERS and not os.path.exists(path):
        return STARTERS[str(path)].load()
    try:
        return Checkpoint.load(path)
    except ValueError as as_checkpoint:
        try:
            return Pretrained.load(path)
        except ValueError:
            raise ValueError(f"{path} is neither a napari-greentea checkpoint nor a "
                             f"pretrained network ({as_checkpoint})") from None
