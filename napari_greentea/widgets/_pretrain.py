"""Pretraining in the background while the user paints (the Train widget's part).

From the moment an image is chosen, a worker pretrains the chosen network
on it (the core's :class:`~napari_greentea.pretrain.Pretrainer`: it learns to
reproduce the image's filter bank, no labels needed) for at most
:data:`BUDGET_S`. Start then trains from those weights: they already respond
to this image's edges, ridges and blobs, so the strokes only have to teach
which of them are membrane. Another image or architecture starts over; the
first Start ends it and takes what it has.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Seconds of pretraining at most: the work done "before the first stroke".
BUDGET_S = 300.0
#: The checkbox's initial state (the widget tests switch it off unless they test it).
ON_BY_DEFAULT = True
#: The shipped model the "start from the built-in EM membrane model" box names.
BUILTIN_STARTER = "em-membranes"
#: That box's initial state. On: on ISBI 2012, 60 s of strokes from it reach V_rand 0.90
#: (twelve stroke seeds) against 0.84 after 5 min of pretraining on the image, with no
#: wait. It knows only EM membranes; for other images the user unticks it, and Start uses
#: the pretraining.
STARTER_ON_BY_DEFAULT = True


def builtin_starter() -> Any:
    """The shipped starter model the starter box names."""
    from ..starters import starter

    return starter(BUILTIN_STARTER)


def builtin_starter_for(spec: Any) -> Any:
    """The shipped starter model when ``spec``'s layers fit it, else None."""
    shipped = builtin_starter()
    return shipped if shipped.fits(spec) else None


class _Job:
    """One pretraining run: built in its worker, stoppable before it exists."""

    def __init__(self, layer: Any, spec: Any) -> None:
        self.layer, self.spec = layer, spec
        self.pretrainer: Any = None
        self.stop_requested = False
        self.ended = threading.Event()

    def stop(self) -> None:
        self.stop_requested = True
        if self.pretrainer is not None:
            self.pretrainer.stop()

    def result(self) -> Any:
        """The weights learned so far, or None before the first step."""
        if self.pretrainer is None:
            return None
        try:
            return self.pretrainer.result()
        except RuntimeError:  # no step done yet
            return None


def _run(job: _Job, image: Any, config: Any, backend: str | None) -> Any:
    """Worker thread: cut the image to its bounded sample, then pretrain."""
    from ..data.subsample import bounded_sample
    from ..pretrain import Pretrainer

    try:
        job.pretrainer = Pretrainer([bounded_sample(image)], job.spec, config, backend=backend)
        if job.stop_requested:
            return
        yield from job.pretrainer.run()
    finally:
        job.ended.set()


class BackgroundPretraining:
    """One pretraining worker at a time, for the Train widget's image and network."""

    def __init__(self, status: Any) -> None:
        self._status = status  # a magicgui Label
        self.enabled = True
        self.worker: Any = None
        self.job: _Job | None = None
        self.result: Any = None  # the finished run's Pretrained

    # ------------------------------------------------------------ control
    def want(self, layer: Any, spec: Any, backend: str | None) -> None:
        """Pretrain ``spec`` on ``layer`` unless that is already running or done."""
        if not self.enabled or layer is None:
            self.forget()  # unchecked: Start must not use what was learned either
            return
        job = self.job
        if (job is not None and job.layer is layer and _same_network(job.spec, spec)
                and (self.worker is not None or self.result is not None)):
            return
        self.stop()
        self._start(layer, spec, backend)

    def stop(self) -> None:
        """End the running pretraining (its worker finishes after the current step)."""
        if self.job is not None:
            self.job.stop()

    def forget(self) -> None:
        """Stop and drop every result (a model exists, or the box was unchecked)."""
        self.stop()
        if self.job is not None:
            self._status.value = ""
        self.job, self.result = None, None

    def handover(self, spec: Any, *, seed: int, class_names: tuple[str, ...]
                 ) -> Callable[[], Any]:
        """What Start's worker calls: stop pretraining, wait for it, build the first weights.

        Returns a function (run it off the GUI thread: it waits for the
        pretraining step in flight) giving ``(Pretrained, initial Checkpoint)``,
        or None when nothing compatible was pretrained.
        """
        job = self.job
        self.stop()

        def take() -> Any:
            if job is None:
                return None
            job.ended.wait()
            result = job.result()
            if result is None or not result.compatible(spec):
                return None
            return result, result.initial_checkpoint(spec, seed=seed, class_names=class_names)

        return take

    # ------------------------------------------------------------ worker
    def _start(self, layer: Any, spec: Any, backend: str | None) -> None:
        from napari.qt.threading import create_worker

        from ..config import ADAPTIVE_THREADS
        from ..pretrain import PretrainConfig
        from ._layers import layer_image

        job = self.job = _Job(layer, spec)
        self.result = None
        config = PretrainConfig(seconds=BUDGET_S, threads=ADAPTIVE_THREADS)
        # a stopped run's worker ends after a newer one started: its events name their job
        worker = self.worker = create_worker(
            _run, job, layer_image(layer), config, backend, _start_thread=False,
            _connect={"yielded": lambda event: self._on_progress(job, event),
                      "errored": lambda err: self._on_failed(job, err)})
        worker.finished.connect(lambda: self._on_finished(job, worker))
        self._status.value = "pretraining: reading the image…"
        self._status.tooltip = (f"learning {layer.name}'s edges, ridges and blobs (no labels); "
                                "paint meanwhile, Start trains from it")
        self.worker.start()

    def _on_progress(self, job: _Job, event: Any) -> None:
        if job is not self.job:
            return
        if event.stage == "features":
            self._status.value = "pretraining: filtering the image…"
            return
        self._status.value = (f"pretraining: {_clock(event.elapsed_s)} / "
                              f"{_clock(event.budget_s)}, {event.iteration:,} iterations")

    def _on_failed(self, job: _Job, err: Exception) -> None:
        """Pretraining is optional: say why it stopped, Start trains from scratch."""
        if job is self.job:
            self._status.value = f"no pretraining: {err}"

    def _on_finished(self, job: _Job, worker: Any) -> None:
        if worker is self.worker:
            self.worker = None
        if job is not self.job:
            return
        self.result = job.result()
        if self.result is not None:
            self._status.value = (f"pretrained: {self.result.iterations:,} iterations in "
                                  f"{_clock(self.result.seconds)}; Start uses them")


def _same_network(a: Any, b: Any) -> bool:
    """Equal specs apart from the number of classes (the pretraining head differs)."""
    return a.replace(num_classes=b.num_classes) == b


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


@dataclass(frozen=True)
class StartedFromPretrained:
    """Training's worker took the pretrained weights (``iterations`` of pretraining)."""

    iterations: int


@dataclass(frozen=True)
class StartedFromModel:
    """Training's worker took a model's weights (trained for ``iterations``): a loaded
    one, or the shipped starter (``source`` says which); ``note`` says when its classes
    were put in the user's order."""

    iterations: int
    source: str = "the loaded model"
    note: str = ""
