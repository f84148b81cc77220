"""Prediction of many images: files, folders and globs in, one store per input, a summary.

Each input gets its own resumable prediction store ``<out>/<name>.zarr``
(:class:`~napari_greentea.predict.PredictionJob`), so a rerun skips inputs
whose store is complete and resumes partial ones, while the store's
fingerprints refuse a store of another model or image. An input that fails
is recorded with its error and the others go on. ``<out>/summary.json``
lists per input its shape, output, blocks computed and reused, seconds and
status; :func:`format_table` renders the same as text.
"""

from __future__ import annotations

import glob
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .io import READ_SUFFIXES

if TYPE_CHECKING:
    from .checkpoint import Checkpoint

SUMMARY_NAME = "summary.json"
FORMAT = "napari-greentea-batch/1"
_GLOB_CHARS = frozenset("*?[")
#: ``on_block(i, done, total)``: input ``i`` has ``done`` of ``total`` blocks written.
BlockCallback = Callable[[int, int, int], None]


@dataclass
class FileResult:
    """What happened to one input.

    ``status``: ``computed`` (all blocks new), ``resumed`` (an earlier run had
    written some), ``skipped`` (its store was already complete), ``incomplete``
    (stopped before the end; a rerun resumes) or ``failed`` (see ``error``).
    """

    input: str
    output: str
    status: str = "incomplete"
    shape: list[int] | None = None
    blocks_total: int = 0
    blocks_computed: int = 0
    blocks_reused: int = 0
    seconds: float = 0.0
    error: str | None = None

    def settle(self, left: int = 0) -> None:
        """Set ``status`` from the block counts (``left``: blocks still missing)."""
        if left or self.blocks_computed + self.blocks_reused < self.blocks_total:
            self.status = "incomplete"
        elif not self.blocks_computed:
            self.status = "skipped"
        else:
            self.status = "resumed" if self.blocks_reused else "computed"


@dataclass
class BatchSummary:
    """The results of one batch run, in input order."""

    files: list[FileResult]
    model: str = ""
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "model": self.model, "created": self.created,
                "files": [asdict(f) for f in self.files]}

    def write(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``summary.json`` into ``folder`` atomically (temporary name, then rename)."""
        final = Path(folder) / SUMMARY_NAME
        tmp = final.with_name(f".{final.name}.partial")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        os.replace(tmp, final)
        return final


def read_summary(folder: str | os.PathLike[str]) -> BatchSummary:
    """The summary a batch run wrote into ``folder``."""
    data = json.loads((Path(folder) / SUMMARY_NAME).read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{folder}/{SUMMARY_NAME} is not a greentea batch summary")
    return BatchSummary([FileResult(**f) for f in data["files"]], data.get("model", ""),
                        data.get("created", ""))


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in READ_SUFFIXES and not path.name.startswith(".")


def _is_our_store(path: Path) -> bool:
    """A prediction store (an earlier batch's output): never an input of a folder run."""
    from ._npe2_io import is_prediction_store

    return path.is_dir() and is_prediction_store(path)


def expand_inputs(items: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(inputs, ignored)`` from files, folders and glob patterns, in a stable order.

    A folder contributes every image in it (suffixes in ``io.READ_SUFFIXES``,
    not hidden, not one of our prediction stores), sorted by name; its other
    entries are returned as ``ignored``. A pattern with ``*``, ``?`` or
    ``[`` that is not an existing path is expanded (``**`` recurses), and
    must match something. Anything else is kept as given, so a missing
    file or a ``stack.h5:/key`` path reaches the reader and its message.
    """
    inputs: list[str] = []
    ignored: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir() and not _is_image(path):
            for entry in sorted(path.iterdir()):
                if _is_image(entry) and not _is_our_store(entry):
                    inputs.append(str(entry))
                elif not entry.name.startswith("."):
                    ignored.append(str(entry))
        elif not path.exists() and _GLOB_CHARS & set(item):
            matches = sorted(m for m in glob.glob(item, recursive=True)
                             if not _is_our_store(Path(m)))
            if not matches:
                raise ValueError(f"no file matches {item!r}")
            inputs.extend(matches)
        else:
            inputs.append(item)
    if not inputs:
        raise ValueError(f"no images found in {', '.join(items)} (readable: {READ_SUFFIXES})")
    return list(dict.fromkeys(inputs)), ignored


def output_paths(inputs: Sequence[str], out_dir: str | os.PathLike[str]) -> list[Path]:
    """``<out_dir>/<stem>.zarr`` per input; ``<name>.zarr`` where stems collide.

    Raises ``ValueError`` if two inputs would still share an output (same
    file name in different folders).
    """
    from .containers import split_dataset_path

    names = [Path(split_dataset_path(i)[0]).name for i in inputs]
    stems = [n.split(".")[0] if not n.startswith(".") else n for n in names]
    outs = [f"{s}.zarr" if stems.count(s) == 1 else f"{n}.zarr" for s, n in zip(stems, names)]
    clash = sorted({o for o in outs if outs.count(o) > 1})
    if clash:
        same = [i for i, o in zip(inputs, outs) if o == clash[0]]
        raise ValueError(f"inputs {same} would all be written to {clash[0]}; "
                         "predict them into separate --out folders")
    return [Path(out_dir) / o for o in outs]


def _fail(result: FileResult, err: BaseException) -> FileResult:
    result.status, result.error = "failed", f"{type(err).__name__}: {err}"
    return result


def predict_files(
    model: Checkpoint,
    inputs: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    backend: Any = None,
    device: str | None = None,
    block: int | None = None,
    dtype: str = "float32",
    key: str | None = None,
    tta: bool = False,
    bf16: bool = False,
    overwrite: bool = False,
    channel_axis: int | None = None,
    channels: Sequence[int] | None = None,
    on_block: BlockCallback | None = None,
    on_file: Callable[[int, FileResult], None] | None = None,
    stop: Any = None,
) -> BatchSummary:
    """Predict every input into its own store in ``out_dir``, one after the other.

    The predictor is built once. Each input gives the model's channels:
    ``channel_axis`` (else the axis its OME metadata names, or RGB colour)
    and ``channels`` (else the checkpoint's). ``stop`` (an Event-like) ends the run
    after the current block; the summary then says which inputs are
    incomplete. The summary is written to ``out_dir`` before returning.
    """
    from .channels import model_input
    from .io import channel_axis_hint, read_image, scale_hint
    from .predict import DEFAULT_BLOCK, PredictionJob, build_predictor
    from .store import model_fingerprint

    predictor = build_predictor(model, backend, device, tta=tta, bf16=bf16)
    graph = predictor.graph
    fingerprint = model_fingerprint(model.spec, model.weights, model.preprocess, tta=tta,
                                    bf16=bf16)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    outputs = output_paths(inputs, out_dir)
    results = [FileResult(i, str(o)) for i, o in zip(inputs, outputs)]
    for n, result in enumerate(results):
        if stop is not None and stop.is_set():
            break
        start = time.perf_counter()
        try:
            axis = channel_axis if channel_axis is not None else channel_axis_hint(
                result.input, key=key)
            image = model_input(read_image(result.input, key=key), model.spec.in_channels,
                                model.preprocess.channels, axis=axis, channels=channels)
            scale, units = scale_hint(result.input, key=key) or (None, None)
            job = PredictionJob(
                predictor, graph, image, block=block or DEFAULT_BLOCK, output=result.output,
                preprocess=model.preprocess, dtype=dtype, overwrite=overwrite,
                attrs={"spec": model.spec.to_dict(), "tta": tta, "bf16": bf16},
                model_fingerprint=fingerprint, source=result.input, scale=scale, units=units)
            result.shape, result.blocks_total = list(job.shape), len(job.blocks)
            result.blocks_reused = job.reused
            for _ in _run(job, n, result, on_block, stop):
                pass
            result.settle(len(job.pending()))
        except Exception as err:  # noqa: BLE001 - one bad input must not stop the others
            _fail(result, err)
        result.seconds = round(time.perf_counter() - start, 3)
        if on_file:
            on_file(n, result)
    summary = BatchSummary(results, fingerprint)
    summary.write(out_dir)
    return summary


def _run(job: Any, n: int, result: FileResult, on_block: BlockCallback | None,
         stop: Any) -> Any:
    """Drive ``job``, counting written blocks into ``result``; stop between blocks."""
    from .events import BlockWritten

    for event in job.run():
        if isinstance(event, BlockWritten):
            result.blocks_computed += 1
            if on_block:
                on_block(n, result.blocks_reused + result.blocks_computed, result.blocks_total)
            if stop is not None and stop.is_set():
                return
        yield event


def predict_files_distributed(
    client: Any,
    checkpoint: str | os.PathLike[str],
    inputs: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    fingerprint: str = "",
    on_block: BlockCallback | None = None,
    stop: Any = None,
    **options: Any,
) -> BatchSummary:
    """Like :func:`predict_files` on a dask cluster: every input's blocks in one queue.

    ``options`` are those of :func:`distributed.submit` (key, block,
    backend, device, dtype, overwrite). ``checkpoint`` is an ``.npz`` path the
    workers can read.
    """
    from .distributed import predict_many

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    outputs = output_paths(inputs, out_dir)
    results = [FileResult(i, str(o)) for i, o in zip(inputs, outputs)]
    outcomes = predict_many(client, checkpoint, [(r.input, r.output) for r in results],
                            on_block=on_block, stop=stop, **options)
    for result, (summary, error) in zip(results, outcomes):
        if summary is not None:
            result.shape = _store_shape(result.output)
            result.blocks_total = summary.blocks_total
            result.blocks_computed = summary.blocks_computed
            result.blocks_reused = summary.blocks_skipped
            result.seconds = round(summary.seconds, 3)
            result.settle(summary.blocks_left)
        if error is not None:
            _fail(result, error)
    batch = BatchSummary(results, fingerprint)
    batch.write(out_dir)
    return batch


def _store_shape(output: str) -> list[int] | None:
    import zarr

    meta = zarr.open_group(output, mode="r").attrs.get("greentea", {})
    return list(meta["shape"]) if "shape" in meta else None


def format_table(summary: BatchSummary) -> str:
    """The summary as an aligned text table, errors below it."""
    rows = [("input", "shape", "computed", "reused", "seconds", "status")]
    for f in summary.files:
        shape = "x".join(map(str, f.shape)) if f.shape else "-"
        rows.append((Path(f.input).name, shape, str(f.blocks_computed), str(f.blocks_reused),
                     f"{f.seconds:.1f}", f.status))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    lines += [f"{Path(f.input).name}: {f.error}" for f in summary.files if f.error]
    return "\n".join(lines)
