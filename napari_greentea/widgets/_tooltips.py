"""Tooltips that wrap: Qt shows a plain-text tooltip on one line however long it
is (the starter box's ran across most of the window); rich text wraps."""

from __future__ import annotations

import html
from typing import Any

#: Plain tooltips up to this many characters stay one line.
ONE_LINE = 80


def wrap_tooltips(container: Any) -> None:
    """Make each long plain tooltip under ``container`` (magicgui widgets,
    nested containers included) rich text, so Qt wraps it; the words stay."""
    from magicgui.widgets import Container

    for widget in container:
        if isinstance(widget, Container):
            wrap_tooltips(widget)
        text = widget.native.toolTip()
        if len(text) > ONE_LINE and not text.startswith("<qt>"):
            widget.native.setToolTip(f"<qt>{html.escape(text)}</qt>")
