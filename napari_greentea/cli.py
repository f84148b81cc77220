"""``greentea`` command line: info, predict, train, evaluate, segment, demo, gui.

Every command prints one clear line and exits with status 2 on bad input
(wrong file, unknown preset, mismatching checkpoint) instead of a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .config import CLASS_BALANCES, LossConfig, PreprocessConfig, TrainConfig
from .segment import BOUNDARY_CHANNEL, DEFAULT_MIN_SIZE

log = logging.getLogger("napari_greentea")


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
def _model(args: argparse.Namespace) -> Any:
    """The checkpoint of --checkpoint, else one with RANDOM weights from --arch/--preset."""
    from .checkpoint import Checkpoint
    from .models import dense_graph
    from .weights import init_weights

    if args.checkpoint:
        return Checkpoint.load(args.checkpoint)
    spec = _spec(args)
    log.warning("no --checkpoint: predicting with RANDOM weights (smoke run)")
    weights = init_weights(dense_graph(spec), args.seed)
    return Checkpoint(spec=spec, weights=weights, preprocess=PreprocessConfig())


def _spec(args: argparse.Namespace) -> Any:
    """The spec of --arch/--preset with the architecture's --knob NAME=VALUE changes."""
    from .models import architecture, preset

    arch = architecture(args.arch)
    base = preset(args.arch, args.preset)
    knobs = {knob.name: knob for knob in arch.knobs}
    overrides: dict[str, Any] = {}
    for item in args.knob or ():
        name, _, value = item.partition("=")
        if name not in knobs or not value.strip().isdigit():
            raise ValueError(
                f"--knob {item!r}: expected NAME=INTEGER with NAME one of "
                f"{', '.join(knobs) or '(none)'} for architecture {args.arch!r}"
            )
        overrides.update(knobs[name].overrides(base, int(value)))
    return preset(args.arch, args.preset, **overrides)


def _predict_to(args: argparse.Namespace, image: Any, output: str | None) -> Any:
    from .backend import backend_label, get_backend
    from .events import BlockWritten
    from .predict import PredictionJob, build_predictor

    model = _model(args)
    backend = get_backend(args.backend, args.device)
    predictor = build_predictor(model, backend)
    zarr_out = output if output and output.endswith(".zarr") else None
    job = PredictionJob(
        predictor, predictor.graph, image, block=args.block, output=zarr_out,
        preprocess=model.preprocess, overwrite=args.overwrite,
        attrs={"spec": model.spec.to_dict()},
    )
    bar = Progress(len(job.blocks), f"predict on {backend_label(backend)}")
    for event in job.run():
        if isinstance(event, BlockWritten):
            bar.update(len(job.blocks) - event.total + event.done)
    bar.close()
    return job


def _predict_distributed(args: argparse.Namespace) -> int:
    import tempfile

    from .distributed import connect, predict_distributed

    if not args.output.endswith(".zarr"):
        raise ValueError("distributed prediction writes zarr: give an output ending in .zarr")
    checkpoint = args.checkpoint
    with tempfile.TemporaryDirectory() as tmp:
        if not checkpoint:
            checkpoint = str(_model(args).save(Path(tmp) / "random.npz"))
        client = connect(args.scheduler, args.workers)
        try:
            bar = Progress(1, "predict (dask)")

            def on_block(done: int, total: int) -> None:
                bar.total = total
                bar.update(done)

            summary = predict_distributed(
                client, checkpoint, args.input, args.output, block=args.block,
                backend=args.backend, device=args.device, dtype=args.dtype, on_block=on_block,
            )
            bar.close()
        finally:
            client.close()
    print(f"wrote {args.output}: {summary}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .io import read_image, write_png_preview, write_tiff

    if args.scheduler or args.workers:
        return _predict_distributed(args)
    image = read_image(args.input)
    output = args.output
    if Path(output).exists() and not args.overwrite and not output.endswith(".zarr"):
        raise ValueError(f"{output} exists; pass --overwrite to replace it")
    job = _predict_to(args, image, output)
    prob = job.prob
    if not output.endswith(".zarr"):
        data = np.asarray(prob[...])
        write_tiff(output, data[-1] if args.last_class_only else data, dtype=args.dtype)
    if args.preview:
        write_png_preview(args.preview, image, prob[-1])
    print(f"wrote {output}: {tuple(prob.shape)} class probabilities ({len(job.blocks)} blocks)")
    return 0


# ---------------------------------------------------------------- train
def _train_configs(args: argparse.Namespace) -> tuple[TrainConfig, LossConfig]:
    train = TrainConfig(
        iterations=args.iterations,
        lr=args.lr,
        optimizer=args.optimizer,
        lr_policy="inv" if args.optimizer == "sgd" else "fixed",
        batch_size=args.batch,
        output_size=args.patch,
        seed=args.seed,
        output=args.output,
        checkpoint_every=args.checkpoint_every,
        event_every=1,
    )
    loss = LossConfig(kind=args.loss, class_balance=args.balance)
    return train, loss


def run_training(trainer: Any, label: str = "train") -> Any:
    from .events import IterationDone, TrainingStopped

    bar = Progress(trainer.train_config.iterations, label)
    for event in trainer.run():
        if isinstance(event, IterationDone):
            speed = f"loss {event.loss:.4f} {event.labels_per_second:,.0f} labels/s"
            bar.update(event.iteration, speed)
        elif isinstance(event, TrainingStopped):
            bar.close()
            print(f"training stopped: {event.reason}", file=sys.stderr)
    bar.close()
    return trainer.checkpoint()


def cmd_train(args: argparse.Namespace) -> int:
    from .backend import backend_label
    from .io import read_image
    from .sample import CLASS_NAMES, isbi_labels_to_classes
    from .train import LabeledImage, Trainer

    image = np.asarray(read_image(args.image))
    labels = np.asarray(read_image(args.labels))
    if args.isbi_labels:
        labels = isbi_labels_to_classes(labels)
    if args.slices:
        lo, hi = (int(v) for v in args.slices.split(":"))
        image, labels = image[lo:hi], labels[lo:hi]
    spec = _spec(args)
    train, loss = _train_configs(args)
    trainer = Trainer(
        spec, [LabeledImage(image, labels)], train=train, loss=loss, backend=args.backend,
        class_names=CLASS_NAMES if spec.num_classes == 2 else (),
    )
    run_training(trainer, f"train {args.arch}/{args.preset} on {backend_label(trainer.backend)}")
    print(f"wrote checkpoint {args.output} (iteration {trainer.iteration})")
    return 0


# ---------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    from .io import read_image
    from .metrics import isbi_scores
    from .sample import CELL, MEMBRANE

    gt = np.asarray(read_image(args.gt))
    if args.prob:
        prob = np.asarray(read_image(args.prob))
        if prob.ndim == gt.ndim + 1:
            prob = prob[-1]
    else:
        image = read_image(args.image)
        prob = np.asarray(_predict_to(args, image, None).prob[...])[-1]
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
def _arch_args(p: argparse.ArgumentParser) -> None:
    """--arch, --preset and --knob, with choices from the architecture registry."""
    from .models import architecture_names, preset_names

    p.add_argument("--arch", choices=architecture_names(), default="u")
    p.add_argument("--preset", choices=preset_names(), default="interactive")
    p.add_argument("--knob", action="append", metavar="NAME=VALUE",
                   help="change an architecture knob (e.g. base_fmaps=32, depth=3); repeatable")


def _model_args(p: argparse.ArgumentParser) -> None:
    from .predict import DEFAULT_BLOCK

    p.add_argument("--checkpoint", help="trained model (.npz); else random weights")
    _arch_args(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default=None, help="auto, torch, torch-cpu, torch-cuda, opencl")
    p.add_argument("--device", default=None, help="device within the backend")
    p.add_argument("--block", type=int, default=DEFAULT_BLOCK, help="output block edge (pixels)")
    p.add_argument("--overwrite", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    from .losses import loss_names

    parser = argparse.ArgumentParser(prog="greentea", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="backends, devices, versions").set_defaults(func=cmd_info)

    p = sub.add_parser("predict", help="tiled prediction of an image or stack")
    p.add_argument("input")
    p.add_argument("output", help="out.zarr (chunked, resumable) or out.tif")
    _model_args(p)
    p.add_argument("--dtype", choices=("float32", "uint8"), default="float32")
    p.add_argument("--last-class-only", action="store_true", help="TIFF: last class only")
    p.add_argument("--preview", help="also write a PNG preview here")
    p.add_argument("--scheduler", help="dask scheduler address (tcp://host:8786)")
    p.add_argument("--workers", type=int, help="start a LocalCluster with N worker processes")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("train", help="train on an image and its labels")
    p.add_argument("image")
    p.add_argument("labels", help="0 = unlabeled, 1..K classes (or ISBI with --isbi-labels)")
    p.add_argument("--output", required=True, help="checkpoint path (.npz)")
    _arch_args(p)
    p.add_argument("--loss", choices=loss_names(), default="softmax")
    p.add_argument("--balance", choices=CLASS_BALANCES, default="none")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--patch", type=int, default=96, help="output patch edge")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=0)
    p.add_argument("--backend", default=None)
    p.add_argument("--isbi-labels", action="store_true", help="labels are 0/255 ISBI masks")
    p.add_argument("--slices", help="use slices lo:hi of a stack")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="V_rand, V_info, pixel error (ISBI protocol)")
    p.add_argument("--gt", required=True, help="ground truth (nonzero = cell interior)")
    p.add_argument("--prob", help="cell-probability TIFF/zarr (last class used)")
    p.add_argument("--image", help="or: image to predict with --checkpoint")
    p.add_argument("--slices", help="evaluate slices lo:hi of the ground truth")
    _model_args(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("segment", help="cell instances from a probability map (watershed)")
    p.add_argument("prob", help="class probabilities from predict (.tif/.zarr)")
    p.add_argument("output", help="instance labels (.tif or .zarr, uint32)")
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
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--backend", default=None)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("gui", help="open napari with the Greentea widgets and a sample")
    p.add_argument("--sample", choices=("auto", "synthetic", "isbi"), default="auto")
    p.set_defaults(func=cmd_gui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, OSError, RuntimeError, ConnectionError) as err:
        print(f"greentea {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
