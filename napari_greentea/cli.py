"""``greentea`` command line: info, predict, pretrain, train, evaluate, segment, export, demo, gui.

Every command prints one clear line and exits with status 2 on bad input
(wrong file, unknown preset, mismatching checkpoint) instead of a traceback,
and with status 130 when stopped by Ctrl-C/SIGTERM (training saves first).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .config import CLASS_BALANCES, LossConfig, PreprocessConfig, TrainConfig
from .interrupt import EXIT_INTERRUPTED, StopRequest, stop_requests
from .segment import BOUNDARY_CHANNEL, DEFAULT_MIN_SIZE

log = logging.getLogger("napari_greentea")


def _number(kind: type, low: float, what: str) -> Any:
    """An argparse type: ``kind`` values >= ``low``, with a message saying so."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    return parse


POSITIVE_INT = _number(int, 1, "a positive integer")
COUNT = _number(int, 0, "0 or a positive integer")


def _threads_arg(text: str) -> int:
    """``auto`` (adaptive, -1) or a thread count."""
    return -1 if text == "auto" else COUNT(text)
POSITIVE_FLOAT = _number(float, 1e-300, "a positive number")


def slice_range(text: str, image_shape: tuple[int, ...], what: str) -> slice:
    """``lo:hi`` of a stack's slices, checked against its depth."""
    if len(image_shape) != 3:
        raise ValueError(f"--slices needs a 3-D stack, but {what} is 2-D {image_shape}")
    try:
        lo, hi = (int(v) for v in text.split(":"))
    except ValueError:
        raise ValueError(f"--slices takes lo:hi (e.g. 0:10), got {text!r}") from None
    if not 0 <= lo < hi <= image_shape[0]:
        raise ValueError(
            f"--slices {text} is outside the {image_shape[0]} slices of {what} (0:{image_shape[0]})"
        )
    return slice(lo, hi)


class Progress:
    """A one-line progress bar on stderr (no dependency, silent when not a TTY)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.start = max(total, 1), label, time.perf_counter()
        self.tty = sys.stderr.isatty()

    def update(self, done: int, extra: str = "") -> None:
        frac = min(done / self.total, 1.0)
        elapsed = time.perf_counter() - self.start
        bar = "#" * int(30 * frac)
        line = f"\r{self.label} [{bar:<30}] {done}/{self.total} {elapsed:6.1f}s {extra}"
        if self.tty:
            sys.stderr.write(line)
            sys.stderr.flush()
        elif done == self.total or done % max(self.total // 10, 1) == 0:
            sys.stderr.write(line.strip() + "\n")

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


# ---------------------------------------------------------------- info
def cmd_info(args: argparse.Namespace) -> int:
    import platform

    from . import __version__
    from .backend import available_backends, unavailable_backends

    print(f"napari-greentea {__version__}, Python {platform.python_version()}")
    try:
        import torch

        print(f"torch {torch.__version__} (threads {torch.get_num_threads()})")
    except ImportError:
        print("torch: not installed")
    print("backends available:")
    for name, desc in available_backends().items():
        print(f"  {name:<11} {desc}")
    for name, why in unavailable_backends().items():
        print(f"  {name:<11} unavailable: {why}")
    _print_auto_choice()
    try:
        from .backend.opencl import list_devices

        devices = list_devices()
        print("OpenCL devices:")
        for i, dev in enumerate(devices):
            mem = f"{dev.memory_bytes / 2**30:.1f} GiB" if dev.memory_bytes else "?"
            print(f"  [{i}] {dev.name} ({dev.type}, {mem}, {dev.driver})")
    except Exception as err:  # noqa: BLE001 - info must never crash
        print(f"OpenCL devices: none ({err})")
    from .caches import FALLBACK_REASONS, greentea_cache_dir

    try:
        print(f"cache: {greentea_cache_dir()}")
    except OSError as err:
        print(f"cache: none ({err})")
    for reason in dict.fromkeys(FALLBACK_REASONS):
        print(f"  note: {reason}")
    return 0


def _print_auto_choice() -> None:
    """What ``auto`` picks and why; the first call on a machine measures (~2 s)."""
    from .backend import auto_choice, backend_label

    try:
        chosen, why = auto_choice()
    except Exception as err:  # noqa: BLE001 - info must never crash
        print(f"auto picks: nothing ({err})")
        return
    print(f"auto picks: {backend_label(chosen)}")
    print(f"  because {why}")


# ---------------------------------------------------------------- model helpers
def _model(args: argparse.Namespace, in_channels: int = 1) -> Any:
    """The model of --checkpoint/--model (.npz or bioimage.io .zip), else RANDOM weights
    (reading ``in_channels`` channels)."""
    from .checkpoint import Checkpoint
    from .export.package import load_model_file
    from .models import dense_graph
    from .weights import init_weights

    if args.checkpoint:
        _check_model_flags(args)
        return load_model_file(args.checkpoint)
    spec = _spec(args, in_channels)
    log.warning("no --checkpoint: predicting with RANDOM weights (smoke run)")
    weights = init_weights(dense_graph(spec), args.seed or 0)
    return Checkpoint(spec=spec, weights=weights, preprocess=PreprocessConfig())


def _check_model_flags(args: argparse.Namespace) -> None:
    """--arch/--preset/--seed/--knob describe a random model: refuse them with --checkpoint."""
    given = [f"--{k}" for k in ("arch", "preset", "seed", "knob", "fmaps", "depth")
             if getattr(args, k, None) is not None]
    if args.checkpoint and given:
        raise ValueError(
            f"{'/'.join(given)} describe a new random model, but --checkpoint carries its "
            "own architecture and weights; drop one of them"
        )


def _spec(args: argparse.Namespace, in_channels: int = 1) -> Any:
    """The spec of --arch/--preset with the architecture's --knob NAME=VALUE changes,
    reading ``in_channels`` input channels."""
    from .models import architecture, preset

    name, kind = args.arch or "u", args.preset or "interactive"
    arch = architecture(name)
    base = preset(name, kind)
    knobs = {knob.name: knob for knob in arch.knobs}
    overrides: dict[str, Any] = {}
    for item in args.knob or ():
        knob, _, value = item.partition("=")
        if knob not in knobs or not value.strip().isdigit():
            raise ValueError(
                f"--knob {item!r}: expected NAME=INTEGER with NAME one of "
                f"{', '.join(knobs) or '(none)'} for architecture {name!r}"
            )
        overrides.update(knobs[knob].overrides(base, int(value)))
    for label in ("fmaps", "depth"):
        value = getattr(args, label, None)
        if value is None:
            continue
        found = next((k for k in arch.knobs if k.label == label), None)
        if found is None:
            raise ValueError(f"--{label}: architecture {name!r} has no {label} knob")
        if not found.minimum <= value <= found.maximum:
            raise ValueError(
                f"--{label} must lie in {found.minimum}..{found.maximum}, got {value}")
        overrides.update(found.overrides(base, value))
    return preset(name, kind, in_channels=in_channels, **overrides)


def _channel_axis(args: argparse.Namespace, path: str, key: str | None) -> int | None:
    """--channel-axis, else the channel axis the file's metadata names (OME-Zarr)."""
    from .io import channel_axis_hint

    if args.channel_axis is not None:
        return args.channel_axis
    return channel_axis_hint(path, key=key)


def _model_and_input(args: argparse.Namespace, image: Any, path: str | None,
                     key: str | None) -> tuple[Any, Any]:
    """The model, and the channels of ``image`` it reads (--channels, else the
    checkpoint's); a random model reads as many channels as the image gives."""
    from .channels import as_channels, channel_count, model_input, parse_channels

    axis = _channel_axis(args, path, key) if path else args.channel_axis
    channels = parse_channels(args.channels)
    model = _model(args, channel_count(as_channels(image, axis, channels)))
    return model, model_input(image, model.spec.in_channels, model.preprocess.channels,
                              axis=axis, channels=channels)


class Interrupted(Exception):
    """A run stopped by SIGINT/SIGTERM; the message says what was kept."""


def _bf16_refusal(backend: str) -> ValueError:
    return ValueError(f"--bf16 is bfloat16 autocast on a torch backend; {backend} computes "
                      "in float32 only: drop --bf16 or pass --backend torch")


def _predict_backend(args: argparse.Namespace) -> Any:
    """The backend to predict on. With ``--bf16``, ``auto`` means torch (on a
    CPU it may measure OpenCL faster, which has no bfloat16) and OpenCL is
    refused before anything is written, not silently run in float32."""
    from .backend import get_backend

    name = args.backend
    if getattr(args, "bf16", False):
        requested = (name or os.environ.get("GREENTEA_BACKEND") or "auto").lower()
        if requested == "opencl":
            raise _bf16_refusal("opencl")
        if requested == "auto":
            name = "torch"
    backend = get_backend(name, args.device)
    if getattr(args, "bf16", False) and not backend.name.startswith("torch"):
        raise _bf16_refusal(backend.name)
    return backend


def _predict_to(args: argparse.Namespace, image: Any, output: str | None,
                source: str | None = None, key: str | None = None) -> Any:
    """Predict ``image`` (read from ``source``, dataset ``key``) into ``output``."""
    from .backend import backend_label
    from .events import BlockWritten
    from .io import scale_hint
    from .predict import PredictionJob, build_predictor
    from .store import model_fingerprint

    model, image = _model_and_input(args, image, source, key)
    backend = _predict_backend(args)
    tta = bool(getattr(args, "tta", False))
    bf16 = bool(getattr(args, "bf16", False))
    predictor = build_predictor(model, backend, tta=tta, bf16=bf16)
    graph = predictor.graph
    zarr_out = output if output and output.endswith(".zarr") else None
    found = scale_hint(source, key=key) if source and zarr_out else None
    scale, units = found if found else (None, None)  # an OME-Zarr input's level scale
    job = PredictionJob(
        predictor, graph, image, block=args.block, output=zarr_out,
        preprocess=model.preprocess, overwrite=getattr(args, "overwrite", False),
        attrs={"spec": model.spec.to_dict(), "tta": tta, "bf16": bf16},
        dtype=args.dtype if zarr_out else "float32",
        model_fingerprint=model_fingerprint(model.spec, model.weights, model.preprocess,
                                            tta=tta, bf16=bf16),
        source=source, scale=scale, units=units,
    )
    if job.reused:
        print(f"resuming {zarr_out}: {job.reused} of {len(job.blocks)} blocks already done, "
              f"computing the other {len(job.blocks) - job.reused}", file=sys.stderr)
    bar = Progress(len(job.blocks), f"predict on {backend_label(backend)}")
    done = job.reused
    for event in job.run():
        if isinstance(event, BlockWritten):
            done = len(job.blocks) - event.total + event.done
            bar.update(done)
        if args.stop.is_set():
            bar.close()
            raise Interrupted(_resume_note(zarr_out, done, len(job.blocks)))
    bar.close()
    return job


def _resume_note(zarr_out: str | None, done: int, total: int) -> str:
    if zarr_out is None:
        return "interrupted; nothing written (only a .zarr output can be resumed)"
    return (f"interrupted; {done} of {total} blocks are done in {zarr_out}; "
            "run the same command again to resume")


def _check_distributed_flags(args: argparse.Namespace) -> None:
    if args.scheduler and args.workers:
        raise ValueError("--workers starts a local cluster, --scheduler uses an existing one: "
                         "give one of them")
    if args.preview:
        raise ValueError("--preview is not available with --workers/--scheduler")
    if args.tta:
        raise ValueError("--tta is not available with --workers/--scheduler")
    if args.bf16:
        raise ValueError("--bf16 is not available with --workers/--scheduler")
    _check_model_flags(args)


def _worker_checkpoint(args: argparse.Namespace, folder: str) -> str:
    """An .npz path dask workers can load: --checkpoint, or the model saved into ``folder``."""
    from .export.package import is_package

    if args.checkpoint and not is_package(args.checkpoint):
        return str(args.checkpoint)
    return str(_model(args).save(Path(folder) / "model.npz"))


def _predict_distributed(args: argparse.Namespace) -> int:
    import tempfile

    from .channels import parse_channels
    from .distributed import connect, predict_distributed

    if not args.output.endswith(".zarr"):
        raise ValueError("distributed prediction writes zarr: give an output ending in .zarr")
    _check_distributed_flags(args)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = _worker_checkpoint(args, tmp)
        client = connect(args.scheduler, args.workers)
        try:
            bar = Progress(1, "predict (dask)")

            def on_block(done: int, total: int) -> None:
                bar.total = total
                bar.update(done)

            summary = predict_distributed(
                client, checkpoint, args.input, args.output, block=args.block,
                backend=args.backend, device=args.device, dtype=args.dtype,
                on_block=on_block, overwrite=args.overwrite, stop=args.stop, key=args.key,
                channel_axis=_channel_axis(args, args.input, args.key),
                channels=parse_channels(args.channels),
            )
            bar.close()
        finally:
            client.close()
    if args.stop.is_set() and summary.blocks_left:
        done = summary.blocks_total - summary.blocks_left
        raise Interrupted(_resume_note(args.output, done, summary.blocks_total))
    print(f"wrote {args.output}: {summary}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .channels import channel_planes
    from .io import check_output_file, read_image, write_png_preview, write_tiff
    from .store import check_output_path

    if args.out is not None:
        return _predict_many(args)
    if len(args.paths) != 2:
        raise ValueError(f"give INPUT OUTPUT (got {len(args.paths)} paths), or several "
                         "inputs with --out FOLDER")
    args.input, args.output = args.paths
    output = args.output
    check_output_path(output, (args.input,))
    to_zarr = output.endswith(".zarr")
    if to_zarr and args.last_class_only:
        raise ValueError("--last-class-only applies to TIFF output; a .zarr keeps every class")
    if args.scheduler or args.workers:
        return _predict_distributed(args)
    image = read_image(args.input, key=args.key)
    if Path(output).exists() and not args.overwrite and not to_zarr:
        raise ValueError(f"{output} exists; pass --overwrite to replace it")
    for target in ([] if to_zarr else [output]) + ([args.preview] if args.preview else []):
        check_output_file(target)  # before predicting, not after
    job = _predict_to(args, image, output, args.input, args.key)
    prob = job.prob
    if not output.endswith(".zarr"):
        data = np.asarray(prob[...])
        write_tiff(output, data[-1] if args.last_class_only else data, dtype=args.dtype)
    if args.preview:
        write_png_preview(args.preview, channel_planes(job.image)[0], prob[-1])
    print(f"wrote {output}: {tuple(prob.shape)} class probabilities ({len(job.blocks)} blocks)")
    return 0


def _predict_many(args: argparse.Namespace) -> int:
    """``predict [MODEL] INPUT... --out DIR``: a store per input and a summary; 1 if any failed."""
    from .batch import expand_inputs, format_table

    paths = list(args.paths)
    if not args.checkpoint and paths[0].lower().endswith((".npz", ".zip")):
        args.checkpoint = paths.pop(0)  # not an image suffix: the model
    if not paths:
        raise ValueError("no inputs: give images, folders or quoted globs after the model")
    for flag in ("preview", "last_class_only"):
        if getattr(args, flag):
            raise ValueError(f"--{flag.replace('_', '-')} needs a single OUTPUT; "
                             "--out writes one .zarr store per input")
    inputs, ignored = expand_inputs(paths)
    if ignored:
        shown = ", ".join(Path(i).name for i in ignored[:5]) + (" ..." if len(ignored) > 5 else "")
        print(f"ignoring {len(ignored)} non-image entr{'y' if len(ignored) == 1 else 'ies'}: "
              f"{shown}", file=sys.stderr)
    print(f"predicting {len(inputs)} input(s) into {args.out}", file=sys.stderr)
    if args.scheduler or args.workers:
        summary = _predict_many_distributed(args, inputs)
    else:
        summary = _predict_many_local(args, inputs)
    print(format_table(summary))
    print(f"wrote {Path(args.out) / 'summary.json'}")
    if args.stop.is_set() and any(f.status == "incomplete" for f in summary.files):
        raise Interrupted("interrupted; run the same command again to resume")
    if summary.failed:
        print(f"greentea predict: {len(summary.failed)} of {len(summary.files)} input(s) failed",
              file=sys.stderr)
        return 1
    return 0


def _predict_many_local(args: argparse.Namespace, inputs: list[str]) -> Any:
    from .backend import backend_label
    from .batch import predict_files
    from .channels import parse_channels

    model = _model(args)
    backend = _predict_backend(args)
    bars: dict[int, Progress] = {}

    print(f"predicting on {backend_label(backend)}", file=sys.stderr)

    def on_block(i: int, done: int, total: int) -> None:
        if i not in bars:
            bars[i] = Progress(total, f"[{i + 1}/{len(inputs)}] {Path(inputs[i]).name}")
        bars[i].update(done)

    def on_file(i: int, result: Any) -> None:
        if i in bars:
            bars.pop(i).close()
        if result.status == "skipped":
            print(f"[{i + 1}/{len(inputs)}] {Path(result.input).name}: already complete",
                  file=sys.stderr)
        elif result.status == "failed":
            print(f"[{i + 1}/{len(inputs)}] {Path(result.input).name}: {result.error}",
                  file=sys.stderr)

    return predict_files(model, inputs, args.out, backend=backend, block=args.block,
                         dtype=args.dtype, key=args.key, tta=args.tta, bf16=args.bf16,
                         overwrite=args.overwrite,
                         channel_axis=args.channel_axis, channels=parse_channels(args.channels),
                         on_block=on_block, on_file=on_file, stop=args.stop)


def _predict_many_distributed(args: argparse.Namespace, inputs: list[str]) -> Any:
    import tempfile

    from .batch import predict_files_distributed
    from .channels import parse_channels
    from .checkpoint import Checkpoint
    from .distributed import connect
    from .store import model_fingerprint

    _check_distributed_flags(args)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = _worker_checkpoint(args, tmp)
        model = Checkpoint.load(checkpoint)
        client = connect(args.scheduler, args.workers)
        bar = Progress(1, f"predict {len(inputs)} input(s) (dask)")
        seen: dict[int, tuple[int, int]] = {}

        def on_block(i: int, done: int, total: int) -> None:
            seen[i] = (done, total)
            bar.total = max(bar.total, sum(t for _, t in seen.values()))
            bar.update(sum(d for d, _ in seen.values()))

        try:
            summary = predict_files_distributed(
                client, checkpoint, inputs, args.out, on_block=on_block, stop=args.stop,
                fingerprint=model_fingerprint(model.spec, model.weights, model.preprocess),
                key=args.key, block=args.block, backend=args.backend, device=args.device,
                dtype=args.dtype, overwrite=args.overwrite, channel_axis=args.channel_axis,
                channels=parse_channels(args.channels))
            bar.close()
        finally:
            client.close()
    return summary


# ---------------------------------------------------------------- train
def _train_configs(args: argparse.Namespace) -> tuple[TrainConfig, LossConfig]:
    """The preset's recipe (``recipes.py``) with the options given on the command line."""
    from .recipes import recipe

    seconds = args.seconds if args.seconds is not None else 60.0 * (args.minutes or 0.0)
    iterations = args.iterations
    if iterations is None:
        iterations = 10**9 if seconds else 200
    given = {
        "lr": args.lr, "batch_size": args.batch, "output_size": args.patch,
        "holdout": args.holdout, "average": args.average,
        "validate_every": args.validate_every, "bf16": args.bf16 or None,
        "threads": args.threads,
    }
    train = {k: v for k, v in given.items() if v is not None}
    loss = {k: v for k, v in (("kind", args.loss), ("class_balance", args.balance)) if v}
    return recipe(args.preset, train={
        **train,
        "iterations": iterations,
        "seconds": seconds,
        "optimizer": args.optimizer,
        "lr_policy": "inv" if args.optimizer == "sgd" else "fixed",
        "seed": args.seed,
        "output": args.output,
        "checkpoint_every": args.checkpoint_every,
        "event_every": 1,
    }, loss=loss)


def run_training(trainer: Any, label: str = "train", stop: StopRequest | None = None) -> Any:
    """Drive ``trainer`` with a progress bar; ``stop`` (SIGINT/SIGTERM) stops it after saving.

    Raises :class:`Interrupted` (exit status 130) once the checkpoint is saved.
    """
    from .events import IterationDone, TrainingStopped, Validated

    cfg = trainer.train_config
    timed = bool(cfg.seconds)
    bar = Progress(round(cfg.seconds) if timed else cfg.iterations, label)
    validated = ""
    stop = stop or StopRequest()
    stop.on_stop(trainer.stop)
    for event in trainer.run():
        if isinstance(event, IterationDone):
            speed = f"it {event.iteration} loss {event.loss:.4f}{validated}"
            bar.update(int(time.perf_counter() - bar.start) if timed else event.iteration, speed)
        elif isinstance(event, Validated) and "held_out_accuracy" in event.metrics:
            m = event.metrics
            validated = (f" held-out {m['held_out_accuracy']:.3f} (best "
                         f"{m['best_held_out_accuracy']:.3f}, serving iteration "
                         f"{int(m['kept_iteration'])})")
        elif isinstance(event, TrainingStopped):
            bar.close()
            if stop.is_set():
                saved = f"saved checkpoint {event.checkpoint}" if event.checkpoint else (
                    "no checkpoint saved")
                raise Interrupted(f"interrupted at iteration {event.iteration}; {saved}")
            print(f"training stopped: {event.reason}", file=sys.stderr)
    bar.close()
    return trainer.checkpoint()


def _training_image(args: argparse.Namespace) -> Any:
    """The training image in memory, with the channels --channel-axis/--channels
    (or its metadata, or RGB colour) give."""
    from .channels import as_channels, parse_channels
    from .io import read_image

    image = np.asarray(read_image(args.image, key=args.image_key))
    axis = _channel_axis(args, args.image, args.image_key)
    return as_channels(image, axis, parse_channels(args.channels))


def _spatial_slices(image: Any, chosen: slice) -> Any:
    """Slices ``chosen`` of a stack, the channel axis (if any) kept whole."""
    from .channels import ChannelImage

    if not isinstance(image, ChannelImage):
        return image[chosen]
    last = np.moveaxis(image.array, image.axis, -1)
    return ChannelImage(last[chosen], -1, image.channels)


def cmd_train(args: argparse.Namespace) -> int:
    from .backend import backend_label
    from .channels import channel_count
    from .io import read_image
    from .sample import CLASS_NAMES, isbi_labels_to_classes
    from .train import LabeledImage, Trainer

    if args.project:
        return _train_project(args)
    if not (args.image and args.labels and args.output):
        raise ValueError("give IMAGE LABELS --output CHECKPOINT, or --project PROJECT")
    image = _training_image(args)
    labels = np.asarray(read_image(args.labels, key=args.labels_key))
    spec = _spec(args, channel_count(image))
    if args.isbi_labels:
        labels = isbi_labels_to_classes(labels)
    else:
        _check_label_values(labels, spec.num_classes, args.labels)
    if args.slices:
        chosen = slice_range(args.slices, image.shape, args.image)
        image, labels = _spatial_slices(image, chosen), labels[chosen]
    train, loss = _train_configs(args)
    names = CLASS_NAMES if spec.num_classes == 2 else ()
    trainer = Trainer(
        spec, [LabeledImage(image, labels)], train=train, loss=loss, backend=args.backend,
        class_names=names, **_pretrained_start(args, spec, image, names),
    )
    run_training(trainer, f"train {args.arch}/{args.preset} on {backend_label(trainer.backend)}",
                 args.stop)
    print(f"wrote checkpoint {args.output} (iteration {trainer.iteration})")
    return 0


def _pretrained_start(args: argparse.Namespace, spec: Any, image: Any,
                      class_names: Any) -> dict[str, Any]:
    """The Trainer's ``init_from`` and ``preprocess`` for ``--init PRETRAINED.npz``
    (nothing without it); a ValueError names what does not fit ``spec``."""
    from .channels import as_channels, chosen_channels
    from .pretrain import Pretrained

    if not args.init:
        return {}
    pre = Pretrained.load(args.init)
    start = pre.initial_checkpoint(spec, seed=args.seed or 0, class_names=class_names)
    chosen = chosen_channels(as_channels(image))
    if chosen != pre.preprocess.channels:
        log.warning("%s was pretrained on channels %s, training reads channels %s",
                    args.init, list(pre.preprocess.channels), list(chosen))
    print(f"starting from {args.init} ({pre.iterations} pretraining iterations, "
          f"{pre.seconds:.0f} s)", file=sys.stderr)
    return {"init_from": start, "preprocess": pre.preprocess}


def _train_project(args: argparse.Namespace) -> int:
    """``train --project P``: the project's image, labels and settings; the model goes back in."""
    from .backend import backend_label
    from .project import MODEL_FILE, attach_checkpoint, load_project
    from .sample import CLASS_NAMES
    from .train import LabeledImage, Trainer

    if args.image or args.labels or args.slices or args.isbi_labels:
        raise ValueError("--project brings its own image and labels; drop IMAGE/LABELS, "
                         "--slices and --isbi-labels")
    if args.knob or args.fmaps is not None or args.depth is not None:
        raise ValueError("--project brings its own network; --knob/--fmaps/--depth do not "
                         "apply (change them in the Train widget and save the project)")
    project = load_project(args.project)
    image, labels = project.training_pair()
    spec, train, loss = project.train_configs()
    _check_label_values(labels, spec.num_classes, f"the labels of {project.folder}")
    seconds = args.seconds if args.seconds is not None else 60.0 * (args.minutes or 0.0)
    given = {
        "iterations": args.iterations if args.iterations is not None else (
            10**9 if seconds else None),
        "seconds": seconds or None, "lr": args.lr, "batch_size": args.batch,
        "output_size": args.patch, "holdout": args.holdout, "average": args.average,
        "validate_every": args.validate_every, "bf16": args.bf16 or None,
        "checkpoint_every": args.checkpoint_every or None,
    }
    output = args.output or str(project.folder / MODEL_FILE)
    train = train.replace(output=output, **{k: v for k, v in given.items() if v is not None})
    loss = loss.replace(**{k: v for k, v in (("kind", args.loss),
                                             ("class_balance", args.balance)) if v})
    names = project.class_names or (CLASS_NAMES if spec.num_classes == 2 else ())
    trainer = Trainer(spec, [LabeledImage(image, labels)], train=train, loss=loss,
                      backend=args.backend, class_names=names,
                      **_pretrained_start(args, spec, image, names))
    run_training(trainer, f"train {project.folder.name} ({spec.kind}) on "
                 f"{backend_label(trainer.backend)}", args.stop)
    if not args.output:
        attach_checkpoint(project.folder)
    print(f"wrote checkpoint {output} (iteration {trainer.iteration})")
    return 0


def _check_label_values(labels: np.ndarray, num_classes: int, path: str) -> None:
    """Labels must be 0 (unlabeled) or 1..num_classes; recognise ISBI 0/255 masks."""
    top = int(labels.max()) if labels.size else 0
    if top <= num_classes:
        return
    if set(np.unique(labels).tolist()) <= {0, 255}:
        raise ValueError(f"{path} holds only 0 and 255 (an ISBI-style mask); pass "
                         "--isbi-labels to use 255 as cell and 0 as membrane")
    raise ValueError(f"{path} uses label {top}, but the network has {num_classes} classes: "
                     f"use 0 for unlabeled and 1..{num_classes} for the classes")


# ---------------------------------------------------------------- pretrain
#: Seconds between two progress lines of ``greentea pretrain``.
PRETRAIN_PRINT_EVERY_S = 5.0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from .backend import backend_label, get_backend
    from .channels import channel_count
    from .config import PretrainConfig
    from .pretrain import Pretrainer
    from .train import check_writable

    image = _training_image(args)
    spec = _spec(args, channel_count(image))
    seconds = args.seconds if args.seconds is not None else 60.0 * (args.minutes or 0.0)
    if not seconds and not args.iterations:
        seconds = PretrainConfig().seconds
    given = {"lr": args.lr, "batch_size": args.batch, "output_size": args.patch,
             "threads": args.threads}
    config = PretrainConfig(seconds=seconds, iterations=args.iterations or 0, seed=args.seed,
                            **{k: v for k, v in given.items() if v is not None})
    output = check_writable(args.output)
    backend = get_backend(args.backend)
    pretrainer = Pretrainer([image], spec, config, backend=backend)
    limits = [f"{config.seconds:g} s"] if config.seconds else []
    limits += [f"{config.iterations} iterations"] if config.iterations else []
    print(f"pretrain {spec.kind}/{args.preset} on {backend_label(backend)} for "
          f"{' or '.join(limits)}", file=sys.stderr)
    args.stop.on_stop(pretrainer.stop)
    shown, last, printed = -float("inf"), None, None
    for last in pretrainer.run():
        stage_changed = printed is not None and last.stage != printed.stage
        if stage_changed or time.perf_counter() - shown >= PRETRAIN_PRINT_EVERY_S:
            shown, printed = time.perf_counter(), last
            _print_pretrain(last)
    if last is not printed:
        _print_pretrain(last)
    if pretrainer.iteration == 0:
        raise Interrupted("interrupted before the first iteration; nothing saved")
    path = pretrainer.result().save(output)
    if args.stop.is_set():
        raise Interrupted(f"interrupted at iteration {pretrainer.iteration}; saved {path}")
    print(f"wrote {path} ({pretrainer.iteration} iterations, loss {pretrainer.loss:.4f}); "
          f"train with --init {path}")
    return 0


def _print_pretrain(event: Any) -> None:
    loss = "" if event.stage == "features" else f" loss {event.loss:.4f}"
    print(f"pretrain {event.stage}: it {event.iteration}{loss} {event.elapsed_s:.1f}s",
          file=sys.stderr)


# ---------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    from .io import read_image
    from .metrics import isbi_scores
    from .sample import CELL, MEMBRANE

    if bool(args.prob) == bool(args.image):
        raise ValueError("give either --prob (a probability map) or --image (to predict)")
    gt = np.asarray(read_image(args.gt))
    if args.slices:
        slice_range(args.slices, gt.shape, args.gt)
    if args.prob:
        prob = np.asarray(read_image(args.prob))
        if prob.ndim == gt.ndim + 1:
            prob = prob[-1]
    else:
        image = read_image(args.image)
        prob = np.asarray(_predict_to(args, image, None, args.image).prob[...])[-1]
    if args.slices:
        lo, hi = (int(v) for v in args.slices.split(":"))
        gt = gt[lo:hi]
        prob = prob[lo:hi] if prob.shape[0] != gt.shape[0] else prob
    values = set(np.unique(gt).tolist())
    if CELL in values and values <= {0, MEMBRANE, CELL}:  # class labels, not a 0/255 mask
        gt = gt == CELL
    scores = isbi_scores(prob, gt)
    for key, value in scores.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


# ---------------------------------------------------------------- export
def cmd_export(args: argparse.Namespace) -> int:
    from .channels import as_channels
    from .export.bioimageio import ExportOptions, export_bioimageio
    from .io import channel_axis_hint, read_image

    options = ExportOptions(
        name=args.name or "", description=args.description or "",
        authors=tuple(args.author or ExportOptions.authors), license=args.license,
        allow_missing_preprocessing=args.allow_missing_preprocessing,
    )
    sample = None
    if args.sample:
        sample = as_channels(read_image(args.sample), channel_axis_hint(args.sample))
    report = export_bioimageio(
        args.checkpoint, args.output, sample=sample, options=options, overwrite=args.overwrite
    )
    agreement = ", ".join(f"{k} {v:.1e}" for k, v in report.errors.items())
    print(f"wrote {report.path}: bioimage.io validation {report.status}; max |difference| "
          f"to torch on the {report.input_size}px test tensor: {agreement}")


# ---------------------------------------------------------------- segment
def _boundary_map(args: argparse.Namespace) -> np.ndarray:
    from .io import read_image
    from .segment import boundary_from_classes

    prob = read_image(args.prob)
    if args.cell_map or np.ndim(prob) == 2:  # predict --last-class-only: cell probability
        return 1.0 - np.asarray(prob, np.float32)
    return boundary_from_classes(prob, args.channel)


def cmd_segment(args: argparse.Namespace) -> int:
    from .io import read_image, write_labels
    from .metrics import instance_scores, merge_split_counts
    from .sample import isbi_labels_to_classes
    from .segment import segment

    boundary = _boundary_map(args)
    gt = None
    if args.gt:
        gt = np.asarray(read_image(args.gt))
        gt = isbi_labels_to_classes(gt) if args.isbi_labels else gt
        if args.slices:
            lo, hi = (int(v) for v in args.slices.split(":"))
            gt = gt[lo:hi]
        if gt.shape != boundary.shape:
            raise ValueError(f"--gt has shape {gt.shape} but the map has {boundary.shape}")
    total = boundary.shape[0] if boundary.ndim == 3 else 1
    bar = Progress(total, f"segment ({args.method})")
    labels = segment(boundary, method=args.method, seeds=args.seeds, min_size=args.min_size,
                     threshold=args.threshold, seed_depth=args.seed_depth,
                     on_slice=lambda done, _: bar.update(done))
    bar.close()
    from .ngff_store import labels_target, write_labels_into

    into = labels_target(args.output)
    if into is not None:  # <store>/labels/<name>: an NGFF label image inside the store
        store, name = into
        write_labels_into(store, labels.astype(np.uint32, copy=False), name,
                          overwrite=args.overwrite)
    else:
        write_labels(args.output, labels, overwrite=args.overwrite)
    count = len(np.unique(labels[labels > 0]))
    print(f"wrote {args.output}: {count} objects in {total} slice(s)")
    if gt is not None:
        fmt = "labels" if set(np.unique(gt).tolist()) <= {0, 1, 2} and 2 in gt else "binary"
        for key, value in {**instance_scores(labels, gt, gt_format=fmt),
                           **merge_split_counts(labels, gt, gt_format=fmt)}.items():
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


# ---------------------------------------------------------------- demo / gui
def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import headless_demo

    result = headless_demo(Path(args.out), seconds=args.seconds, backend=args.backend)
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from .demo import launch_gui

    launch_gui(sample=args.sample)
    return 0


# ---------------------------------------------------------------- parser
def _arch_args(p: argparse.ArgumentParser, random_model: bool = False) -> None:
    """--arch, --preset and --knob, with choices from the architecture registry.

    For ``random_model`` (predict, evaluate) they describe the model used
    without --checkpoint, and default to None so that giving them together
    with a checkpoint is noticed instead of silently ignored.
    """
    from .models import architecture_names, preset_names

    what = "random model: " if random_model else ""
    p.add_argument("--arch", choices=architecture_names(), default=None if random_model else "u",
                   help=f"{what}architecture (u)")
    p.add_argument("--preset", choices=preset_names(),
                   default=None if random_model else "interactive", help=f"{what}preset "
                   "(interactive)")
    p.add_argument("--knob", action="append", metavar="NAME=VALUE",
                   help="change an architecture knob (e.g. base_fmaps=32, depth=3); repeatable")
    p.add_argument("--fmaps", type=int, help="feature maps (the Train widget's fmaps knob)")
    p.add_argument("--depth", type=int, help="U-Net depth (the Train widget's depth knob)")


def _model_args(p: argparse.ArgumentParser) -> None:
    from .predict import DEFAULT_BLOCK

    p.add_argument("--checkpoint", "--model", dest="checkpoint",
                   help="trained model (.npz) or exported bioimage.io package (.zip); "
                   "else random weights")
    _arch_args(p, random_model=True)
    p.add_argument("--seed", type=int, help="random model: weight seed (0)")
    p.add_argument("--backend", default=None, help="auto, torch, torch-cpu, torch-cuda, opencl")
    p.add_argument("--device", default=None, help="device within the backend")
    p.add_argument("--block", type=POSITIVE_INT, default=DEFAULT_BLOCK,
                   help="output block edge (pixels)")
    _channel_args(p)


def _channel_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel-axis", type=int, metavar="N",
                   help="axis of the image holding channels (default: from OME-Zarr "
                   "metadata; RGB(A) colour is recognised)")
    p.add_argument("--channels", metavar="I,J,...",
                   help="channels to use, 0-based along the channel axis (default: all; for "
                   "predict: those the model was trained on)")


def build_parser() -> argparse.ArgumentParser:
    from .losses import loss_names

    parser = argparse.ArgumentParser(prog="greentea", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="backends, devices, versions").set_defaults(func=cmd_info)

    p = sub.add_parser("predict", help="tiled prediction of an image or stack, or of many")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="INPUT OUTPUT: one image (or container with dataset key: "
                   "stack.h5:/volumes/raw) into out.zarr (chunked, resumable) or out.tif; "
                   "with --out: [MODEL.npz] INPUT... where each INPUT is an image, a folder "
                   "or a quoted glob ('raw/*.tif')")
    p.add_argument("--out", metavar="FOLDER",
                   help="predict every INPUT into FOLDER/<name>.zarr and write "
                   "FOLDER/summary.json; a rerun skips complete outputs and resumes partial ones")
    p.add_argument("--key", help="dataset inside a zarr/HDF5/N5 input (or path:/key)")
    _model_args(p)
    p.add_argument("--overwrite", action="store_true",
                   help="replace the output (only a prediction store this tool wrote)")
    p.add_argument("--dtype", choices=("float32", "uint8"), default="float32")
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation: average the 8 flips/rotations (8x slower)")
    p.add_argument("--bf16", action="store_true",
                   help="torch only (OpenCL is refused): bfloat16 autocast, for GPUs/CPUs "
                   "with bfloat16 units; probabilities stay float32 (or --dtype uint8) and "
                   "differ from float32 inference by up to ~2e-2; a store resumes only with "
                   "the same flag")
    p.add_argument("--last-class-only", action="store_true", help="TIFF: last class only")
    p.add_argument("--preview", help="also write a PNG preview here")
    p.add_argument("--scheduler", help="dask scheduler address (tcp://host:8786)")
    p.add_argument("--workers", type=POSITIVE_INT,
                   help="start a LocalCluster with N worker processes")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("train", help="train on an image and its labels, or on a project")
    p.add_argument("image", nargs="?")
    p.add_argument("labels", nargs="?",
                   help="0 = unlabeled, 1..K classes (or ISBI with --isbi-labels)")
    p.add_argument("--project", help="a project saved by the Train widget (name.greentea): "
                   "its image, labels, network and settings; the checkpoint goes into the project "
                   "unless --output is given; schedule and loss options given here override "
                   "its settings (--arch/--preset/--knob do not apply)")
    p.add_argument("--image-key", help="dataset inside a zarr/HDF5/N5 image (or path:/key)")
    p.add_argument("--labels-key", help="dataset inside a zarr/HDF5/N5 labels file")
    p.add_argument("--output", help="checkpoint path (.npz); required without --project")
    _arch_args(p)
    p.add_argument("--loss", choices=loss_names(), help="default: the preset's recipe")
    p.add_argument("--balance", choices=CLASS_BALANCES, help="default: the preset's recipe")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--iterations", type=POSITIVE_INT,
                   help="iteration limit (default 200, or none with --seconds/--minutes)")
    p.add_argument("--seconds", type=POSITIVE_FLOAT, help="train for this many seconds")
    p.add_argument("--minutes", type=POSITIVE_FLOAT, help="train for this many minutes")
    p.add_argument("--lr", type=POSITIVE_FLOAT)
    p.add_argument("--batch", type=POSITIVE_INT)
    p.add_argument("--patch", type=POSITIVE_INT, help="output patch edge")
    p.add_argument("--holdout", type=float,
                   help="share of the strokes held out to keep the best weights (0 = off)")
    p.add_argument("--average", type=float,
                   help="EMA decay of the weights that predict (0 = off)")
    p.add_argument("--validate-every", type=COUNT, help="validate every N iterations")
    p.add_argument("--bf16", action="store_true", help="torch: bfloat16 autocast in training")
    p.add_argument("--threads", type=_threads_arg,
                   help="torch CPU threads for training: N, or 'auto' to measure whether all "
                        "cores or one fewer train faster (default: one per core)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=COUNT, default=0)
    p.add_argument("--backend", default=None)
    p.add_argument("--isbi-labels", action="store_true", help="labels are 0/255 ISBI masks")
    p.add_argument("--slices", help="use slices lo:hi of a stack")
    p.add_argument("--init", metavar="PRETRAINED.npz",
                   help="start every layer but the classifier from greentea pretrain's "
                   "weights (the architecture must match)")
    _channel_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("pretrain", help="pretrain a network on an image alone (no labels), "
                       "for train --init")
    p.add_argument("image")
    p.add_argument("--image-key", help="dataset inside a zarr/HDF5/N5 image (or path:/key)")
    p.add_argument("--output", required=True, help="pretrained weights (.npz)")
    _arch_args(p)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=POSITIVE_FLOAT,
                        help="time budget, the filter responses included (default 300)")
    budget.add_argument("--minutes", type=POSITIVE_FLOAT, help="time budget in minutes")
    budget.add_argument("--iterations", type=POSITIVE_INT,
                        help="iteration limit instead of a time budget")
    p.add_argument("--lr", type=POSITIVE_FLOAT)
    p.add_argument("--batch", type=POSITIVE_INT)
    p.add_argument("--patch", type=POSITIVE_INT, help="output patch edge")
    p.add_argument("--threads", type=_threads_arg, help="as for train")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default=None)
    _channel_args(p)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("evaluate", help="V_rand, V_info, pixel error (ISBI protocol)")
    p.add_argument("--gt", required=True, help="ground truth (nonzero = cell interior)")
    p.add_argument("--prob", help="cell-probability TIFF/zarr (last class used)")
    p.add_argument("--image", help="or: image to predict with --checkpoint")
    p.add_argument("--slices", help="evaluate slices lo:hi of the ground truth")
    _model_args(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="write a checkpoint as a bioimage.io model package")
    p.add_argument("checkpoint", help="trained model (.npz)")
    p.add_argument("output", help="package path (.zip)")
    p.add_argument("--sample", help="image for the test tensor and cover (default: synthetic)")
    p.add_argument("--name")
    p.add_argument("--description")
    p.add_argument("--author", action="append", help="repeat for several authors")
    p.add_argument("--license", default="CC-BY-4.0", help="SPDX identifier")
    p.add_argument("--allow-missing-preprocessing", action="store_true",
                   help="export a CLAHE model; the package says CLAHE must be applied first")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("segment", help="cell instances from a probability map (watershed)")
    p.add_argument("prob", help="class probabilities from predict (.tif/.zarr)")
    p.add_argument("output", help="instance labels (.tif or .zarr, uint32); "
                   "PROB.zarr/labels/NAME adds them to the prediction store (OME-Zarr labels)")
    p.add_argument("--method", choices=("watershed", "threshold"), default="watershed")
    p.add_argument("--seeds", choices=("distance", "hminima"), default="distance")
    p.add_argument("--min-size", type=int, default=DEFAULT_MIN_SIZE,
                   help="merge (watershed) or drop (threshold) smaller objects, pixels")
    p.add_argument("--threshold", type=float, default=0.5, help="cell iff 1 - boundary > T")
    p.add_argument("--seed-depth", type=float, help="distance: peak/saddle ratio; hminima: h")
    p.add_argument("--channel", type=int, default=BOUNDARY_CHANNEL,
                   help="boundary (membrane) channel of PROB, 0-based")
    p.add_argument("--cell-map", action="store_true",
                   help="PROB is one cell-probability map (predict --last-class-only)")
    p.add_argument("--gt", help="ground truth: print instance V_rand / V_info, merges, splits")
    p.add_argument("--isbi-labels", action="store_true", help="--gt is a 0/255 ISBI mask")
    p.add_argument("--slices", help="compare with slices lo:hi of --gt")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_segment)

    p = sub.add_parser("demo", help="headless annotate -> train -> predict on the sample")
    p.add_argument("--out", default="greentea-demo")
    p.add_argument("--seconds", type=POSITIVE_FLOAT, default=60.0)
    p.add_argument("--backend", default=None)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("gui", help="open napari with the Greentea widgets and a sample")
    p.add_argument("--sample", choices=("auto", "synthetic", "isbi"), default="auto")
    p.set_defaults(func=cmd_gui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # our messages at INFO; other libraries (dask, numba...) only from WARNING up
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        with stop_requests() as args.stop:
            code = int(args.func(args) or 0)
        if args.stop.is_set() and code == 0:
            raise Interrupted("interrupted after the work was done; the output is complete")
        return code
    except Interrupted as stop:
        print(f"greentea {args.command}: {stop}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(f"greentea {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, FileNotFoundError, OSError, RuntimeError, ConnectionError) as err:
        print(f"greentea {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
