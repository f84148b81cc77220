"""Train: read a config, run ``Trainer.run()`` in a worker, show its events.

The live preview asks (QTimer, main thread) for a prediction of the region
in view every few seconds; the prediction itself runs in a separate
FunctionWorker so the GUI never waits for the network.

Progress is the widget's own text and loss curve, not a
``napari.utils.progress``: that one shows napari's animated activity
indicator, and every frame of it recomposites the window through OpenGL.
Under software OpenGL (Mesa llvmpipe, 2 cores) its rendering threads took
about a fifth of the CPU from training, which then ran 305 instead of 449
iterations in 30 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    PushButton,
    SpinBox,
    create_widget,
)

from ..config import CLASS_BALANCES
from ..events import (
    IterationDone,
    TrainingFinished,
    TrainingStarted,
    TrainingStopped,
    Validated,
)
from . import _checkpoint_files, _pretrain, _project, _session
from ._backend_picker import BackendPicker
from ._buttons import ask_path_then, connect_clicks
from ._gc import keep_collections_short
from ._layers import layer_image, training_pairs
from ._lifetime import when_closed
from ._pretrain import BUDGET_S, BackgroundPretraining, StartedFromModel, StartedFromPretrained
from ._preview import PREVIEW_LAYER, LivePreview
from ._tooltips import wrap_tooltips

if TYPE_CHECKING:
    import napari

#: The GUI hears about iterations at most this often (a napari progress update
#: costs ~10 ms of main-thread time; small nets do hundreds of iterations/s).
EVENT_INTERVAL_S = 0.2
__all__ = ["PREVIEW_LAYER", "TrainWidget"]


def _arch_choices(_widget: Any = None) -> list[tuple[str, str]]:
    """(display name, kind) of every registered architecture."""
    from ..models import ARCHITECTURES

    return [(arch.display_name, kind) for kind, arch in ARCHITECTURES.items()]


def _loss_choices(_widget: Any = None) -> list[tuple[str, str]]:
    """(display name, name) of every registered loss."""
    from ..losses import LOSSES

    return [(entry.display_name, name) for name, entry in LOSSES.items()]


#: The line under the boxes while Start would train from the shipped starter.
_STARTER_NOTE = "Start trains from the built-in EM membrane model"

class TrainWidget(Container):
    """Architecture, loss, backend, schedule; Start/Pause/Stop/Resume; save/load."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        keep_collections_short(viewer)  # before building: no full collection in the build
        super().__init__()

        from qtpy.QtCore import QTimer

        from ._loss_plot import LossPlot

        self._viewer = viewer
        self._image_combo = create_widget(annotation="napari.layers.Image", label="image")
        self._arch_combo = ComboBox(choices=_arch_choices, label="architecture")
        self._preset_combo = ComboBox(choices=self._preset_choices, label="preset")
        self._knobs = Container(labels=True)
        self._knob_spins: dict[str, SpinBox] = {}
        self._loss_combo = ComboBox(choices=_loss_choices, label="loss")
        self._balance_combo = ComboBox(choices=CLASS_BALANCES, value="histeq",
                                       label="class balance")
        self._backend_picker = BackendPicker(label="backend")
        self._iter_spin = SpinBox(value=500, min=1, max=10_000_000, label="iterations")
        self._lr_spin = FloatSpinBox(value=1e-3, min=1e-6, max=1.0, step=1e-4, label="lr")
        self._preview_check = CheckBox(value=True, text="live preview of the view")
        self._pretrain_check = CheckBox(
            value=_pretrain.ON_BY_DEFAULT,
            text=f"pretrain on the image while you paint (≤ {BUDGET_S / 60:g} min)",
            tooltip="Learns the image's edges, ridges and blobs before the first stroke (no "
                    "labels needed); Start then trains from those weights")
        self._pretrain_label = Label(value="")
        self._labels_note = ""  # what the last Start's labels changed in the recipe
        self._starter_check = CheckBox(
            value=_pretrain.STARTER_ON_BY_DEFAULT,
            text="start from the built-in EM membrane model",
            tooltip="A U-Net trained on synthetic EM sections (dark membranes between "
                    "round cells and bundles of long processes) ships with the plugin; your "
                    "strokes adapt it to the image. Ticking it sets the network to that "
                    "model's (U-Net / interactive, depth 4) and lr to the smaller step that "
                    "adapts a trained model; with another network Start uses the pretraining "
                    "below")
        self._continue_check = CheckBox(
            value=True, text="continue from current weights",
            tooltip="Start trains on from the last model (same architecture) with all "
                    "strokes painted so far: paint corrections, press Start again")
        self._start_button, self._pause_button = PushButton(text="Start"), PushButton(text="Pause")
        self._stop_button, self._resume_button = PushButton(text="Stop"), PushButton(text="Resume")
        self._save_button = PushButton(text="Save checkpoint…")
        self._load_button = PushButton(
            text="Load checkpoint…",
            tooltip="A model of similar images (e.g. trained on another labeled stack) is a "
                    "good start: Start then trains a new run from it on your strokes")
        self._save_project_button = PushButton(
            text="Save project…", tooltip="labels, model and every setting in a .greentea folder")
        self._open_project_button = PushButton(text="Open project…")
        self._status_label = Label(value="idle")
        buttons = Container(layout="horizontal", labels=False, widgets=[
            self._start_button, self._pause_button, self._stop_button, self._resume_button])
        files = Container(layout="horizontal", labels=False,
                          widgets=[self._save_button, self._load_button])
        projects = Container(layout="horizontal", labels=False,
                             widgets=[self._save_project_button, self._open_project_button])
        self.extend([self._image_combo, self._arch_combo, self._preset_combo, self._knobs,
                     self._loss_combo, self._balance_combo,
                     self._backend_picker, self._iter_spin, self._lr_spin, self._preview_check,
                     self._starter_check, self._pretrain_check, self._pretrain_label,
                     self._continue_check, buttons, files, projects, self._status_label])
        self.loss_plot = LossPlot()
        self.native.layout().addWidget(self.loss_plot)
        wrap_tooltips(self)
        viewer.layers.events.inserted.connect(self.reset_choices)  # docked or not
        viewer.layers.events.removed.connect(self.reset_choices)
        self.trainer: Any = None
        self._end_iteration = 0
        self._final_checkpoint: Any = None
        self._stop_requested = False
        self.worker: Any = None
        self.checkpoint: Any = None
        #: the model came from Load (e.g. a model of another stack), not from training here
        self._loaded_from_file = False
        self.preview = LivePreview(viewer, lambda: self._image_combo.value, lambda: self.trainer)
        self._preview_check.changed.connect(self._on_preview_toggled)
        connect_clicks(self, "start", "pause", "stop", "resume")
        self._save_button.changed.connect(
            ask_path_then(self, _checkpoint_files.ask_path, self._save, save=True))
        self._load_button.changed.connect(
            ask_path_then(self, _checkpoint_files.ask_path, self._load, save=False))
        self._save_project_button.changed.connect(
            ask_path_then(self, _project.ask_path, self._save_project, save=True))
        self._open_project_button.changed.connect(
            ask_path_then(self, _project.ask_path, self._open_project, save=False))
        self._arch_combo.changed.connect(self._on_arch_changed)
        self._preset_combo.changed.connect(self._on_preset_changed)
        self.pretraining = BackgroundPretraining(self._pretrain_label)
        self._pretrain_timer = QTimer()
        self._pretrain_timer.setSingleShot(True)
        self._pretrain_timer.setInterval(500)  # settle: spinning a knob restarts it once
        self._pretrain_timer.timeout.connect(self._want_pretraining)
        for widget in (self._image_combo, self._arch_combo, self._preset_combo,
                       self._pretrain_check, self._starter_check):
            widget.changed.connect(self._schedule_pretraining)
        self._on_arch_changed()
        self._starter_check.changed.connect(self._on_starter_toggled)
        if self._starter_check.value:
            self._on_starter_toggled()
        _session.register(viewer, "train", self)
        self._project_opened: str | None = None
        self._opening = False
        viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self._closed = False
        self.autosaved: Any = None
        self._close_watcher = when_closed(self, self._on_closed)
        # the backend probe (torch and friends) runs in a worker; no Start before it reports
        self._backend_picker.gate([self._start_button, self._resume_button],
                                  self._status_label, idle="idle")
        self._backend_picker.when_ready(self._schedule_pretraining)

    # ------------------------------------------------------------ config
    def _preset_choices(self, _widget: Any = None) -> list[str]:
        from ..models import architecture

        return list(architecture(self._arch_combo.value).presets)

    def _on_arch_changed(self) -> None:
        """Offer the presets and knobs of the chosen architecture (from the registry)."""
        from ..models import architecture

        self._preset_combo.reset_choices()
        self._knobs.clear()
        self._knob_spins = {
            knob.name: SpinBox(min=knob.minimum, max=knob.maximum, label=knob.label,
                               tooltip=knob.tooltip)
            for knob in architecture(self._arch_combo.value).knobs
        }
        self._knobs.extend(list(self._knob_spins.values()))
        for spin in self._knob_spins.values():
            spin.changed.connect(self._schedule_pretraining)
        self._on_preset_changed()

    def _on_preset_changed(self) -> None:
        from ..models import preset

        self._show_knobs(preset(self._arch_combo.value, self._preset_combo.value))

    def _show_knobs(self, spec: Any) -> None:
        """Set the knob choices to ``spec``'s (its architecture's knobs are shown)."""
        from ..models import architecture

        for knob in architecture(spec.kind).knobs:
            self._knob_spins[knob.name].value = knob.read(spec)

    def _on_starter_toggled(self) -> None:
        """Ticked: the network choices become the shipped starter's, so that Start trains
        from it, at the recipe's learning rate for a trained model; unticked: the chosen
        preset's network and learning rate again."""
        from ..recipes import recipe

        ticked = self._starter_check.value
        if ticked:
            shipped = _pretrain.builtin_starter()
            self._show_network(shipped.spec, shipped.preset)
        else:
            self._on_preset_changed()
        self._lr_spin.value = recipe(self._preset_combo.value, from_model=ticked)[0].lr

    def _show_network(self, spec: Any, preset_name: str | None) -> None:
        """Set the architecture, preset and knob choices to ``spec``'s."""
        self._arch_combo.value = spec.kind
        if preset_name in self._preset_combo.choices:
            self._preset_combo.value = preset_name
        self._show_knobs(spec)

    def _read_config(self, dense_labels: bool = False) -> dict[str, Any]:
        """Spec (reading the selected image's channels), training and loss settings;
        ``dense_labels``: the recipe's settings for a dense annotation (the class
        balance stays the box's)."""
        from ..channels import channel_count
        from ..config import ADAPTIVE_THREADS
        from ..models import architecture, preset
        from ..recipes import recipe

        kind, name = self._arch_combo.value, self._preset_combo.value
        base = preset(kind, name)
        over: dict[str, Any] = {}
        for knob in architecture(kind).knobs:
            over.update(knob.overrides(base, self._knob_spins[knob.name].value))
        train, loss = recipe(
            name,
            # the GUI shares the CPU: measure whether one thread fewer trains faster
            train={"iterations": self._iter_spin.value, "lr": self._lr_spin.value,
                   "threads": ADAPTIVE_THREADS},
            loss={"kind": self._loss_combo.value, "class_balance": self._balance_combo.value},
            dense_labels=dense_labels,
        )
        layer = self._image_combo.value
        in_channels = 1 if layer is None else channel_count(layer_image(layer))
        return {"spec": preset(kind, name, in_channels=in_channels, **over), "train": train,
                "loss": loss}

    # ------------------------------------------------------------ pretraining
    def _schedule_pretraining(self, *_: Any) -> None:
        self._pretrain_timer.start()

    def _want_pretraining(self) -> None:
        """Pretrain the chosen network on the chosen image while no model exists yet."""
        self.pretraining.enabled = self._pretrain_check.value
        if self._closed or self.worker is not None or self.checkpoint is not None:
            return
        if not self._backend_picker.ready:
            return  # the picker's when_ready calls again
        try:
            spec = self._read_config()["spec"]
        except ValueError:  # e.g. an image whose channels the network cannot read
            return
        from_starter = self._builtin_starter(spec) is not None
        self._pretrain_check.enabled = not from_starter  # greyed out: it would change nothing
        if from_starter:
            self.pretraining.forget()  # Start trains from the shipped model instead
            self._pretrain_label.value = _STARTER_NOTE
            return
        if self._pretrain_label.value == _STARTER_NOTE:
            self._pretrain_label.value = ""
        self.pretraining.want(self._image_combo.value, spec, self._backend_picker.backend)

    def _builtin_starter(self, spec: Any = None) -> Any:
        """The shipped starter when its box is ticked and the network (``spec``, default
        the chosen one) fits it, else None."""
        if not self._starter_check.value:
            return None
        if spec is None:
            try:
                spec = self._read_config()["spec"]
            except ValueError:  # Start reports what is wrong with the settings
                return None
        return _pretrain.builtin_starter_for(spec)

    # ------------------------------------------------------------ run
    def _continuable(self) -> Any:
        """The model Start continues from: the last one, if asked and the same network."""
        if not self._continue_check.value or self.checkpoint is None:
            return None
        return self.checkpoint if self.checkpoint.spec == self._read_config()["spec"] else None

    def _trainer_args(self, resume: Any = None, extend: bool = False,
                      ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Validated Trainer arguments; raises ValueError with the core's message.

        Only the cheap checks run here (main thread); building the Trainer
        (preprocessing, backend start-up) happens in the worker. The painted
        labels are read now, so a continued run trains on old and new strokes.
        ``extend``: train ``iterations`` more from ``resume`` with the current
        settings (Start with "continue"), instead of resuming to a target.
        """
        from ..recipes import DENSE_SHARE, labeled_share
        from ..train import check_pairs

        pairs, names = training_pairs(self._viewer, self._image_combo.value)
        share = labeled_share([pair.labels for pair in pairs])
        cfg = self._read_config(dense_labels=share >= DENSE_SHARE)
        self._labels_note = ""
        backend = self._backend_picker.backend
        if resume is not None and extend:
            check_pairs(pairs, resume.spec.num_classes)
            train = cfg["train"].replace(iterations=resume.iteration + self._iter_spin.value)
            self._labels_note = _note_dense_labels(share, cfg)
            return (resume.spec, pairs), {"train": train, "loss": cfg["loss"], "resume": resume,
                                          "class_names": names, "backend": backend}
        if resume is not None:
            target = self._iter_spin.value
            target = target if target > resume.iteration else resume.iteration + target
            train = (resume.train or cfg["train"]).replace(iterations=target)
            check_pairs(pairs, resume.spec.num_classes)
            return (resume.spec, pairs), {"train": train, "resume": resume, "backend": backend}
        check_pairs(pairs, cfg["spec"].num_classes)
        self._labels_note = _note_dense_labels(share, cfg)
        return (cfg["spec"], pairs), {"train": cfg["train"], "loss": cfg["loss"],
                                      "class_names": names, "backend": backend}

    def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any], first: Any = None) -> Any:
        """Worker thread: build the trainer (from ``first()``'s weights: ``(event,
        Checkpoint)`` or None), then relay its events."""
        from ..events import throttle_iterations
        from ..train import Trainer

        taken = first() if first is not None else None
        if taken is not None:
            event, start = taken
            kwargs = {**kwargs, "init_from": start, "preprocess": start.preprocess}
            yield event
        trainer = Trainer(*args, **kwargs)
        self.trainer = trainer
        if self._stop_requested:
            trainer.stop()
        yield from throttle_iterations(trainer.run(), EVENT_INTERVAL_S)
        # copying weights + optimizer state can take 100s of ms for paper-size nets:
        # do it here, in the worker, not in the main-thread finished handler
        self._final_checkpoint = trainer.checkpoint()
        if self._closed:  # nobody can press Save any more: keep the work on disk
            self.autosaved = self._final_checkpoint.save(_autosave_path())

    def _first_weights(self, args: tuple[Any, ...], kwargs: dict[str, Any], starter: Any,
                       source: str) -> Any:
        """What a new run starts from, built in the worker: the ``starter`` model (loaded
        or shipped, as ``source`` says) with its classes matched to the painted ones,
        else what background pretraining learned (None: random weights)."""
        (spec, pairs), seed = args, kwargs["train"].seed
        names = kwargs.get("class_names", ())
        if starter is not None:
            def from_starter() -> Any:
                from ..transfer import matched_start

                start, note = matched_start(starter, spec, seed=seed, class_names=names,
                                            strokes=pairs, backend=kwargs.get("backend"))
                return StartedFromModel(starter.iteration, source, note), start

            return from_starter
        take = self.pretraining.handover(spec, seed=seed, class_names=names)

        def first() -> Any:
            taken = take()
            return None if taken is None else (StartedFromPretrained(taken[0].iterations),
                                               taken[1])

        return first

    def _start(self, resume: Any = None, extend: bool = False, starter: Any = None,
               source: str = "the loaded model") -> bool:
        from napari.qt.threading import create_worker
        from napari.utils.notifications import show_error

        if self.worker is not None:
            show_error("training is already running; stop it first")
            return False
        try:
            args, kwargs = self._trainer_args(resume, extend)
        except (ValueError, RuntimeError) as err:  # TrainingError, ImageError
            show_error(f"cannot train: {err}")
            return False
        self.trainer, self._stop_requested = None, False
        self._end_iteration = kwargs["train"].iterations
        first = (None if resume is not None
                 else self._first_weights(args, kwargs, starter, source))
        self.pretraining.forget()
        self.worker = create_worker(self._run, args, kwargs, first)
        self.worker.yielded.connect(self._on_event)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()
        self.preview.timer.start()
        return True

    def _on_preview_toggled(self) -> None:
        self.preview.enabled = self._preview_check.value

    def _on_start_clicked(self) -> None:
        previous = self._continuable()
        if previous is None and self._loaded_from_file and self._continue_check.value:
            self._warn_loaded_model_unused()
        if previous is not None and self._loaded_from_file:
            # a model from disk (e.g. trained on another stack) starts a new run on these
            # strokes: iteration 0, fresh optimiser, anchored to its weights; Resume continues it
            if self._start(starter=previous):
                self.loss_plot.clear()
        elif previous is None and (shipped := self._builtin_starter()) is not None:
            if self._start(starter=shipped.load(), source="the built-in EM membrane model"):
                self.loss_plot.clear()
        elif self._start(resume=previous, extend=True) and previous is None:
            self.loss_plot.clear()

    def _warn_loaded_model_unused(self) -> None:
        """Start ignores a loaded model that does not fit the chosen network: say so."""
        from napari.utils.notifications import show_warning

        loaded, chosen = self.checkpoint.spec.to_dict(), self._read_config()["spec"].to_dict()
        differ = ", ".join(f"{k} {loaded[k]!r} (loaded) vs {chosen[k]!r}" for k in loaded
                           if loaded[k] != chosen.get(k))
        show_warning(f"Start trains without the loaded model: it does not fit the chosen "
                     f"network ({differ}); choose its settings to start from it")

    def _on_pause_clicked(self) -> None:
        if self.trainer is not None:
            self.trainer.pause()
            self._status_label.value = f"paused at iteration {self.trainer.iteration}"

    def _on_stop_clicked(self) -> None:
        self._stop_requested = True  # honoured even before the trainer exists
        if self.trainer is not None:
            self.trainer.stop()

    def _on_resume_clicked(self) -> None:
        if self.worker is not None and self.trainer is not None:
            self.trainer.resume()  # un-pause the running loop
        elif self.checkpoint is not None:
            self._start(resume=self.checkpoint)

    def _on_event(self, event: Any) -> None:
        match event:
            case IterationDone(iteration=it, loss=loss, labels_per_second=lps):
                self.loss_plot.add(it, loss)
                self._status_label.value = (f"iteration {it:,} / {self._end_iteration:,}  "
                                            f"loss {loss:.4f}  {lps:,.0f} labels/s")
            case Validated(iteration=it, metrics=m) if "held_out_accuracy" in m:
                self.loss_plot.add_validation(it, m["held_out_accuracy"])
                self._status_label.value = (
                    f"iteration {it}  held-out strokes {m['held_out_accuracy']:.3f}  "
                    f"(best {m['best_held_out_accuracy']:.3f}; preview and Predict use "
                    f"iteration {int(m['kept_iteration'])})")
            case StartedFromPretrained(iterations=n):
                self._pretrain_label.value = f"training from {n:,} pretraining iterations"
            case StartedFromModel(iterations=n, source=source, note=note):
                self._pretrain_label.value = (f"training from {source} ({n:,} iterations)"
                                              + (f"\n{note}" if note else ""))
            case TrainingStarted(total_iterations=n, start_iteration=s):
                self._status_label.value = f"training {s} → {n}"
                shown = self._pretrain_label.value
                if self._labels_note and not shown.endswith(self._labels_note):
                    # under "training from ...", which came first
                    self._pretrain_label.value = (f"{shown}\n" if shown else "") + (
                        self._labels_note)
            case TrainingStopped(reason=reason):
                self._status_label.value = f"stopped: {reason}"
            case TrainingFinished(iteration=it):
                self._status_label.value = f"finished at iteration {it}"

    def _on_closed(self) -> None:
        """The dock was closed: stop training (the worker then saves a checkpoint)."""
        self._closed = True
        # the hook may fire while Qt tears the widget down, before or after __init__ set these
        if getattr(self, "pretraining", None) is not None:
            self.pretraining.forget()
        if getattr(self, "worker", None) is not None:
            self._on_stop_clicked()
        preview = getattr(self, "preview", None)
        if preview is not None:
            preview.timer.stop()

    def _on_finished(self) -> None:
        self.preview.timer.stop()
        self.worker = None
        if self.trainer is None:  # the Trainer failed to build; napari showed the error
            return
        final, self._final_checkpoint = self._final_checkpoint, None
        self.checkpoint = final if final is not None else self.trainer.checkpoint()
        self._loaded_from_file = False
        _session.publish(self._viewer, self.checkpoint)
        if self._closed:
            from napari.utils.notifications import show_info

            if self.autosaved is not None:
                show_info(f"training stopped because its panel was closed; checkpoint "
                          f"(iteration {self.checkpoint.iteration}) saved to {self.autosaved}")
            return
        self.preview.request()

    # ------------------------------------------------------------ files
    def _current_checkpoint(self) -> Any:
        """What Save writes: the trainer's latest weights, else the loaded or finished model."""
        return self.trainer.checkpoint() if self.trainer is not None else self.checkpoint

    def _save(self, path: str) -> Any:
        from napari.utils.notifications import show_error, show_info

        ckpt = self._current_checkpoint()
        if ckpt is None:
            show_error("nothing to save: train or load a model first")
            return None
        saved = ckpt.save(path)
        show_info(f"saved checkpoint (iteration {ckpt.iteration}) to {saved}")
        return saved

    def _load(self, path: str) -> Any:
        checkpoint = _checkpoint_files.load(path)
        if checkpoint is None:
            return None
        self.checkpoint, self._loaded_from_file = checkpoint, True
        self.pretraining.forget()  # Start trains from the loaded model, not from pretraining
        _session.publish(self._viewer, self.checkpoint)
        it = self.checkpoint.iteration
        self._status_label.value = (f"loaded {Path(path).name} (iteration {it}): Start trains a "
                                    "new run from it, Resume continues its run")
        self._status_label.tooltip = str(path)
        return self.checkpoint


    # ------------------------------------------------------------ projects
    def project_settings(self) -> dict[str, Any]:
        """The configs as ``config.py`` serialises them, plus the widget-only choices."""
        cfg = self._read_config()
        return {"spec": cfg["spec"].to_dict(), "train": cfg["train"].to_dict(),
                "loss": cfg["loss"].to_dict(),
                "widget": {"preset": self._preset_combo.value,
                           "backend": self._backend_picker.backend,
                           "preview": self._preview_check.value,
                           "continue": self._continue_check.value,
                           "pretrain": self._pretrain_check.value,
                           "starter": self._starter_check.value}}

    def apply_project_settings(self, settings: dict[str, Any]) -> None:
        from ..config import LossConfig, ModelSpec, TrainConfig

        spec = ModelSpec.from_dict(settings["spec"])
        train, loss = TrainConfig.from_dict(settings["train"]), LossConfig.from_dict(
            settings["loss"])
        widget = settings.get("widget", {})
        with self._starter_check.changed.blocked():  # the project's network, not the starter's
            self._starter_check.value = widget.get("starter", self._starter_check.value)
        self._schedule_pretraining()  # what the blocked signal would have asked for
        self._show_network(spec, widget.get("preset"))
        self._iter_spin.value, self._lr_spin.value = train.iterations, train.lr
        self._loss_combo.value, self._balance_combo.value = loss.kind, loss.class_balance
        self._preview_check.value = widget.get("preview", self._preview_check.value)
        self._continue_check.value = widget.get("continue", self._continue_check.value)
        self._pretrain_check.value = widget.get("pretrain", self._pretrain_check.value)
        self._backend_picker.select(widget.get("backend"))

    def _save_project(self, path: str) -> Any:
        from napari.utils.notifications import show_error, show_info

        ckpt = self._current_checkpoint()
        try:
            folder = _project.save(self._viewer, path, self._image_combo.value, ckpt)
        except (ValueError, OSError) as err:
            show_error(f"cannot save the project: {err}")
            return None
        self._status_label.value = f"saved project {folder.name}"
        show_info(f"saved project {folder}" + ("" if ckpt else " (no model yet)"))
        return folder

    def _open_project(self, path: str) -> Any:
        """Add the project's layers, restore every widget's settings and take its model."""
        from napari.utils.notifications import show_error

        self._opening = True  # the layers it adds must not trigger _on_layer_inserted
        try:
            project, layers = _project.open_layers(self._viewer, path)
        except (ValueError, OSError) as err:
            show_error(f"cannot open the project: {err}")
            return None
        finally:
            self._opening = False
        self._take_model(project)
        self._image_combo.value = layers[0]
        return project

    def _take_model(self, project: Any) -> None:
        self._project_opened = str(project.folder)
        if project.checkpoint is not None:  # the project's own model: Start continues it
            self.checkpoint, self._loaded_from_file = project.checkpoint, False
        it = f"model at iteration {self.checkpoint.iteration}" if self.checkpoint else "no model"
        self._status_label.value = f"opened project {project.folder.name} ({it})"

    def _on_layer_inserted(self, event: Any) -> None:
        """A project opened with File > Open (our reader): take its model and settings too."""
        from ..project import PROJECT_KEY, load_project

        folder = event.value.metadata.get(PROJECT_KEY)
        if not folder or self._opening or folder == self._project_opened:
            return
        try:
            project = load_project(folder)
        except (ValueError, OSError):
            return  # the reader already showed the layers; the model stays as it is
        _project.restore(self._viewer, project)
        self._take_model(project)


def _autosave_path() -> Any:
    """Where a training stopped by closing its panel keeps its checkpoint."""
    import time

    from ..caches import greentea_cache_dir

    return greentea_cache_dir() / "autosave" / time.strftime("train-%Y%m%d-%H%M%S.npz")


def _note_dense_labels(share: float, cfg: dict[str, Any]) -> str:
    """Tell the user when the labels are a dense annotation and so train with the
    recipe's settings for it (the stroke remedies would cost more than they save);
    returns the short form for the panel ("" for strokes)."""
    from ..recipes import DENSE_SHARE

    if share < DENSE_SHARE:
        return ""
    from napari.utils.notifications import show_info

    show_info(f"dense labels ({share:.0%} of the painted planes): training without held-out "
              f"strokes or a pull toward the start weights, weight average "
              f"{cfg['train'].average:g}; class balance as chosen "
              f"({cfg['loss'].class_balance})")
    return (f"dense labels ({share:.0%}): no held-out strokes, no pull, "
            f"average {cfg['train'].average:g}")
