"""The view-first queue and the overview pyramid: pure numpy, no display needed."""

from __future__ import annotations

import numpy as np

from napari_greentea.predict import PredictionJob, plan_blocks
from napari_greentea.widgets._stream import BlockQueue, Pyramid, stream_blocks


def test_blocks_in_view_come_first():
    queue = BlockQueue(plan_blocks((1024, 1024), 128))
    queue.set_focus(None, 900, 100)
    first = queue.pop()
    assert first.y == (896, 1024) and first.x == (0, 128)
    queue.set_focus(None, 10, 1000)  # the camera moved: new region to the front
    assert queue.pop().x == (896, 1024)


def test_visible_slice_comes_first():
    queue = BlockQueue(plan_blocks((3, 256, 256), 128))
    queue.set_focus(2, 0, 0)
    assert [queue.pop().z for _ in range(4)] == [2, 2, 2, 2]


def _mean_predictor(graph):
    def predict(batch):
        lo = graph.context // 2
        out = graph.output_size(batch.shape[-1])
        p = 1 / (1 + np.exp(-batch[:, :1, lo : lo + out, lo : lo + out]))
        return np.concatenate([1 - p, p], 1).astype(np.float32)

    return predict


def test_stream_follows_the_queue_and_fills_the_pyramid():
    from napari_greentea.models import dense_graph, preset

    graph = dense_graph(preset("u"))
    image = np.random.default_rng(0).random((2048, 2048)).astype(np.float32)
    job = PredictionJob(_mean_predictor(graph), graph, image, block=512)
    queue = BlockQueue(job.blocks)
    queue.set_focus(None, 2047, 2047)
    pyramid = Pyramid(job.prob, job.geometry.block, max_edge=512)
    events = stream_blocks(job, queue, pyramid)
    first = next(events)
    assert first.y == (1536, 2048) and first.x == (1536, 2048)
    rest = list(events)
    assert len(rest) == len(job.blocks) - 1 and not job.pending()
    prob = np.asarray(job.prob[...])
    step = pyramid.steps[0]
    np.testing.assert_array_equal(pyramid.levels[0], prob[:, ::step, ::step])


class _CountingArray:
    """A (C, Y, X) array that counts reads (a stand-in for the zarr store)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data, self.shape, self.dtype, self.reads = data, data.shape, data.dtype, 0

    def __getitem__(self, key):
        self.reads += 1
        return self.data[key]


def test_class_view_skips_reading_regions_without_computed_blocks():
    from napari_greentea.widgets._layers import ClassView
    from napari_greentea.widgets._stream import Pyramid

    values = np.random.default_rng(0).random((2, 100, 130)).astype(np.float32)
    store = _CountingArray(values)
    pyramid = Pyramid(values, 32)
    assert pyramid.written.shape == (4, 5)
    view = ClassView(store, 1, written=pyramid.written, block=32)
    empty = view[10:40, 0:64]
    assert empty.shape == (30, 64) and np.isnan(empty).all() and store.reads == 0
    assert view[5, 3:7].shape == (4,) and store.reads == 0
    pyramid.update(None, 32, 32, values[:, 32:64, 32:64])
    np.testing.assert_array_equal(view[10:40, 0:64], values[1, 10:40, 0:64])
    assert store.reads == 1
    assert np.isnan(view[70:, 100:]).all() and store.reads == 1  # still nothing there
    np.testing.assert_array_equal(view[::2, ::3], values[1, ::2, ::3])  # strided: read


def test_pyramid_starts_from_the_blocks_a_store_already_has():
    from napari_greentea.widgets._stream import Pyramid

    done = np.zeros((2, 3, 4), np.uint8)
    done[1, 2, 3] = 1
    pyramid = Pyramid(np.zeros((2, 2, 90, 120), np.float32), 32, done=done)
    assert pyramid.written.sum() == 1 and pyramid.written[1, 2, 3]


def _job(image_size=512, block=128):
    from napari_greentea.models import dense_graph, preset

    graph = dense_graph(preset("u"))
    image = np.random.default_rng(1).random((image_size, image_size)).astype(np.float32)
    return PredictionJob(_mean_predictor(graph), graph, image, block=block)


def test_the_block_in_view_is_computed_before_the_layers_and_the_rest_after():
    import threading
    import time

    from napari_greentea.widgets._stream import Prepared, prepare_and_stream

    job, shown = _job(), threading.Event()
    events = prepare_and_stream(lambda: job, (None, 500, 20), shown, wait_s=30)
    prepared = next(events)
    assert isinstance(prepared, Prepared)
    assert len(job.pending()) == len(job.blocks) - 1  # only the block in view is done
    assert prepared.pyramid.written[3, 0]  # (y 384-512, x 0-128): where the camera is
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(events))
    reader.start()
    time.sleep(0.3)
    assert got == [] and len(job.pending()) == len(job.blocks) - 1  # waiting for the GUI
    shown.set()
    reader.join(30)
    assert len(got) == len(job.blocks) and not job.pending()
    assert (got[0].y, got[0].x) == ((384, 512), (0, 128))


def test_stop_while_the_job_is_built_computes_no_block():
    import threading

    from napari_greentea.widgets._stream import prepare_and_stream

    job, stop = _job(), threading.Event()

    def make():
        stop.set()  # Cancel clicked while the worker builds the job
        return job

    assert list(prepare_and_stream(make, None, threading.Event(), stop=stop)) == []
    assert len(job.pending()) == len(job.blocks)
