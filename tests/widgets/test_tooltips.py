"""Long tooltips are rich text (Qt wraps those) and keep their words."""

from __future__ import annotations

import html
import re

import pytest

from napari_greentea.widgets._tooltips import ONE_LINE


def _natives(container):
    from magicgui.widgets import Container

    for widget in container:
        if isinstance(widget, Container):
            yield from _natives(widget)
        yield widget.native


@pytest.mark.parametrize("name", ["AnnotateWidget", "TrainWidget", "PredictWidget"])
def test_long_tooltips_wrap_and_keep_their_text(make_napari_viewer, name):
    import importlib

    module = importlib.import_module(f"napari_greentea.widgets._{name[:-6].lower()}")
    widget = getattr(module, name)(make_napari_viewer())
    tips = [n.toolTip() for n in _natives(widget) if n.toolTip()]
    long = [t for t in tips if len(t) > ONE_LINE]
    assert all(t.startswith("<qt>") and t.endswith("</qt>") for t in long), long
    if name != "AnnotateWidget":
        assert long, "these widgets have long tooltips"
    for tip in long:
        text = html.unescape(re.sub(r"^<qt>|</qt>$", "", tip))
        assert "<qt>" not in text and len(text) > ONE_LINE
