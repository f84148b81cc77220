"""Predict: stream a tiled prediction into zarr, shown at once, view first.

The probability layers are backed by the zarr sink (plus coarse in-memory
levels for huge images) and refreshed at most 4 times a second while the
worker fills blocks nearest the camera first.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
    create_widget,
)

from ..predict import DEFAULT_BLOCK
from ..segment import DEFAULT_MIN_SIZE, METHODS
from . import _checkpoint_files, _session
from ._backend_picker import BackendPicker
from ._buttons import ask_path_then, connect_clicks
from ._gc import keep_collections_short
from ._layer_steps import LayerSteps
from ._layers import (
    ClassView,
    add_layer_unselected,
    label_colormap,
    layer_image,
    spatial_transform,
    view_focus,
)
from ._lifetime import when_closed
from ._stream import BlockQueue, Prepared, prepare_and_stream, stream_blocks
from ._tooltips import wrap_tooltips

#: seconds between layer refreshes while blocks stream in
REFRESH_S = 0.25

if TYPE_CHECKING:
    import napari

COLORMAPS = ("magenta", "green", "cyan", "yellow", "blue", "red")


class PredictWidget(Container):
    """Predict / cancel / resume, segment and export the probability map."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        keep_collections_short(viewer)  # before building: no full collection in the build
        super().__init__()
        from qtpy.QtCore import QTimer

        self._viewer = viewer
        self._image_combo = create_widget(annotation="napari.layers.Image", label="image")
        self._block_spin = SpinBox(value=DEFAULT_BLOCK, min=32, max=4096, step=32, label="block")
        self._output_edit = LineEdit(value="", label="output .zarr",
                                     tooltip="empty: a temporary folder")
        self._overwrite_check = CheckBox(
            value=False, text="overwrite",
            tooltip="restart an existing output (only a prediction store this tool wrote)")
        self._backend_picker = BackendPicker(label="backend")
        self._tta_check = CheckBox(
            value=False, text="test-time augmentation (8x slower)",
            tooltip="average over the 8 flips and rotations: fewer gaps in thin membranes")
        self._predict_button = PushButton(text="Predict")
        self._cancel_button = PushButton(text="Cancel")
        self._resume_button = PushButton(text="Resume")
        self._class_names: list[str] = []
        self._class_combo = ComboBox(choices=self._class_choices, label="boundary class",
                                     tooltip="the class that separates objects (membrane)")
        self._method_combo = ComboBox(choices=list(METHODS), value="watershed", label="segment",
                                      tooltip="watershed: one object per cell even where the "
                                      "membrane has gaps; threshold: connected components")
        self._min_size_spin = SpinBox(value=DEFAULT_MIN_SIZE, min=0, max=10**7,
                                      label="min size (px)",
                                      tooltip="smaller objects merge into their neighbours")
        self._threshold_spin = FloatSpinBox(value=0.5, min=0.0, max=0.99, step=0.05,
                                            label="threshold",
                                            tooltip="cell iff 1 - boundary > threshold")
        self._segment_button = PushButton(text="Segment")
        self._export_button = PushButton(text="Export…")
        self._load_button = PushButton(text="Load checkpoint…")
        self._export_model_button = PushButton(text="Export model…",
                                               tooltip="bioimage.io model package (.zip)")
        self._status_label = Label(value="")
        self.extend([self._image_combo, self._block_spin, self._output_edit,
                     self._overwrite_check, self._backend_picker, self._tta_check,
                     Container(layout="horizontal", labels=False, widgets=[
                         self._load_button, self._export_model_button]),
                     Container(layout="horizontal", labels=False, widgets=[
                         self._predict_button, self._cancel_button, self._resume_button]),
                     self._class_combo, self._method_combo, self._min_size_spin,
                     self._threshold_spin,
                     Container(layout="horizontal", labels=False, widgets=[
                         self._segment_button, self._export_button]),
                     self._status_label])
        wrap_tooltips(self)
        viewer.layers.events.inserted.connect(self.reset_choices)  # docked or not
        viewer.layers.events.removed.connect(self.reset_choices)
        self.checkpoint: Any = None
        self.job: Any = None
        self.queue: BlockQueue | None = None
        self.worker: Any = None
        self.layers: list[Any] = []
        self._reusable: list[Any] = []  # the previous layers of the image in _layers_of
        self._layers_of: Any = None
        self.refresh_count = 0
        self._dirty = False
        self._last_refresh = 0.0
        self._timer = QTimer()
        self._timer.setInterval(int(REFRESH_S * 1000))  # throttle: at most 4 refreshes a second
        self._timer.timeout.connect(self._refresh)
        self._layer_steps = LayerSteps()
        connect_clicks(self, "predict", "cancel", "resume", "segment", "export", "export_model")
        self._load_button.changed.connect(
            ask_path_then(self, _checkpoint_files.ask_path, self._load, save=False))
        viewer.camera.events.center.connect(self._on_view_changed)
        viewer.dims.events.point.connect(self._on_view_changed)
        self._close_watcher = when_closed(self, self._on_cancel_clicked)  # store stays resumable
        _session.register(viewer, "predict", self)
        # the backend probe (torch and friends) runs in a worker; no Predict before it reports
        self._backend_picker.gate([self._predict_button, self._resume_button],
                                  self._status_label, idle="")

    # ------------------------------------------------------------ model
    def _class_choices(self, widget: Any = None) -> list[tuple[str, int]]:
        return [(n, c) for c, n in enumerate(self._class_names)]

    def _model(self) -> Any:
        return self.checkpoint or _session.latest(self._viewer)

    def _load(self, path: str) -> Any:
        checkpoint = _checkpoint_files.load(path)
        if checkpoint is not None:
            self.checkpoint = checkpoint
            self._status_label.value = f"model: {Path(path).name}"
        return checkpoint

    def _on_export_model_clicked(self) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(
            self.native, "Export bioimage.io model", "model.zip", "bioimage.io package (*.zip)")
        if path:
            self._export_model(path)

    def _export_model(self, path: str) -> Any:
        """Export the current model in a worker; the selected image gives test tensor and cover."""
        from napari.qt.threading import create_worker
        from napari.utils.notifications import show_error, show_info

        from ..export.bioimageio import export_bioimageio

        ckpt, image = self._model(), self._image_combo.value
        if ckpt is None:
            show_error("no model to export: train one or load a checkpoint")
            return None
        sample = None if image is None else layer_image(image)
        worker = create_worker(export_bioimageio, ckpt, path, sample=sample, overwrite=True)
        def done(report: Any) -> None:
            self._status_label.value = f"exported {Path(report.path).name}"
            show_info(f"exported {report.path} (bioimage.io validation {report.status})")

        def failed(err: Exception) -> None:
            self._status_label.value = "export failed"
            show_error(f"export failed: {err}")

        worker.returned.connect(done)
        worker.errored.connect(failed)
        self._status_label.value = f"exporting {Path(path).name}…"
        worker.start()
        return worker

    # ------------------------------------------------------------ project
    _SETTINGS = ("block", "output", "overwrite", "tta", "method", "min_size", "threshold")

    def _setting_widgets(self) -> dict[str, Any]:
        return dict(zip(self._SETTINGS, (
            self._block_spin, self._output_edit, self._overwrite_check, self._tta_check,
            self._method_combo, self._min_size_spin, self._threshold_spin), strict=True))

    def project_settings(self) -> dict[str, Any]:
        values = {k: w.value for k, w in self._setting_widgets().items()}
        return {**values, "backend": self._backend_picker.backend}

    def apply_project_settings(self, settings: dict[str, Any]) -> None:
        for name, widget in self._setting_widgets().items():
            if name in settings:
                widget.value = settings[name]
        self._backend_picker.select(settings.get("backend"))

    # ------------------------------------------------------------ predict
    def _on_predict_clicked(self) -> Any:
        """Check the inputs here; build the job and stream its blocks in one worker."""
        from napari.qt.threading import create_worker
        from napari.utils.notifications import show_error

        image, ckpt = self._image_combo.value, self._model()
        if image is None or ckpt is None:
            show_error("need an image layer and a model (train one or load a checkpoint)")
            return None
        if self.worker is not None:
            show_error("a prediction is already running; cancel it first")
            return None
        names = list(ckpt.class_names) or [f"class {c + 1}"
                                           for c in range(ckpt.spec.num_classes)]
        self._class_names = names
        self._class_combo.reset_choices()
        self._class_combo.value = names.index("membrane") if "membrane" in names else 0
        # this image's previous probability layers get the new data (a napari layer
        # removal runs a full gc.collect, 150-250 ms); other images' layers stay
        previous = (self.layers or self._reusable) if self._layers_of is image else []
        self._reusable = [lyr for lyr in previous if lyr in self._viewer.layers]
        self._layers_of = image
        self.layers, self.job, self.queue = [], None, None
        self._shown = threading.Event()  # set once this prediction's layers are on screen
        self._stop = threading.Event()  # set by Cancel while the worker builds the job
        focus = view_focus(self._viewer, image)
        self.worker = create_worker(
            prepare_and_stream,
            _make_job(ckpt, self._backend_picker.backend, self._tta_check.value,
                      layer_image(image), block=self._block_spin.value,
                      output=self._output_edit.value, overwrite=self._overwrite_check.value,
                      source=image.source.path,
                      scale=tuple(float(v) for v in spatial_transform(image)["scale"]),
                      units=tuple(str(u) for u in getattr(image, "units", ()) or ())),
            (focus[0] if len(focus) == 3 else None, focus[-2], focus[-1]), self._shown,
            stop=self._stop,
            _progress={"desc": "Predicting"},
            _connect={"yielded": self._on_block, "errored": self._on_prepare_failed,
                      "finished": self._on_finished}, _start_thread=False)
        self._status_label.value = "preparing the prediction…"
        self.worker.start()
        return self.worker

    def _on_prepare_failed(self, err: Exception) -> None:
        from napari.utils.notifications import show_error

        show_error(f"cannot predict: {err}")
        self._status_label.value = f"cannot predict: {err}"

    def _on_prepared(self, prepared: Prepared) -> None:
        """GUI thread: the job exists; show its layers, one per event-loop turn."""
        self.job, self.queue, self.pyramid = prepared.job, prepared.queue, prepared.pyramid
        image = self._image_combo.value
        classes, reusable = self.job.prob.shape[0], self._reusable
        for c in range(classes):
            old = reusable[c] if c < len(reusable) else None
            self._layer_steps.add(lambda c=c, old=old: self.layers.append(
                self._show_class(image, c, old)))
        for extra in reusable[classes:]:
            self._layer_steps.add(lambda layer=extra: self._remove_layer(layer))
        self._layer_steps.add(self._shown.set)  # the worker may go on with the other blocks
        self._on_view_changed()
        self._timer.start()

    def _remove_layer(self, layer: Any) -> None:
        if layer in self._viewer.layers:
            self._viewer.layers.remove(layer)

    def _show_class(self, image: Any, c: int, old: Any = None) -> Any:
        """The layer of class ``c``: ``old`` with the new data where it fits, else a new one."""
        data = [ClassView(self.job.prob, c, written=self.pyramid.written,
                          block=self.job.geometry.block)]
        data += [level[c] for level in self.pyramid.levels]
        if c == 0 and self.pyramid.written.any():
            self.refresh_count += 1  # the layer shows the blocks computed so far
        name = f"{image.name} {self._class_names[c]} probability"
        if old is not None and old in self._viewer.layers and old.multiscale == (len(data) > 1):
            old.data = data if len(data) > 1 else data[0]
            old.name = name
            return old
        if old is not None:
            self._remove_layer(old)
        return add_layer_unselected(
            self._viewer, data if len(data) > 1 else data[0], multiscale=len(data) > 1,
            name=name, colormap=COLORMAPS[c % len(COLORMAPS)],
            contrast_limits=(0.0, 1.0), blending="additive", opacity=0.6,
            visible=c == 0, **spatial_transform(image))

    def _start(self, blocks: list[Any]) -> Any:
        from napari.qt.threading import create_worker

        self.queue = BlockQueue(blocks)
        self._on_view_changed()
        self.worker = create_worker(stream_blocks, self.job, self.queue, self.pyramid,
                                    _progress={"total": len(blocks), "desc": "Predicting"})
        self.worker.yielded.connect(self._on_block)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()
        self._timer.start()
        return self.worker

    def _on_view_changed(self, event: Any = None) -> None:
        image = self._image_combo.value
        if self.queue is None or image is None:
            return
        focus = view_focus(self._viewer, image)
        self.queue.set_focus(focus[0] if len(focus) == 3 else None, focus[-2], focus[-1])

    def _on_block(self, event: Any) -> None:
        if isinstance(event, Prepared):
            self._on_prepared(event)
            return
        self._dirty = True
        self._status_label.value = f"block {event.done}/{event.total}"
        if time.monotonic() - self._last_refresh >= REFRESH_S:
            self._refresh()  # leading edge: the first block shows now, not a timer tick later

    def _refresh(self) -> None:
        if self._dirty:
            self._dirty = False
            self._last_refresh = time.monotonic()
            for layer in self.layers:
                layer.refresh()
            self.refresh_count += 1

    def _on_finished(self) -> None:
        self._timer.stop()
        self._refresh()
        self.worker = None
        if self.queue is not None and self.queue.cancelled:
            self._status_label.value = f"cancelled; {len(self.queue)} blocks left (Resume)"

    def _on_cancel_clicked(self) -> None:
        queue = getattr(self, "queue", None)  # also the close hook, which may fire in teardown
        for event in (getattr(self, "_stop", None), getattr(self, "_shown", None)):
            if event is not None:
                event.set()  # stop before the first block, or stop waiting for the layers
        if queue is not None:
            queue.cancelled = True
        elif getattr(self, "worker", None) is not None:
            self.worker.quit()

    def _on_resume_clicked(self) -> Any:
        if self.job is None or self.worker is not None:
            return None
        return self._start(self.job.pending())  # finished tiles are never recomputed

    # ------------------------------------------------------------ segment / export
    def _on_segment_clicked(self) -> Any:
        from napari.qt.threading import create_worker

        if self.job is None:
            return None
        worker = create_worker(
            _segment, self.job.prob, self._class_combo.value or 0,
            method=self._method_combo.value, threshold=self._threshold_spin.value,
            min_size=self._min_size_spin.value,
            _progress={"total": self.job.prob.shape[1] if self.job.prob.ndim == 4 else 1,
                       "desc": "Segmenting"})
        worker.returned.connect(self._show_segmentation)
        worker.start()
        return worker

    def _show_segmentation(self, labels: np.ndarray) -> None:
        image = self._image_combo.value
        colours = {"colormap": label_colormap(1)} if labels.max() == 1 else {}
        add_layer_unselected(self._viewer, labels, kind="labels", **colours,
                             name=f"{image.name} segmentation", scale=image.scale,
                             translate=image.translate)

    def _on_export_clicked(self) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self.native, "Export probabilities",
                                              "probability.tif", "TIFF (*.tif);;zarr (*.zarr)")
        if path:
            self._export(path)

    def _export(self, path: str) -> Any:
        from napari.qt.threading import create_worker

        if self.job is None:
            return None
        worker = create_worker(_export, self.job.prob, path)
        worker.start()
        return worker


def _segment(prob: Any, boundary_class: int, **options: Any) -> Any:
    """Worker thread: instances from the ``boundary_class`` probability, slice by slice."""
    from ..segment import boundary_from_classes, iter_segment

    return (yield from iter_segment(boundary_from_classes(prob, boundary_class), **options))


def _export(prob: Any, path: str) -> Path:
    """Worker thread: TIFF (float32) or zarr copy of the probabilities."""
    import zarr

    from ..io import write_tiff
    from ..store import remove_store

    if str(path).endswith(".zarr"):
        # the dialog asked before replacing; still delete only an export or store of ours
        remove_store(path, inputs=(getattr(prob.store, "root", None),))
        out = zarr.create_array(str(path), shape=prob.shape, chunks=prob.chunks,
                                dtype=prob.dtype, attributes={"greentea": {"export": True}})
        out[...] = prob[...]
        return Path(path)
    return write_tiff(path, prob[...])


def _make_job(ckpt: Any, backend: str | None, tta: bool, image: Any, *, block: int,
              output: str, overwrite: bool, source: Any, scale: tuple[float, ...],
              units: tuple[str, ...]) -> Any:
    """A function that builds the prediction job (it runs in the worker)."""

    def make() -> Any:
        from ..channels import model_input
        from ..predict import PredictionJob, build_predictor
        from ..store import model_fingerprint

        data = model_input(image, ckpt.spec.in_channels, ckpt.preprocess.channels)
        predictor = build_predictor(ckpt, backend, tta=tta)
        out = output or Path(tempfile.mkdtemp(prefix="greentea-")) / "p.zarr"
        return PredictionJob(predictor, predictor.graph, data, block=block, output=out,
                             preprocess=ckpt.preprocess, overwrite=overwrite,
                             attrs={"spec": ckpt.spec.to_dict(), "tta": tta},
                             model_fingerprint=model_fingerprint(
                                 ckpt.spec, ckpt.weights, ckpt.preprocess, tta=tta),
                             source=source, scale=scale, units=units or None)

    return make
