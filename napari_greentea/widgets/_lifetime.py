"""Noticing that a dock widget was closed, so its worker does not run on unseen.

napari closes a dock by re-parenting the inner widget to nothing (the
widget object lives on); a Close event counts too. The callback runs once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def when_closed(widget: Any, callback: Callable[[], None]) -> Any:
    """Call ``callback`` once when ``widget`` (a magicgui widget) leaves its dock.

    Returns the event filter object; the widget keeps a reference to it.
    """
    from qtpy.QtCore import QEvent, QObject

    fired = False

    def fire() -> None:
        nonlocal fired
        if not fired:
            fired = True
            callback()

    class _Watcher(QObject):
        docked = False  # Qt does not always send ParentAboutToChange: track it here

        def eventFilter(self, obj: Any, event: Any) -> bool:
            kind = event.type()
            if kind == QEvent.Type.ParentChange:
                if obj.parent() is None and self.docked:
                    fire()
                self.docked = obj.parent() is not None
            elif kind == QEvent.Type.Close:
                fire()
            return False

    native = widget.native
    watcher = _Watcher(native)
    watcher.docked = native.parent() is not None
    native.installEventFilter(watcher)
    # no hook on ``destroyed``: by then the Python side may be half torn down, and a
    # callback that touches the widget crashes the interpreter
    return watcher
