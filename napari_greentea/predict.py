"""Exact, memory-bounded tiled prediction into a block-chunked zarr array.

Geometry: the image is conceptually mirror-padded ('symmetric', the paper's
reflect border) without limit. An output block of edge ``B`` starting at
image pixel ``(oy, ox)`` reads the input window starting at
``(oy - lo, ox - lo)`` with ``lo = context // 2`` and size ``O + context``,
where ``O >= B`` is the smallest output the network accepts; the first ``B``
outputs are kept. Block origins are multiples of ``B``, and ``B`` is a
multiple of the network's pooling stride, so every pixel is computed with the
same pooling phase and the same input values as in one whole-image pass:
tiled output equals untiled output.

Output layout: ``(C, Y, X)`` for 2-D images, ``(C, Z, Y, X)`` for stacks,
float32 class probabilities (or uint8 = round(255 p)). A multi-channel input
(``channels.ChannelImage``) has the spatial shape of its channels, so its
output has the same layout; each window stacks the chosen channels.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .channels import as_channels, channel_planes, check_count
from .config import ModelSpec, PreprocessConfig
from .events import BlockWritten, PredictEvent, PredictionFinished, PredictionStarted
from .graph import Graph
from .io import unit_to_uint8
from .preprocess import SliceNorm, channel_stats, check_image, clahe_slice

if TYPE_CHECKING:
    from .backend import Backend, Predictor
    from .checkpoint import Checkpoint

log = logging.getLogger(__name__)

#: Output block edge (pixels) of every prediction runner unless told otherwise.
DEFAULT_BLOCK = 256
DONE_ARRAY = "done"
PROB_ARRAY = "prob"


@dataclass(frozen=True)
class Block:
    """One output block: slice ``z`` (None for 2-D), image extent, grid position."""

    index: int
    z: int | None
    y: tuple[int, int]
    x: tuple[int, int]
    grid: tuple[int, int]


@dataclass(frozen=True)
class TileGeometry:
    """How a block edge maps to the network's input/output tile."""

    block: int
    net_output: int
    net_input: int
    lo: int

    @classmethod
    def for_graph(cls, graph: Graph, block: int) -> TileGeometry:
        if int(block) < 1:
            raise ValueError(f"block edge must be a positive number of pixels, got {block}")
        factor = graph.stride_factor
        block = max(factor, math.ceil(block / factor) * factor)
        net_input = graph.input_size_for(block)
        net_output = graph.output_size(net_input)
        return cls(block, net_output, net_input, graph.context // 2)


def plan_blocks(shape: Sequence[int], block: int) -> list[Block]:
    """Blocks of edge ``block`` covering a (Y, X) or (Z, Y, X) image, row-major."""
    height, width = shape[-2:]
    zs: list[int | None] = [None] if len(shape) == 2 else list(range(shape[0]))
    blocks = []
    for z in zs:
        for gy, y0 in enumerate(range(0, height, block)):
            for gx, x0 in enumerate(range(0, width, block)):
                blocks.append(
                    Block(
                        len(blocks),
                        z,
                        (y0, min(y0 + block, height)),
                        (x0, min(x0 + block, width)),
                        (gy, gx),
                    )
                )
    return blocks


def symmetric_indices(start: int, stop: int, size: int) -> np.ndarray:
    """Source indices of padded positions ``start..stop-1`` ('symmetric' mirror)."""
    idx = np.arange(start, stop) % (2 * size)
    return np.where(idx >= size, 2 * size - 1 - idx, idx)


def read_window(plane: Any, y0: int, x0: int, size: int) -> np.ndarray:
    """A ``size`` x ``size`` window at image coords (y0, x0), mirror-padded.

    Reads only the bounding box of the needed source pixels, so lazy
    sources (zarr, dask, memmap) stay lazy.
    """
    height, width = plane.shape[-2:]
    rows = symmetric_indices(y0, y0 + size, height)
    cols = symmetric_indices(x0, x0 + size, width)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    box = np.asarray(plane[r0:r1, c0:c1])
    return box[np.ix_(rows - r0, cols - c0)]


class SliceSource:
    """Normalised, mirror-padded windows of one slice, one plane per channel.

    ``norms`` (one per plane) map raw intensities to the network's range;
    compute them once per slice (:meth:`for_slice`) so every block of the
    slice sees the same numbers as a whole-image pass.
    """

    def __init__(self, planes: Sequence[Any], norms: Sequence[SliceNorm]) -> None:
        if len(planes) != len(norms):
            raise ValueError(f"{len(planes)} channel planes but {len(norms)} normalisations")
        self.planes, self.norms = list(planes), list(norms)

    @classmethod
    def for_slice(cls, image: Any, z: int | None, config: PreprocessConfig) -> SliceSource:
        """Slice ``z`` of ``image`` (CLAHE needs the whole slice in memory)."""
        planes = [p if z is None else p[z] for p in channel_planes(image)]
        norms = list(channel_stats(image, z, config))
        if config.clahe:
            planes = [clahe_slice(np.asarray(p), n, config.clahe_clip)
                      for p, n in zip(planes, norms, strict=True)]
            norms = [SliceNorm(-1.0, 1.0)] * len(planes)
        return cls(planes, norms)

    def window(self, y0: int, x0: int, size: int) -> np.ndarray:
        """``(C, size, size)`` float32: every channel's window, normalised."""
        return np.stack([norm.apply(read_window(plane, y0, x0, size))
                         for plane, norm in zip(self.planes, self.norms, strict=True)])


def z_index(z: int | None) -> tuple[int, ...]:
    """The leading index of slice ``z`` in a (C, [Z,] Y, X) array: () for 2-D."""
    return () if z is None else (z,)


def to_dtype(prob: np.ndarray, dtype: str) -> np.ndarray:
    """Probabilities as stored: float32 as they are, uint8 as round(255 p)."""
    return unit_to_uint8(prob) if dtype == "uint8" else prob


def predict_block(
    predictor: Callable[[np.ndarray], np.ndarray],
    source: SliceSource,
    blk: Block,
    geometry: TileGeometry,
    sink: Any,
    done: Any = None,
    dtype: str = "float32",
) -> None:
    """Predict one block, write it into ``sink`` and set its ``done`` flag.

    The one block body of every runner: the local job, the napari widget's
    view-first stream (through the job) and the dask task.
    """
    y0, x0 = blk.y[0] - geometry.lo, blk.x[0] - geometry.lo
    prob = predictor(source.window(y0, x0, geometry.net_input)[None])[0]
    out = to_dtype(prob[:, : blk.y[1] - blk.y[0], : blk.x[1] - blk.x[0]], dtype)
    zsel = z_index(blk.z)
    sink[(slice(None), *zsel, slice(*blk.y), slice(*blk.x))] = out
    if done is not None:
        done[(*zsel, *blk.grid)] = 1


def predict_blocks(
    predictor: Callable[[np.ndarray], np.ndarray],
    image: Any,
    sink: Any,
    blocks: Iterable[Block],
    geometry: TileGeometry,
    *,
    preprocess: PreprocessConfig | None = None,
    done: Any = None,
    dtype: str = "float32",
) -> Iterator[BlockWritten]:
    """Predict ``blocks`` of ``image`` into ``sink``; yield one event per block.

    ``sink`` is any array-like of shape (C, [Z,] Y, X) supporting slice
    assignment (a zarr array whose chunks equal the block). ``done``
    (optional, shape ([Z,] ny, nx)) is set to 1 after each block is written
    so an interrupted run can resume. ``blocks`` is consumed lazily, one
    block at a time, so a queue that reorders itself while running (the
    napari widget follows the view) is honoured; ``total`` in the events is
    its ``len()`` at the start when it has one.
    """
    preprocess = preprocess or PreprocessConfig()
    source: SliceSource | None = None
    current: int | None = None
    total = len(blocks) if isinstance(blocks, Sized) else 0
    for n, blk in enumerate(blocks, start=1):
        if source is None or blk.z != current:  # one slice at a time keeps memory bounded
            source, current = SliceSource.for_slice(image, blk.z, preprocess), blk.z
        predict_block(predictor, source, blk, geometry, sink, done, dtype)
        yield BlockWritten(blk.index, n, total, blk.z, blk.y, blk.x)


def create_sink(
    path: str | os.PathLike[str] | None,
    shape: Sequence[int],
    num_classes: int,
    block: int,
    *,
    dtype: str = "float32",
    attrs: dict[str, Any] | None = None,
    overwrite: bool = False,
    provenance: dict[str, Any] | None = None,
    inputs: tuple[Any, ...] = (),
    scale: Sequence[float] | None = None,
    units: Sequence[str] | None = None,
) -> tuple[Any, Any]:
    """Create (or reopen for resume) the zarr group holding ``prob`` and ``done``.

    ``prob`` has chunks equal to the output block, so every block write is
    independent. Reopening an existing store with another shape, block or
    class count, or (``provenance``: ``model`` fingerprint and ``input``
    fingerprint, see :mod:`store`) of another model or image, raises
    ``ValueError`` instead of mixing predictions. ``overwrite`` deletes only
    a store this project wrote, never one of ``inputs`` or a folder holding one.
    """
    import zarr

    from .store import check_output_path, check_same_origin, remove_partials, remove_store

    shape = tuple(int(s) for s in shape)
    prob_shape = (num_classes, *shape)
    chunks = (1, *([1] * (len(shape) - 2)), block, block)
    grid = (*shape[:-2], math.ceil(shape[-2] / block), math.ceil(shape[-1] / block))
    store: Any = zarr.storage.MemoryStore() if path is None else str(path)
    meta = {"block": block, "shape": list(shape), "num_classes": num_classes, "dtype": dtype}
    if path is not None:
        check_output_path(path, inputs)
        if overwrite:
            remove_store(path, inputs)
    if path is not None and os.path.exists(path):
        group = _open_existing(path)
        old = dict(group.attrs.get("greentea", {}))
        mismatch = {k: (old.get(k), v) for k, v in meta.items() if old.get(k) != v}
        if mismatch:
            raise ValueError(
                f"output {path} exists with different settings "
                f"{ {k: f'{a} (existing) vs {b} (new)' for k, (a, b) in mismatch.items()} }; "
                "choose another path or pass overwrite=True"
            )
        check_same_origin(path, old, provenance or {})
        remove_partials(path)
        return group[PROB_ARRAY], group[DONE_ARRAY]
    group = zarr.open_group(store, mode="w")
    fill = np.nan if dtype == "float32" else 0
    prob = group.create_array(
        PROB_ARRAY, shape=prob_shape, chunks=chunks, dtype=dtype, fill_value=fill
    )
    done = group.create_array(
        DONE_ARRAY, shape=grid, chunks=(1,) * len(grid), dtype="uint8", fill_value=0
    )
    group.attrs["greentea"] = {**meta, **(attrs or {}), **(provenance or {}), "complete": False}
    if path is not None:
        from .ngff_store import write_metadata

        write_metadata(group, PROB_ARRAY, scale=scale, units=units)
    return prob, done


def _open_existing(path: str | os.PathLike[str]) -> Any:
    """An existing prediction store opened for resuming; clear errors for anything else."""
    import zarr

    try:
        group = zarr.open_group(str(path), mode="r+")
        arrays = set(group.array_keys())
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"output {path} exists but is not a prediction store ({err}); "
            "choose another output"
        ) from err
    if "greentea" not in group.attrs or not {PROB_ARRAY, DONE_ARRAY} <= arrays:
        raise ValueError(
            f"output {path} exists but was not written by napari-greentea; choose another output"
        )
    return group


def mark_complete(sink: Any, complete: bool = True) -> None:
    """Record in the store whether every block has been written.

    A store on disk that becomes complete gets its OME-Zarr overview levels
    (written from the finished level 0); an incomplete one lists level 0 only.
    """
    import zarr

    parent = sink.path.rpartition("/")[0]
    group = zarr.open_group(sink.store, path=parent, mode="r+")
    meta = dict(group.attrs.get("greentea", {}))
    if meta.get("complete") != complete and not isinstance(sink.store, zarr.storage.MemoryStore):
        from .ngff_store import drop_levels, write_levels, write_metadata

        # levels before the flag: a run killed in between recomputes them on rerun
        levels = write_levels(group, PROB_ARRAY, meta["block"]) if complete else []
        if not complete:
            drop_levels(group)
        write_metadata(group, PROB_ARRAY, levels=levels, scale=meta.get("scale"),
                       units=meta.get("units"))
        meta = dict(group.attrs.get("greentea", {}))
    meta["complete"] = complete
    group.attrs["greentea"] = meta


def pending_blocks(blocks: Sequence[Block], done: Any, prob: Any = None) -> list[Block]:
    """Blocks still to compute (for resume).

    A block is pending if its ``done`` flag is unset, or (when ``prob`` is
    given) if its chunk cannot be read back (damaged: it is recomputed, with
    a warning) or, for float sinks, was deleted: a missing chunk reads as the
    NaN fill value.
    """
    flags = np.asarray(done[...])
    check = prob is not None
    floating = check and np.dtype(prob.dtype).kind == "f"
    todo = []
    for b in blocks:
        zsel = z_index(b.z)
        if not flags[(*zsel, *b.grid)]:
            todo.append(b)
            continue
        if not check:
            continue
        try:
            corner = prob[(slice(None), *zsel, b.y[0], b.x[0])]
        except Exception as err:  # noqa: BLE001 - any codec error means: recompute it
            log.warning("block %s of %s is damaged (%s); computing it again",
                        (*zsel, *b.grid), getattr(prob, "store", "the store"), err)
            todo.append(b)
            continue
        if floating and np.isnan(corner).any():
            todo.append(b)
    return todo


class PredictionJob:
    """A prediction of one image into one sink; resumable and reorderable.

    The sink exists as soon as the job is created (the napari widget shows
    it at once); :meth:`run` fills it block by block, skipping blocks that
    an earlier, interrupted run already wrote.
    """

    def __init__(
        self,
        predictor: Callable[[np.ndarray], np.ndarray],
        graph: Graph,
        image: Any,
        *,
        block: int = DEFAULT_BLOCK,
        output: str | os.PathLike[str] | None = None,
        preprocess: PreprocessConfig | None = None,
        dtype: str = "float32",
        overwrite: bool = False,
        attrs: dict[str, Any] | None = None,
        model_fingerprint: str | None = None,
        source: str | os.PathLike[str] | None = None,
        scale: Sequence[float] | None = None,
        units: Sequence[str] | None = None,
    ) -> None:
        from .store import input_fingerprint

        image = as_channels(image)
        check_count(image, graph.in_channels)
        self.shape = check_image(image)
        self.predictor = predictor
        self.image = image
        self.preprocess = preprocess
        self.dtype = dtype
        self.path = None if output is None else os.fspath(output)
        self.geometry = TileGeometry.for_graph(graph, block)
        provenance: dict[str, Any] = {}
        if self.path is not None:
            provenance["input"] = input_fingerprint(image, source)
            if model_fingerprint:
                provenance["model"] = model_fingerprint
        self.created = self.path is None or not os.path.exists(self.path) or overwrite
        self.prob, self.done = create_sink(
            output,
            self.shape,
            graph.num_classes,
            self.geometry.block,
            dtype=dtype,
            attrs={"graph": graph.description, **(attrs or {})},
            overwrite=overwrite,
            provenance=provenance,
            inputs=(source,),
            scale=scale,
            units=units,
        )
        self.blocks = plan_blocks(self.shape, self.geometry.block)
        #: Blocks an earlier run already wrote (resume), counted when the job is made.
        self.reused = 0 if self.created else len(self.blocks) - len(self.pending())

    def pending(self) -> list[Block]:
        return pending_blocks(self.blocks, self.done, self.prob)

    def discard(self) -> None:
        """Delete the store this job created (a failed first run leaves nothing behind)."""
        from .store import remove_store

        if self.path is not None and self.created:
            remove_store(self.path)

    def run(self, order: Iterable[Block] | None = None) -> Iterator[PredictEvent]:
        """Predict pending blocks (in ``order`` if given); yield events.

        ``order`` is consumed lazily, so a queue that reorders itself while
        the job runs (the napari widget follows the view) is honoured.
        """
        todo: Iterable[Block] = self.pending() if order is None else order
        pending = len(todo) if isinstance(todo, Sized) else len(self.pending())
        yield PredictionStarted(len(self.blocks), len(self.blocks) - pending, self.path)
        start = time.perf_counter()
        written = 0
        try:
            for event in predict_blocks(
                self.predictor,
                self.image,
                self.prob,
                todo,
                self.geometry,
                preprocess=self.preprocess,
                done=self.done,
                dtype=self.dtype,
            ):
                written += 1
                yield event
        except Exception:
            if self.created and not written:
                self.discard()
            raise
        mark_complete(self.prob, not self.pending())
        yield PredictionFinished(self.path, written, time.perf_counter() - start)


def predict_image(
    predictor: Callable[[np.ndarray], np.ndarray],
    graph: Graph,
    image: Any,
    **kwargs: Any,
) -> Any:
    """Predict a whole image; return the probabilities.

    With ``output=None`` the result is an in-memory numpy array; otherwise the
    zarr array stored at ``output``. Keyword arguments as :class:`PredictionJob`.
    """
    job = PredictionJob(predictor, graph, image, **kwargs)
    for event in job.run():
        log.debug("%s", event)
    return np.asarray(job.prob[...]) if job.path is None else job.prob


def build_predictor(
    model: Checkpoint | ModelSpec,
    backend: str | Backend | None = None,
    device: str | None = None,
    *,
    seed: int = 0,
    tta: bool = False,
    bf16: bool = False,
) -> Predictor:
    """A predictor of the dense graph of a checkpoint (its weights) or of a
    spec (fresh weights from ``seed``) on ``backend``; ``.graph`` is the graph.

    ``tta``: average over the 8 flips and rotations of each window
    (:class:`~napari_greentea.tta.DihedralAverage`, 8 forward passes).
    ``bf16``: bfloat16 autocast (torch only; probabilities stay float32 and
    differ from float32 ones by up to ~1e-2; OpenCL raises ``ValueError``).
    """
    from .backend import get_backend
    from .checkpoint import Checkpoint
    from .models import dense_graph
    from .weights import init_weights

    spec = model.spec if isinstance(model, Checkpoint) else model
    graph = dense_graph(spec)
    weights = model.weights if isinstance(model, Checkpoint) else init_weights(graph, seed)
    predictor = get_backend(backend, device).build(graph, weights, bf16=bf16)
    if tta:
        from .tta import DihedralAverage

        return DihedralAverage(predictor, graph)
    return predictor
