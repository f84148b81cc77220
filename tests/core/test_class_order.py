"""Matching a starter's classes to the user's (``napari_greentea.class_order``)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.class_order import (
    matching_order,
    order_by_names,
    order_by_strokes,
    reorder_classifier,
)
from napari_greentea.data.scribbles import scribbles_from_ground_truth
from napari_greentea.models import dense_graph, preset
from napari_greentea.predict import build_predictor, predict_image
from napari_greentea.sample import synthetic_membranes
from napari_greentea.starters import starter
from napari_greentea.train import LabeledImage
from napari_greentea.transfer import starting_checkpoint
from napari_greentea.weights import init_weights


@pytest.fixture(scope="module")
def painted():
    """A synthetic section (not the starter's generator) and strokes on 3 % of it,
    1 = membrane, 2 = cell."""
    image, truth = synthetic_membranes((192, 192), seed=3)
    return image, scribbles_from_ground_truth(truth, fraction=0.03, seed=1)


def _swapped(labels):
    return np.where(labels > 0, 3 - labels, 0).astype(labels.dtype)


def test_names_decide_when_both_sides_name_the_same_classes():
    assert order_by_names(("membrane", "cell"), ("membrane", "cell")) == (0, 1)
    assert order_by_names(("membrane", "cell"), ("Cell ", "MEMBRANE")) == (1, 0)
    assert order_by_names(("a", "b", "c"), ("c", "a", "b")) == (2, 0, 1)
    assert order_by_names(("membrane", "cell"), ("background", "boundary")) is None
    assert order_by_names(("membrane", "cell"), ("membrane",)) is None
    assert order_by_names(("x", "x"), ("x", "x")) is None  # ambiguous


def test_reordered_classifier_swaps_the_predicted_classes(painted):
    model = starter("em-membranes").load()
    image = painted[0]
    before = predict_image(build_predictor(model), dense_graph(model.spec), image,
                           preprocess=model.preprocess)
    swapped = starting_checkpoint(model, order=(1, 0), class_names=("cell", "membrane"))
    after = predict_image(build_predictor(swapped), dense_graph(model.spec), image,
                          preprocess=model.preprocess)
    np.testing.assert_allclose(after[0], before[1], atol=1e-5)
    np.testing.assert_allclose(after[1], before[0], atol=1e-5)
    body = {k for k in model.weights if not k.startswith("ip1.")}
    for key in body:  # only the classifier moves
        np.testing.assert_array_equal(swapped.weights[key], model.weights[key])
    np.testing.assert_array_equal(reorder_classifier(model, (0, 1))["ip1.weight"],
                                  model.weights["ip1.weight"])


def test_strokes_find_the_starter_s_classes_in_either_order(painted):
    model = starter("em-membranes").load()
    image, labels = painted
    order, best, own = order_by_strokes(model, [(image, labels)])
    assert order == (0, 1) and best == pytest.approx(own) and best > 0.6
    order, best, own = order_by_strokes(model, [LabeledImage(image, _swapped(labels))])
    assert order == (1, 0) and best > own + 0.3

    assert matching_order(model, (), [(image, labels)]) == (None, "kept the model's class order")
    order, why = matching_order(model, ("background", "boundary"),
                                [(image, _swapped(labels))])
    assert order == (1, 0) and "classes matched to your strokes" in why


def test_names_outrank_strokes_and_a_model_that_cannot_tell_keeps_its_order(painted):
    model = starter("em-membranes").load()
    image, labels = painted
    # the user's names say class 1 is the cell: the rows follow the names, whatever was painted
    assert matching_order(model, ("cell", "membrane"), [(image, labels)]) == (
        (1, 0), "classes matched to yours by name")
    spec = preset("u", "interactive")
    blind = Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0),
                       class_names=("a", "b"))
    assert matching_order(blind, (), [(image, _swapped(labels))])[0] is None


def test_strokes_on_a_stack_use_its_most_painted_planes(painted):
    model = starter("em-membranes").load()
    image, labels = painted
    stack = np.stack([image, image[::-1], image])
    marks = np.stack([np.zeros_like(labels), _swapped(labels)[::-1], np.zeros_like(labels)])
    order, _, _ = order_by_strokes(model, [(stack, marks)])
    assert order == (1, 0)
    nothing = np.zeros_like(marks)
    assert matching_order(model, (), [(stack, nothing)])[0] is None


def test_the_stroke_check_reads_only_the_painted_part_of_each_plane():
    from napari_greentea.channels import ChannelImage
    from napari_greentea.class_order import PAD, _stroked_planes

    image = np.arange(3 * 400 * 500, dtype=np.float32).reshape(3, 400, 500)
    labels = np.zeros(image.shape, np.uint8)
    labels[1, 300:310, 20:40] = 1
    labels[2, 100, 250] = 2
    (plane, lab), (other, _) = _stroked_planes(image, labels)
    assert lab.shape == plane.shape == (10 + 2 * PAD, 40 + PAD)  # cut at the left edge
    np.testing.assert_array_equal(plane, image[1, 300 - PAD : 310 + PAD, : 40 + PAD])
    assert (lab == 1).sum() == 200 and other.shape == (2 * PAD + 1, 2 * PAD + 1)
    colour = ChannelImage(np.stack([image[1], -image[1]], axis=-1), axis=-1)
    [(cut, _)] = _stroked_planes(colour, labels[1])
    assert isinstance(cut, ChannelImage) and cut.shape == lab.shape
    np.testing.assert_array_equal(cut.plane(1), -plane)
