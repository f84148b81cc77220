"""A backend chooser that also says why the other backends are missing.

Users of GPU tools most often ask "why is my GPU not used?"; listing the
reason next to the choices answers that without a trip to the terminal.
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import ComboBox, Container, Label


class BackendPicker(Container):
    """ComboBox of available backends plus a label with the unavailable ones."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(layout="vertical", labels=False, **kwargs)
        from ..backend import available_backends, unavailable_backends

        found = available_backends()
        choices = [("auto", "auto")] + [(f"{k}: {v}"[:60], k) for k, v in found.items()]
        self._combo = ComboBox(choices=choices, value="auto", tooltip="compute backend")
        missing = unavailable_backends()
        text = "; ".join(f"{k}: {v}" for k, v in missing.items())
        self._missing = Label(value=f"unavailable: {text}" if text else "")
        self._missing.native.setWordWrap(True)
        self._missing.visible = bool(text)
        self.extend([self._combo, self._missing])

    @property
    def backend(self) -> str | None:
        """The chosen backend name, None for automatic choice."""
        value = self._combo.value
        return None if value == "auto" else value
