"""Wiring the Train and Predict widgets' push buttons to what a click does."""

from __future__ import annotations

from typing import Any


def connect_clicks(widget: Any, *names: str) -> None:
    """Connect ``widget._<name>_button`` to ``widget._on_<name>_clicked`` for each name.

    Both attributes come from the one name, so a button cannot be wired to
    another button's handler.
    """
    for name in names:
        getattr(widget, f"_{name}_button").changed.connect(getattr(widget, f"_on_{name}_clicked"))
