"""``greentea predict``: one image into a .tif or resumable .zarr, many images into
a folder, either of them optionally on dask workers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ._common import (
    Interrupted,
    Progress,
    _channel_axis,
    _check_model_flags,
    _model,
    _model_and_input,
)


def _predict_backend(args: argparse.Namespace) -> Any:
    """The backend to predict on; with ``--bf16`` a torch one (see
    :func:`~napari_greentea.backend.get_backend`), refused before anything is written."""
    from ..backend import get_backend

    return get_backend(args.backend, args.device, bf16=bool(getattr(args, "bf16", False)))


def _predict_to(args: argparse.Namespace, image: Any, output: str | None,
                source: str | None = None, key: str | None = None) -> Any:
    """Predict ``image`` (read from ``source``, dataset ``key``) into ``output``."""
    from ..backend import backend_label
    from ..events import BlockWritten
    from ..io import scale_hint
    from ..predict import PredictionJob, build_predictor
    from ..store import model_fingerprint

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
    from ..export.package import is_package

    if args.checkpoint and not is_package(args.checkpoint):
        return str(args.checkpoint)
    return str(_model(args).save(Path(folder) / "model.npz"))


def _predict_distributed(args: argparse.Namespace) -> int:
    import tempfile

    from ..channels import parse_channels
    from ..distributed import connect, predict_distributed

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
    from ..channels import channel_planes
    from ..io import check_output_file, read_image, write_png_preview, write_tiff
    from ..store import check_output_path

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
    from ..batch import expand_inputs, format_table

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
    from ..backend import backend_label
    from ..batch import predict_files
    from ..channels import parse_channels

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

    from ..batch import predict_files_distributed
    from ..channels import parse_channels
    from ..checkpoint import Checkpoint
    from ..distributed import connect
    from ..store import model_fingerprint

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
