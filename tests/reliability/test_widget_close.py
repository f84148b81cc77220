"""Item 10: closing a dock widget stops its worker; training saves a checkpoint first."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.widgets._annotate import AnnotateWidget
from napari_greentea.widgets._predict import PredictWidget
from napari_greentea.widgets._train import TrainWidget

pytestmark = pytest.mark.gui


@pytest.fixture
def scribbled_viewer(make_napari_viewer):
    """A viewer with the synthetic sample image and a few scribbled labels."""
    from napari_greentea._samples import synthetic_sample
    from napari_greentea.data.scribbles import scribbles_from_ground_truth

    viewer = make_napari_viewer()
    (img, img_meta, _), (gt, _, _) = synthetic_sample((256, 256), seed=0)
    viewer.add_image(img, **img_meta)
    layer = AnnotateWidget(viewer)._on_new_clicked()
    layer.data = scribbles_from_ground_truth(np.asarray(gt), fraction=0.03, seed=0)
    return viewer


def test_closing_the_train_dock_stops_and_saves(scribbled_viewer, qtbot, tmp_path,
                                               monkeypatch):
    monkeypatch.setenv("GREENTEA_CACHE_DIR", str(tmp_path / "cache"))
    viewer = scribbled_viewer
    train = TrainWidget(viewer)
    viewer.window.add_dock_widget(train)
    train._arch_combo.value = "sk"
    train._iter_spin.value = 1_000_000
    assert train._start()
    qtbot.waitUntil(lambda: train.trainer is not None and train.trainer.iteration > 2,
                    timeout=60_000)
    viewer.window.remove_dock_widget(train.native)
    qtbot.waitUntil(lambda: train.worker is None, timeout=60_000)
    assert train.trainer.iteration < 1_000_000
    saved = Checkpoint.load(train.autosaved)
    assert saved.iteration == train.trainer.iteration
    assert str(tmp_path / "cache") in str(train.autosaved)


def test_closing_the_predict_dock_cancels(scribbled_viewer, qtbot, tmp_path):
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights

    viewer = scribbled_viewer
    big = viewer.add_image(np.random.default_rng(0).random((1024, 1024)).astype(np.float32))
    spec = preset("sk")
    predict = PredictWidget(viewer)
    viewer.window.add_dock_widget(predict)
    predict.checkpoint = Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0))
    predict._image_combo.value = big
    predict._block_spin.value = 32  # 1024 blocks
    predict._output_edit.value = str(tmp_path / "p.zarr")
    worker = predict._on_predict_clicked()
    qtbot.waitUntil(lambda: predict.job is not None
                    and len(predict.job.pending()) < len(predict.job.blocks), timeout=60_000)
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        viewer.window.remove_dock_widget(predict.native)
    left = len(predict.job.pending())
    assert 0 < left < len(predict.job.blocks)
    assert predict.queue.cancelled
