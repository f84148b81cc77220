"""Layer operations spread over event-loop turns, in order."""

from __future__ import annotations

import pytest

from napari_greentea.widgets._layer_steps import LayerSteps

pytestmark = pytest.mark.gui


def test_one_step_per_turn_in_order(qtbot):
    steps, done = LayerSteps(interval_ms=20), []
    for name in "abc":
        steps.add(lambda name=name: done.append(name))
    assert done == ["a"] and len(steps) == 2  # the first runs at once, the others wait
    qtbot.waitUntil(lambda: done == ["a", "b", "c"], timeout=2_000)
    assert len(steps) == 0


def test_a_step_added_with_now_false_waits_for_a_later_turn(qtbot):
    steps, done = LayerSteps(interval_ms=20), []
    steps.add(lambda: done.append(1), now=False)
    assert done == []
    qtbot.waitUntil(lambda: done == [1], timeout=2_000)

