"""Wiring the Train and Predict widgets' push buttons to what a click does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def connect_clicks(widget: Any, *names: str) -> None:
    """Connect ``widget._<name>_button`` to ``widget._on_<name>_clicked`` for each name.

    Both attributes come from the one name, so a button cannot be wired to
    another button's handler.
    """
    for name in names:
        getattr(widget, f"_{name}_button").changed.connect(getattr(widget, f"_on_{name}_clicked"))


def ask_path_then(widget: Any, ask: Callable[..., str | None], then: Callable[[str], Any], *,
                  save: bool) -> Callable[[], None]:
    """A click handler: ``ask(widget.native, save=save)`` for a path, then ``then(path)``.

    The file buttons differ only in the dialog and the action, so each is one
    call instead of a handler method. A cancelled dialog (``ask`` returns
    None) runs nothing.
    """

    def clicked() -> None:
        if path := ask(widget.native, save=save):
            then(path)

    return clicked
