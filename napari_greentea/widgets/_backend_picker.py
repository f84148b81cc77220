"""A backend chooser that also says why the other backends are missing.

Users of GPU tools most often ask "why is my GPU not used?"; listing the
reason next to the choices answers that without a trip to the terminal.

Probing the backends imports torch and pyopencl and asks the drivers for
devices (seconds on a cold start), so it runs in a worker: the picker
offers only ``auto`` and says "loading…" until the worker reports, and the
widgets that own a picker keep their action buttons disabled until then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from magicgui.widgets import ComboBox, Container, Label

LOADING = "loading backends (torch, OpenCL)…"
#: the probe waits this long before importing: its imports hold the GIL most of the
#: time, and the widget's docking, layout and first paint on top of them froze the
#: GUI 280-350 ms instead of 90 (a sleeping worker holds nothing)
START_DELAY_S = 0.3


def probe_backends(delay_s: float = 0.0) -> tuple[dict[str, str], dict[str, str]]:
    """Worker thread: (available, unavailable) backends, with the heavy imports done.

    zarr and dask.array are imported here as well, so the first Predict does
    not pay for them on the GUI thread, and torch's native library is loaded
    with the GIL released first.
    """
    import time

    from ._gc import collections_paused

    time.sleep(delay_s)
    with collections_paused():
        import dask.array  # noqa: F401 - warm the import for the first prediction
        import zarr  # noqa: F401

        from ..backend import available_backends, unavailable_backends
        from ..backend.torch._preload import preload_torch_libraries

        preload_torch_libraries()  # torch's dlopen would otherwise freeze the GUI 0.2-1 s
        return available_backends(), unavailable_backends()


class BackendPicker(Container):
    """ComboBox of available backends plus a label with the unavailable ones."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(layout="vertical", labels=False, **kwargs)
        from napari.qt.threading import create_worker

        self._combo = ComboBox(choices=[("auto", "auto")], value="auto",
                               tooltip="compute backend", enabled=False)
        self._missing = Label(value=LOADING)
        self._missing.native.setWordWrap(True)
        self.extend([self._combo, self._missing])
        self.ready = False
        self._on_ready: list[Callable[[], None]] = []
        self.worker = create_worker(probe_backends, START_DELAY_S)
        self.worker.returned.connect(self._show)
        self.worker.errored.connect(self._show_failure)
        self.worker.start()

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (main thread) once the backends are known."""
        if self.ready:
            callback()
        else:
            self._on_ready.append(callback)

    def gate(self, actions: list[Any], status: Any, idle: str) -> None:
        """Disable ``actions`` and show "loading…" in ``status`` until the probe reports;
        then enable them and show ``idle``."""
        for action in actions:
            action.enabled = False
        status.value = LOADING

        def enable() -> None:
            for action in actions:
                action.enabled = True
            if status.value == LOADING:
                status.value = idle

        self.when_ready(enable)

    def _show(self, probed: tuple[dict[str, str], dict[str, str]]) -> None:
        try:
            self._fill(*probed)
        except RuntimeError:  # the widget was closed (Qt objects deleted) before the probe ended
            return
        self._finish()

    def _fill(self, found: dict[str, str], missing: dict[str, str]) -> None:
        self._combo.choices = [("auto", "auto")] + [
            (f"{k}: {v}"[:60], k) for k, v in found.items()]
        self._combo.value = "auto"
        text = "; ".join(f"{k}: {v}" for k, v in missing.items())
        self._missing.value = f"unavailable: {text}" if text else ""
        self._missing.visible = bool(text)

    def _show_failure(self, err: Exception) -> None:
        self._missing.value = f"backend probe failed: {err}; auto still works"
        self._finish()

    def _finish(self) -> None:
        self._combo.enabled = True
        self.ready = True
        callbacks, self._on_ready = self._on_ready, []
        for callback in callbacks:
            callback()

    def select(self, name: str | None) -> None:
        """Choose backend ``name`` (None: auto) once the probe has listed what exists here."""

        def choose() -> None:
            value = name or "auto"
            if value in self._combo.choices:
                self._combo.value = value

        self.when_ready(choose)

    @property
    def backend(self) -> str | None:
        """The chosen backend name, None for automatic choice."""
        value = self._combo.value
        return None if value == "auto" else value
