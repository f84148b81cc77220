"""``greentea train`` (an image and its labels, or a project) and ``greentea pretrain``
(an image alone); :func:`run_training` drives a trainer with a progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

from ..config import LossConfig, TrainConfig
from ..interrupt import StopRequest
from ._common import Interrupted, Progress, _channel_axis, _spec, log, slice_range


# ---------------------------------------------------------------- train
def _train_configs(args: argparse.Namespace, from_model: bool = False,
                   dense_labels: bool = False) -> tuple[TrainConfig, LossConfig]:
    """The preset's recipe (``recipes.py``) with the options given on the command line;
    ``from_model``: --init names a trained model (the recipe's fine-tuning settings);
    ``dense_labels``: the labels are a dense annotation (the recipe's settings for it)."""
    from ..recipes import recipe

    seconds = args.seconds if args.seconds is not None else 60.0 * (args.minutes or 0.0)
    iterations = args.iterations
    if iterations is None:
        iterations = 10**9 if seconds else 200
    given = {
        "lr": args.lr, "batch_size": args.batch, "output_size": args.patch,
        "holdout": args.holdout, "average": args.average,
        "anchor_decay": args.anchor_decay,
        "validate_every": args.validate_every, "bf16": args.bf16 or None,
        "threads": args.threads,
    }
    train = {k: v for k, v in given.items() if v is not None}
    loss = {k: v for k, v in (("kind", args.loss), ("class_balance", args.balance)) if v}
    return recipe(args.preset or "interactive", train={
        **train,
        "iterations": iterations,
        "seconds": seconds,
        "optimizer": args.optimizer,
        "lr_policy": "inv" if args.optimizer == "sgd" else "fixed",
        "seed": args.seed,
        "output": args.output,
        "checkpoint_every": args.checkpoint_every,
        "event_every": 1,
    }, loss=loss, from_model=from_model, dense_labels=dense_labels)


def run_training(trainer: Any, label: str = "train", stop: StopRequest | None = None) -> Any:
    """Drive ``trainer`` with a progress bar; ``stop`` (SIGINT/SIGTERM) stops it after saving.

    Raises :class:`Interrupted` (exit status 130) once the checkpoint is saved.
    """
    from ..events import IterationDone, TrainingStopped, Validated

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
    from ..channels import as_channels, parse_channels
    from ..io import read_image

    image = np.asarray(read_image(args.image, key=args.image_key))
    axis = _channel_axis(args, args.image, args.image_key)
    return as_channels(image, axis, parse_channels(args.channels))


def _spatial_slices(image: Any, chosen: slice) -> Any:
    """Slices ``chosen`` of a stack, the channel axis (if any) kept whole."""
    from ..channels import ChannelImage

    if not isinstance(image, ChannelImage):
        return image[chosen]
    last = np.moveaxis(image.array, image.axis, -1)
    return ChannelImage(last[chosen], -1, image.channels)


def cmd_train(args: argparse.Namespace) -> int:
    from ..backend import backend_label
    from ..channels import channel_count
    from ..checkpoint import Checkpoint
    from ..io import read_image
    from ..recipes import DENSE_SHARE, labeled_share
    from ..sample import CLASS_NAMES, isbi_labels_to_classes
    from ..train import LabeledImage, Trainer
    from ..transfer import load_start

    if args.project:
        return _train_project(args)
    if not (args.image and args.labels and args.output):
        raise ValueError("give IMAGE LABELS --output CHECKPOINT, or --project PROJECT")
    image = _training_image(args)
    labels = np.asarray(read_image(args.labels, key=args.labels_key))
    source = load_start(args.init) if args.init else None
    spec = _network(args, channel_count(image), source)
    if args.isbi_labels:
        labels = isbi_labels_to_classes(labels)
    else:
        _check_label_values(labels, spec.num_classes, args.labels)
    if args.slices:
        chosen = slice_range(args.slices, image.shape, args.image)
        image, labels = _spatial_slices(image, chosen), labels[chosen]
    share = labeled_share([labels])
    dense = share >= DENSE_SHARE
    train, loss = _train_configs(args, from_model=isinstance(source, Checkpoint),
                                 dense_labels=dense)
    if dense:
        print(f"dense labels ({share:.0%} of the labeled planes): class balance "
              f"{loss.class_balance}, holdout {train.holdout:g}, pull toward the start "
              f"{train.anchor_decay:g}, weight average {train.average:g}", file=sys.stderr)
    names = CLASS_NAMES if spec.num_classes == 2 else ()
    trainer = Trainer(
        spec, [LabeledImage(image, labels)], train=train, loss=loss, backend=args.backend,
        class_names=names,
        **_start_weights(args, spec, LabeledImage(image, labels), names, source=source),
    )
    run_training(trainer, f"train {spec.kind}/{args.preset or 'interactive'} on "
                 f"{backend_label(trainer.backend)}", args.stop)
    print(f"wrote checkpoint {args.output} (iteration {trainer.iteration})")
    return 0


def _network(args: argparse.Namespace, in_channels: int, source: Any) -> Any:
    """The network to train: the one --arch/--preset/--knob/--fmaps/--depth describe, or,
    when none of them is given and --init names a trained model (a starter), that
    model's own network: a starter brings the network it was trained as."""
    from ..checkpoint import Checkpoint

    named = (args.arch or args.preset or args.knob or args.fmaps is not None
             or args.depth is not None)
    if named or not isinstance(source, Checkpoint):
        return _spec(args, in_channels)
    return source.spec.replace(in_channels=in_channels)


def _start_weights(args: argparse.Namespace, spec: Any, pair: Any, class_names: Any,
                   named: bool = False, source: Any = None) -> dict[str, Any]:
    """The Trainer's ``init_from`` and ``preprocess`` for ``--init FILE`` (nothing
    without it): ``greentea pretrain``'s weights or a trained checkpoint (a starter
    model; ``source`` when it is already loaded); a ValueError names what does not
    fit ``spec``. A starter's classes are matched to the labels' (``class_order``): by
    name when ``named`` (a project's own class names), else by what it predicts under
    the labels."""
    from ..channels import as_channels, chosen_channels
    from ..pretrain import Pretrained
    from ..transfer import load_start, matched_start

    if not args.init:
        return {}
    source = source if source is not None else load_start(args.init)
    if isinstance(source, Pretrained):
        start = source.initial_checkpoint(spec, seed=args.seed or 0, class_names=class_names)
        made = f"{source.iterations} pretraining iterations, {source.seconds:.0f} s"
    else:
        same = spec.num_classes == source.spec.num_classes
        start, note = matched_start(source, spec, seed=args.seed or 0, class_names=class_names,
                                    strokes=[pair], names_decide=named, backend=args.backend)
        made = (f"a model trained for {source.iteration} iterations; every layer"
                f"{'' if same else ' but the classifier, which starts afresh'}"
                f"{'; ' + note if note else ''}")
    chosen = chosen_channels(as_channels(pair.image))
    if chosen != start.preprocess.channels:
        log.warning("%s was trained on channels %s, training reads channels %s",
                    args.init, list(start.preprocess.channels), list(chosen))
    print(f"starting from {args.init} ({made})", file=sys.stderr)
    return {"init_from": start, "preprocess": start.preprocess}


def _train_project(args: argparse.Namespace) -> int:
    """``train --project P``: the project's image, labels and settings; the model goes back in."""
    from ..backend import backend_label
    from ..project import MODEL_FILE, attach_checkpoint, load_project
    from ..sample import CLASS_NAMES
    from ..train import LabeledImage, Trainer

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
        "anchor_decay": args.anchor_decay,
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
                      **_start_weights(args, spec, LabeledImage(image, labels), names,
                                       named=bool(project.class_names)))
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
    from ..backend import backend_label, get_backend
    from ..channels import channel_count
    from ..config import PretrainConfig
    from ..pretrain import Pretrainer
    from ..train import check_writable

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
