"""Tiled prediction on dask.distributed: one task per output block.

The client plans the blocks, computes the per-slice normalisation (so every
block sees the same numbers as a single-process run), creates the zarr sink
(chunks = block, so block writes are independent) and submits one task per
pending block. Each worker process loads the checkpoint once (cached per
process) and opens the input lazily; a task reads its mirror-padded window,
predicts, writes its chunk and sets its ``done`` flag, so a rerun skips
finished blocks and a worker that dies loses only the block it was on
(dask reschedules it).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .channels import ChannelImage, as_channels, channel_planes, model_input
from .config import PreprocessConfig
from .predict import (
    DEFAULT_BLOCK,
    DONE_ARRAY,
    PROB_ARRAY,
    Block,
    SliceSource,
    TileGeometry,
    build_predictor,
    create_sink,
    mark_complete,
    pending_blocks,
    plan_blocks,
    predict_block,
)
from .preprocess import SliceNorm, channel_stats, check_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedSummary:
    """What a distributed run did: block counts, wall time, throughput."""

    blocks_total: int
    blocks_computed: int
    blocks_skipped: int
    seconds: float
    pixels_per_second: float
    workers: int
    blocks_left: int = 0

    def __str__(self) -> str:
        return (
            f"{self.blocks_computed} blocks computed, {self.blocks_skipped} already done "
            f"(of {self.blocks_total}) in {self.seconds:.1f} s on {self.workers} worker(s): "
            f"{self.pixels_per_second / 1e6:.3f} Mpx/s"
        )


@functools.lru_cache(maxsize=4)
def _worker_model(checkpoint: str, backend: str | None, device: str | None) -> Any:
    """Load the checkpoint and build the predictor once per worker process."""
    from .checkpoint import Checkpoint

    _limit_torch_threads()
    ckpt = Checkpoint.load(checkpoint)
    log.info("worker %d loaded %s", os.getpid(), checkpoint)
    return build_predictor(ckpt, backend, device)


def _limit_torch_threads() -> None:
    """Give torch as many threads as the dask worker has, not one per core each."""
    try:
        from distributed import get_worker

        threads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return
    import torch

    torch.set_num_threads(max(1, threads))


@functools.lru_cache(maxsize=8)
def _worker_input(path: str, key: str | None) -> Any:
    from .io import read_image

    return read_image(path, key=key)


def _open_output(path: str) -> tuple[Any, Any]:
    import zarr

    group = zarr.open_group(path, mode="r+")
    return group[PROB_ARRAY], group[DONE_ARRAY]


def predict_block_task(
    block: Block,
    *,
    checkpoint: str,
    source: str,
    array_key: str | None,
    output: str,
    geometry: TileGeometry,
    norms: Sequence[tuple[float, float]],
    backend: str | None,
    device: str | None,
    dtype: str,
    channel_axis: int | None = None,
    channels: Sequence[int] | None = None,
) -> int:
    """Compute and write one block (runs on a worker); returns the block index.

    ``norms`` holds one ``(lo, hi)`` per input channel of the block's slice.
    """
    predictor = _worker_model(checkpoint, backend, device)
    image = as_channels(_worker_input(source, array_key), channel_axis, channels)
    planes = [p if block.z is None else p[block.z] for p in channel_planes(image)]
    sink, done = _open_output(output)
    windows = SliceSource(planes, [SliceNorm(*n) for n in norms])
    predict_block(predictor, windows, block, geometry, sink, done, dtype)
    return block.index


def connect(scheduler: str | None = None, workers: int | None = None, timeout: float = 10) -> Any:
    """A dask ``Client``: to ``scheduler`` if given, else a new ``LocalCluster``.

    An unreachable scheduler raises ``ConnectionError`` naming the address.
    dask's INFO chatter (one line per worker event) is turned down to
    warnings, here and in the worker processes, unless configured otherwise.
    """
    level = os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # workers read it
    import dask
    from distributed import Client, LocalCluster

    dask.config.set({"logging.distributed": level})
    logging.getLogger("distributed").setLevel(level.upper())

    if scheduler:
        try:
            return Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as err:
            raise ConnectionError(
                f"cannot reach the dask scheduler at {scheduler} within {timeout:.0f} s ({err}); "
                "check the address and that `dask scheduler` is running"
            ) from err
    n = workers or 1
    threads = max(1, (os.cpu_count() or 1) // n)
    cluster = LocalCluster(n_workers=n, threads_per_worker=threads, processes=True,
                           dashboard_address=None)
    return Client(cluster)


def _check_writable(output: str) -> None:
    target = Path(output)
    parent = target if target.exists() else target.parent
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"output {output} is not writable (no write permission on {parent})")


@dataclass
class Submitted:
    """One input's blocks handed to the cluster: what :func:`finish` needs to report."""

    output: str
    blocks: list[Block]
    todo: list[Block]
    futures: list[Any]
    start: float


def submit(
    client: Any,
    checkpoint: str | os.PathLike[str],
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    key: str | None = None,
    block: int = DEFAULT_BLOCK,
    backend: str | None = None,
    device: str | None = None,
    dtype: str = "float32",
    overwrite: bool = False,
    channel_axis: int | None = None,
    channels: Sequence[int] | None = None,
) -> Submitted:
    """Create (or reopen) the store of ``source`` and submit one task per pending block.

    Raises before submitting anything if the store belongs to another model,
    image or geometry (``overwrite`` replaces a store this project wrote).
    ``channel_axis``/``channels`` choose the input channels as
    :func:`channels.model_input` does (default: the axis the file's OME
    metadata names, the checkpoint's channels). An OME-Zarr input's level
    scale and units go into the store's NGFF metadata, as in one process, so
    the prediction overlays the image whichever way it was computed.
    """
    from .checkpoint import Checkpoint
    from .io import scale_hint
    from .models import dense_graph
    from .store import input_fingerprint, model_fingerprint

    checkpoint, source, output = (os.fspath(p) for p in (checkpoint, source, output))
    ckpt = Checkpoint.load(checkpoint)
    preprocess: PreprocessConfig = ckpt.preprocess
    if preprocess.clahe:
        raise ValueError("CLAHE needs whole slices in memory; it is not supported distributed")
    graph = dense_graph(ckpt.spec)
    if channel_axis is None:
        from .io import channel_axis_hint

        channel_axis = channel_axis_hint(source, key=key)
    image = model_input(_worker_input(source, key), ckpt.spec.in_channels,
                        preprocess.channels, axis=channel_axis, channels=channels)
    chosen = ((image.axis, image.channels) if isinstance(image, ChannelImage)
              else (None, None))
    shape = check_image(image)
    geometry = TileGeometry.for_graph(graph, block)
    _check_writable(output)
    provenance = {
        "model": model_fingerprint(ckpt.spec, ckpt.weights, preprocess),
        "input": input_fingerprint(image, source),
    }
    scale, units = scale_hint(source, key=key) or (None, None)  # as one process keeps it
    prob, done = create_sink(output, shape, graph.num_classes, geometry.block, dtype=dtype,
                             attrs={"graph": graph.description, "checkpoint": checkpoint},
                             overwrite=overwrite, provenance=provenance, inputs=(source,),
                             scale=scale, units=units)
    blocks = plan_blocks(shape, geometry.block)
    todo = pending_blocks(blocks, done, prob)
    zs = sorted({b.z for b in todo}, key=lambda z: -1 if z is None else z)
    norms = {z: [(n.lo, n.hi) for n in channel_stats(image, z, preprocess)] for z in zs}
    futures = [
        client.submit(
            predict_block_task, blk, checkpoint=checkpoint, source=source, array_key=key,
            output=output, geometry=geometry, norms=norms[blk.z], channel_axis=chosen[0],
            channels=chosen[1], backend=backend, device=device, dtype=dtype,
            key=f"greentea-block-{blk.index}-"
            f"{os.path.basename(output)}", retries=2, pure=False,
        )
        for blk in todo
    ]
    return Submitted(output, blocks, todo, futures, time.perf_counter())


def finish(client: Any, run: Submitted, seconds: float | None = None) -> DistributedSummary:
    """Read back which blocks are written, record completeness, count what was computed."""
    seconds = time.perf_counter() - run.start if seconds is None else seconds
    prob, done = _open_output(run.output)
    remaining = pending_blocks(run.blocks, done, prob)
    mark_complete(prob, not remaining)
    left = {b.index for b in remaining}
    computed = [b for b in run.todo if b.index not in left]
    pixels = sum((b.y[1] - b.y[0]) * (b.x[1] - b.x[0]) for b in computed)
    return DistributedSummary(
        len(run.blocks), len(computed), len(run.blocks) - len(run.todo), seconds,
        pixels / seconds if seconds else 0.0, len(client.scheduler_info()["workers"]),
        len(remaining),
    )


def predict_distributed(
    client: Any,
    checkpoint: str | os.PathLike[str],
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    on_block: Callable[[int, int], None] | None = None,
    stop: Any = None,
    **options: Any,
) -> DistributedSummary:
    """Predict ``source`` (zarr/TIFF/npy path) into the zarr store ``output``.

    ``options`` are those of :func:`submit` (key, block, backend, device,
    dtype, overwrite, channel_axis, channels). ``on_block(done, total)`` is called as blocks finish.
    Reruns skip blocks already written, after checking that the store is a
    prediction of the same model and image. Raises ``ValueError`` if
    ``output`` exists with another shape/block/model/image (``overwrite``
    replaces a store this project wrote), ``PermissionError`` if read-only.
    ``stop`` (a ``threading.Event``) cancels the blocks not yet finished.
    """
    from distributed import as_completed

    run = submit(client, checkpoint, source, output, **options)
    reused = len(run.blocks) - len(run.todo)
    for n, _ in enumerate(_completed(as_completed(run.futures)), start=1):
        if on_block:
            on_block(reused + n, len(run.blocks))
        if stop is not None and stop.is_set():
            client.cancel(run.futures)
            break
    return finish(client, run)


#: Per input: the summary of what was written (None if nothing could start) and the error.
Outcome = tuple[DistributedSummary | None, BaseException | None]


def predict_many(
    client: Any,
    checkpoint: str | os.PathLike[str],
    jobs: Sequence[tuple[str, str]],
    *,
    on_block: Callable[[int, int, int], None] | None = None,
    stop: Any = None,
    **options: Any,
) -> list[Outcome]:
    """Predict several ``(source, output)`` pairs with all their blocks in one queue.

    Every input's blocks are submitted before any is awaited, so the workers
    stay busy across file boundaries instead of idling at the end of each
    file. An input that cannot be opened, or whose blocks fail after dask's
    retries, gets its error in the result; the other inputs finish.
    ``on_block(i, done, total)`` reports progress of input ``i``; ``options``
    are those of :func:`submit`.
    """
    from distributed import as_completed

    runs: list[Submitted | BaseException] = []
    owner: dict[str, int] = {}
    for i, (source, output) in enumerate(jobs):
        try:
            run = submit(client, checkpoint, source, output, **options)
        except Exception as err:  # noqa: BLE001 - a bad input is reported, the others run
            runs.append(err)
            continue
        runs.append(run)
        owner.update({f.key: i for f in run.futures})
    done = [len(r.blocks) - len(r.todo) if isinstance(r, Submitted) else 0 for r in runs]
    ended = {i: r.start for i, r in enumerate(runs) if isinstance(r, Submitted)}
    failed: dict[int, BaseException] = {}
    futures = [f for r in runs if isinstance(r, Submitted) for f in r.futures]
    for future in as_completed(futures):
        i = owner[future.key]
        ended[i] = time.perf_counter()
        if future.status == "error":
            failed.setdefault(i, future.exception())
        else:
            done[i] += 1
            if on_block:
                on_block(i, done[i], len(runs[i].blocks))  # type: ignore[union-attr]
        if stop is not None and stop.is_set():
            client.cancel(futures)
            break
    outcomes: list[Outcome] = []
    for i, run in enumerate(runs):
        if isinstance(run, BaseException):
            outcomes.append((None, run))
            continue
        summary = finish(client, run, ended[i] - run.start)
        outcomes.append((summary, failed.get(i)))
    return outcomes


def _completed(futures: Any) -> Iterator[Any]:
    for future in futures:
        future.result()
        yield future
