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


def predict_distributed(
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
    on_block: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
    stop: Any = None,
    channel_axis: int | None = None,
    channels: Sequence[int] | None = None,
) -> DistributedSummary:
    """Predict ``source`` (zarr/TIFF/npy path) into the zarr store ``output``.

    ``channel_axis``/``channels`` choose the input channels as
    :func:`channels.model_input` does (default: the checkpoint's).

    ``on_block(done, total)`` is called as blocks finish (progress bar).
    Reruns skip blocks already written, after checking that the store is a
    prediction of the same model and image. Raises ``ValueError`` if
    ``output`` exists with another shape/block/model/image (``overwrite``
    replaces a store this project wrote), ``PermissionError`` if read-only.
    ``stop`` (a ``threading.Event``) cancels the blocks not yet finished.
    """
    from distributed import as_completed

    from .checkpoint import Checkpoint
    from .models import dense_graph
    from .store import input_fingerprint, model_fingerprint

    checkpoint, source, output = (os.fspath(p) for p in (checkpoint, source, output))
    ckpt = Checkpoint.load(checkpoint)
    preprocess: PreprocessConfig = ckpt.preprocess
    if preprocess.clahe:
        raise ValueError("CLAHE needs whole slices in memory; it is not supported distributed")
    graph = dense_graph(ckpt.spec)
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
    prob, done = create_sink(output, shape, graph.num_classes, geometry.block, dtype=dtype,
                             attrs={"graph": graph.description, "checkpoint": checkpoint},
                             overwrite=overwrite, provenance=provenance, inputs=(source,))
    blocks = plan_blocks(shape, geometry.block)
    todo = pending_blocks(blocks, done, prob)
    zs = sorted({b.z for b in todo}, key=lambda z: -1 if z is None else z)
    norms = {z: [(n.lo, n.hi) for n in channel_stats(image, z, preprocess)] for z in zs}
    start = time.perf_counter()
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
    for n, _ in enumerate(_completed(as_completed(futures)), start=1):
        if on_block:
            on_block(len(blocks) - len(todo) + n, len(blocks))
        if stop is not None and stop.is_set():
            client.cancel(futures)
            break
    seconds = time.perf_counter() - start
    prob, done = _open_output(output)
    remaining = pending_blocks(blocks, done, prob)
    mark_complete(prob, not remaining)
    left = {b.index for b in remaining}
    computed = [b for b in todo if b.index not in left]
    pixels = sum((b.y[1] - b.y[0]) * (b.x[1] - b.x[0]) for b in computed)
    return DistributedSummary(
        len(blocks), len(computed), len(blocks) - len(todo), seconds,
        pixels / seconds if seconds else 0.0, len(client.scheduler_info()["workers"]),
        len(remaining),
    )


def _completed(futures: Any) -> Iterator[Any]:
    for future in futures:
        future.result()
        yield future
