"""The smaller ``greentea`` commands: info, evaluate, export, segment, demo and gui."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ._common import Progress, slice_range
from .predict import _predict_to


# ---------------------------------------------------------------- info
def cmd_info(args: argparse.Namespace) -> int:
    import platform

    from .. import __version__
    from ..backend import available_backends, unavailable_backends

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
        from ..backend.opencl import list_devices

        devices = list_devices()
        print("OpenCL devices:")
        for i, dev in enumerate(devices):
            mem = f"{dev.memory_bytes / 2**30:.1f} GiB" if dev.memory_bytes else "?"
            print(f"  [{i}] {dev.name} ({dev.type}, {mem}, {dev.driver})")
    except Exception as err:  # noqa: BLE001 - info must never crash
        print(f"OpenCL devices: none ({err})")
    from ..caches import FALLBACK_REASONS, greentea_cache_dir

    try:
        print(f"cache: {greentea_cache_dir()}")
    except OSError as err:
        print(f"cache: none ({err})")
    for reason in dict.fromkeys(FALLBACK_REASONS):
        print(f"  note: {reason}")
    return 0


def _print_auto_choice() -> None:
    """What ``auto`` picks and why; the first call on a machine measures (~2 s)."""
    from ..backend import auto_choice, backend_label

    try:
        chosen, why = auto_choice()
    except Exception as err:  # noqa: BLE001 - info must never crash
        print(f"auto picks: nothing ({err})")
        return
    print(f"auto picks: {backend_label(chosen)}")
    print(f"  because {why}")


# ---------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..io import read_image
    from ..metrics import isbi_scores
    from ..sample import CELL, MEMBRANE

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
    from ..channels import as_channels
    from ..export.bioimageio import ExportOptions, export_bioimageio
    from ..io import channel_axis_hint, read_image

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
    from ..io import read_image
    from ..segment import boundary_from_classes

    prob = read_image(args.prob)
    if args.cell_map or np.ndim(prob) == 2:  # predict --last-class-only: cell probability
        return 1.0 - np.asarray(prob, np.float32)
    return boundary_from_classes(prob, args.channel)


def cmd_segment(args: argparse.Namespace) -> int:
    from ..io import read_image, write_labels
    from ..metrics import instance_scores, merge_split_counts
    from ..sample import isbi_labels_to_classes
    from ..segment import segment

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
    from ..ngff_store import labels_target, write_labels_into

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
    from ..demo import headless_demo

    result = headless_demo(Path(args.out), seconds=args.seconds, backend=args.backend)
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from ..demo import launch_gui

    launch_gui(sample=args.sample)
    return 0
