"""The whole annotate -> train -> predict loop driven through the widgets."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.config import ADAPTIVE_THREADS
from napari_greentea.sample import synthetic_membranes
from napari_greentea.widgets._annotate import AnnotateWidget
from napari_greentea.widgets._predict import PredictWidget
from napari_greentea.widgets._train import PREVIEW_LAYER, TrainWidget

pytestmark = pytest.mark.gui


def _train(qtbot, train, iterations):
    train._iter_spin.value = iterations
    assert train._start()
    with qtbot.waitSignal(train.worker.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: train.worker is None, timeout=5_000)


def test_annotate_creates_linked_labels(sample_viewer):
    annotate = AnnotateWidget(sample_viewer)
    layer = annotate._on_new_clicked()
    assert layer.name == "synthetic membranes labels"
    assert layer.data.shape == (256, 256) and layer.mode == "paint"
    assert layer.metadata["class_names"] == ["membrane", "cell"]
    assert annotate._on_new_clicked() is layer  # second click re-uses, never duplicates
    layer.data = np.pad(np.ones((10, 10), np.uint8), ((0, 246), (0, 246)))
    assert annotate.counts() == {1: 100}
    assert "membrane: 100" in annotate._counts_label.value
    annotate._classes_edit.value = "edge, inside"
    assert layer.metadata["class_names"] == ["edge", "inside"]


def test_full_loop(sample_viewer, qtbot, tmp_path, paint_scribbles):
    viewer = sample_viewer
    annotate, train, predict = (AnnotateWidget(viewer), TrainWidget(viewer),
                                PredictWidget(viewer))
    paint_scribbles(viewer, annotate)
    train.preview.timer.setInterval(500)  # several live previews within the short run
    _train(qtbot, train, 60)
    assert train.checkpoint.iteration == 60
    assert train.checkpoint.train.threads == ADAPTIVE_THREADS  # the GUI shares the CPU
    # iterations reach the GUI throttled (at most every EVENT_INTERVAL_S), the last always
    points = train.loss_plot.points
    assert len(points) >= 2 and points[-1][0] == 60
    qtbot.waitUntil(lambda: train.preview.count >= 1, timeout=20_000)
    assert viewer.layers[PREVIEW_LAYER].data.ndim == 2

    # predict a held-out image, streamed in small blocks
    held_img, held_gt = synthetic_membranes((256, 256), seed=7)
    held = viewer.add_image(held_img, name="held out")
    predict._image_combo.value = held
    predict._block_spin.value = 32  # 64 blocks
    predict._timer.setInterval(20)  # throttle faster than the default 4 Hz to count refreshes
    predict._output_edit.value = str(tmp_path / "pred.zarr")
    worker = predict._on_predict_clicked()
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    prob = np.asarray(predict.job.prob[...])
    assert prob.shape == (2, 256, 256) and not np.isnan(prob).any()
    assert [lyr.data.shape for lyr in predict.layers] == [(256, 256)] * 2
    assert predict.refresh_count >= 2, "the layer should refresh while blocks stream in"
    pred = prob.argmax(0) + 1
    recall = [(pred[held_gt == c] == c).mean() for c in (1, 2)]
    assert min(recall) > 0.6 and np.mean(recall) > 0.75, recall  # chance is 0.5

    seg = predict._on_segment_clicked()
    with qtbot.waitSignal(seg.finished, timeout=30_000):
        pass
    qtbot.waitUntil(lambda: "held out segmentation" in viewer.layers, timeout=5_000)
    assert viewer.layers["held out segmentation"].data.max() > 5  # several cells

    exp = predict._export(str(tmp_path / "p.tif"))
    with qtbot.waitSignal(exp.finished, timeout=30_000):
        pass
    import tifffile

    assert tifffile.imread(tmp_path / "p.tif").shape == (2, 256, 256)
    saved = train._save(str(tmp_path / "model.npz"))
    fresh = PredictWidget(viewer)
    assert fresh._load(str(saved)).iteration == 60


def test_stop_and_resume(sample_viewer, qtbot, start_long_training):
    viewer = sample_viewer
    _, train = start_long_training(viewer)
    qtbot.waitUntil(lambda: train.trainer is not None and train.trainer.iteration >= 3,
                    timeout=30_000)
    train._on_pause_clicked()
    paused_at = train.trainer.iteration
    qtbot.wait(400)
    assert train.trainer.iteration <= paused_at + 1
    train._on_resume_clicked()  # un-pause
    qtbot.waitUntil(lambda: train.trainer.iteration >= paused_at + 3, timeout=30_000)
    with qtbot.waitSignal(train.worker.finished, timeout=30_000):
        train._on_stop_clicked()
    qtbot.waitUntil(lambda: train.worker is None, timeout=5_000)
    stopped_at = train.checkpoint.iteration
    assert 0 < stopped_at < 100_000
    train._iter_spin.value = stopped_at + 5  # resume from the checkpoint to a new target
    train._on_resume_clicked()
    with qtbot.waitSignal(train.worker.finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: train.worker is None, timeout=5_000)
    assert train.checkpoint.iteration == stopped_at + 5


def test_predict_cancel_and_resume(sample_viewer, qtbot, tmp_path, paint_scribbles):
    viewer = sample_viewer
    annotate, train, predict = (AnnotateWidget(viewer), TrainWidget(viewer),
                                PredictWidget(viewer))
    train._preview_check.value = False
    paint_scribbles(viewer, annotate)
    _train(qtbot, train, 5)
    predict._block_spin.value = 32
    predict._output_edit.value = str(tmp_path / "p.zarr")
    worker = predict._on_predict_clicked()
    assert predict.job is None  # the job is built in the worker, off the GUI thread
    qtbot.waitUntil(lambda: predict.job is not None, timeout=30_000)
    n_blocks = len(predict.job.blocks)
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        qtbot.waitUntil(lambda: len(predict.queue) < n_blocks - 2, timeout=30_000)
        predict._on_cancel_clicked()
    left = len(predict.job.pending())
    assert 0 < left < n_blocks
    written = {b.index for b in predict.job.blocks} - {b.index for b in predict.job.pending()}
    first = next(b for b in predict.job.blocks if b.index in written)
    before = np.asarray(predict.job.prob[0, slice(*first.y), slice(*first.x)]).copy()
    worker = predict._on_resume_clicked()
    assert len(predict.queue.blocks) == left  # only the missing tiles are queued
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    assert not predict.job.pending()
    np.testing.assert_array_equal(
        before, predict.job.prob[0, slice(*first.y), slice(*first.x)])


def test_loop_on_the_isbi_stack(make_napari_viewer, qtbot, monkeypatch):
    """3-D sample: paint on two slices of a crop, train briefly, predict every slice."""
    from pathlib import Path

    from napari_greentea._samples import isbi_train_sample
    from napari_greentea.data.scribbles import scribbles_from_ground_truth

    shared = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "isbi2012"
    if not (shared / "train-volume.tif").exists():
        pytest.skip(f"ISBI 2012 data not found at {shared}")
    monkeypatch.setenv("GREENTEA_DATA_DIR", str(shared))
    viewer = make_napari_viewer()
    (img, img_meta, _), (gt, _, _) = isbi_train_sample()[:2]
    crop = (slice(0, 3), slice(0, 192), slice(0, 160))  # small: a CI-sized run
    image = viewer.add_image(img[crop], **img_meta)
    annotate, train, predict = AnnotateWidget(viewer), TrainWidget(viewer), PredictWidget(viewer)
    labels = annotate._on_new_clicked()
    assert labels.data.shape == (3, 192, 160)
    scribbles = np.zeros(labels.data.shape, np.uint8)
    scribbles[:2] = scribbles_from_ground_truth(gt[crop][:2], fraction=0.05, seed=0)
    labels.data = scribbles
    _train(qtbot, train, 20)
    assert train.checkpoint.iteration == 20
    predict._image_combo.value = image
    predict._block_spin.value = 64
    worker = predict._on_predict_clicked()
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    prob = np.asarray(predict.job.prob[...])
    assert prob.shape == (2, 3, 192, 160) and not np.isnan(prob).any()
    np.testing.assert_allclose(prob.sum(0), 1.0, atol=1e-4)
    np.testing.assert_array_equal(labels.data, scribbles)  # painted labels untouched
