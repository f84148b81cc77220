"""What the ``greentea`` commands share: argument types, --slices, the progress bar,
the Interrupted exit and the model (checkpoint or random) a command works with."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any

from ..config import PreprocessConfig

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


# ---------------------------------------------------------------- model helpers
def _model(args: argparse.Namespace, in_channels: int = 1) -> Any:
    """The model of --checkpoint/--model (.npz or bioimage.io .zip), else RANDOM weights
    (reading ``in_channels`` channels)."""
    from ..checkpoint import Checkpoint
    from ..export.package import load_model_file
    from ..models import dense_graph
    from ..weights import init_weights

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
    from ..models import architecture, preset

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
    from ..io import channel_axis_hint

    if args.channel_axis is not None:
        return args.channel_axis
    return channel_axis_hint(path, key=key)


def _model_and_input(args: argparse.Namespace, image: Any, path: str | None,
                     key: str | None) -> tuple[Any, Any]:
    """The model, and the channels of ``image`` it reads (--channels, else the
    checkpoint's); a random model reads as many channels as the image gives."""
    from ..channels import as_channels, channel_count, model_input, parse_channels

    axis = _channel_axis(args, path, key) if path else args.channel_axis
    channels = parse_channels(args.channels)
    model = _model(args, channel_count(as_channels(image, axis, channels)))
    return model, model_input(image, model.spec.in_channels, model.preprocess.channels,
                              axis=axis, channels=channels)


class Interrupted(Exception):
    """A run stopped by SIGINT/SIGTERM; the message says what was kept."""
