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
