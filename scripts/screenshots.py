"""Screenshots of the plugin for the docs (run under Xvfb: xvfb-run -a python ...).

Opens napari with the three widgets docked on the synthetic sample, trains
with the live preview on and grabs ``docs/images/training.png`` mid-run,
then predicts and grabs ``docs/images/prediction.png``.

``screenshots.py segmentation`` instead trains on scribbles of ISBI 2012
slices 0-4 (``GREENTEA_DATA_DIR`` or the download) for 60 s, predicts the
held-out slice 20, runs the watershed *Segment* and grabs
``docs/images/segmentation.png``; ``screenshots.py segmentation m.npz``
uses a checkpoint trained before instead (e.g. by
``benchmarks/bench_isbi_quality.py --scribbles --save m.npz``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger("screenshots")
OUT = Path(__file__).resolve().parents[1] / "docs" / "images"


def _wait(app, condition: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    if not condition():
        raise TimeoutError("condition not met in time")


def main() -> None:
    import napari
    from napari.layers import Layer
    from qtpy.QtWidgets import QApplication

    from napari_greentea._samples import synthetic_sample
    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.widgets._annotate import AnnotateWidget
    from napari_greentea.widgets._predict import PredictWidget
    from napari_greentea.widgets._train import PREVIEW_LAYER, TrainWidget

    OUT.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(title="Greentea")
    app = QApplication.instance()
    for data, meta, kind in synthetic_sample((512, 512)):
        viewer.add_layer(Layer.create(data, meta, kind))
    annotate, train, predict = AnnotateWidget(viewer), TrainWidget(viewer), PredictWidget(viewer)
    viewer.window.add_dock_widget(annotate, name="Annotate", area="right")
    train_dock = viewer.window.add_dock_widget(train, name="Train", area="right")
    predict_dock = viewer.window.add_dock_widget(predict, name="Predict", area="right",
                                                 tabify=True)
    train_dock.raise_()
    viewer.window.resize(1700, 1150)
    labels = annotate._on_new_clicked()
    gt = np.asarray(viewer.layers["synthetic membranes ground truth"].data)
    labels.data = scribbles_from_ground_truth(gt, seed=0)
    viewer.camera.zoom = 1.6
    viewer.camera.center = (0, 200, 230)
    train._iter_spin.value = 100_000
    train.preview.timer.setInterval(1500)
    train._start()
    _wait(app, lambda: train.trainer is not None and train.trainer.iteration >= 200
          and train.preview.count >= 3, 600)
    _wait(app, lambda: train.preview.worker is None, 30)
    train_dock.raise_()  # tab order settles only after the window is shown
    app.processEvents()
    viewer.screenshot(str(OUT / "training.png"), canvas_only=False)
    log.info("training.png at iteration %d", train.trainer.iteration)
    train._on_stop_clicked()
    _wait(app, lambda: train.worker is None, 60)
    _wait(app, lambda: train.preview.worker is None, 30)
    viewer.layers[PREVIEW_LAYER].visible = False
    labels.visible = False
    predict_dock.raise_()
    predict._block_spin.value = 128
    predict._on_predict_clicked()
    _wait(app, lambda: predict.worker is None, 300)
    predict.layers[0].visible = True
    viewer.reset_view()
    app.processEvents()
    viewer.screenshot(str(OUT / "prediction.png"), canvas_only=False)
    log.info("wrote %s", OUT)
    viewer.close()


def segmentation(seconds: float = 60.0, checkpoint: str | None = None) -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.sample import isbi_labels_to_classes, load_isbi2012
    from napari_greentea.widgets._annotate import AnnotateWidget
    from napari_greentea.widgets._predict import PredictWidget
    from napari_greentea.widgets._train import TrainWidget

    raw = load_isbi2012("train-volume")
    gt = isbi_labels_to_classes(load_isbi2012("train-labels"))
    viewer = napari.Viewer(title="Greentea")
    app = QApplication.instance()
    train_image = viewer.add_image(raw[0:5], name="ISBI slices 0-4")
    annotate, train, predict = AnnotateWidget(viewer), TrainWidget(viewer), PredictWidget(viewer)
    viewer.window.add_dock_widget(annotate, name="Annotate", area="right")
    viewer.window.add_dock_widget(train, name="Train", area="right")
    predict_dock = viewer.window.add_dock_widget(predict, name="Predict", area="right",
                                                 tabify=True)
    viewer.window.resize(1700, 1150)
    labels = annotate._on_new_clicked()
    labels.data = scribbles_from_ground_truth(gt[0:5], fraction=0.015, seed=0)
    log.info("scribbles on %.2f %% of the pixels", 100 * float((labels.data > 0).mean()))
    if checkpoint:  # a model trained before (on a busy machine the GUI run is too slow)
        predict._load(checkpoint)
    else:
        train._preview_check.value = False
        train._iter_spin.value = 10**6
        train._on_start_clicked()
        start = time.monotonic()
        _wait(app, lambda: train.trainer is not None, 120)
        _wait(app, lambda: time.monotonic() - start > seconds, seconds + 60)
        train._on_stop_clicked()
        _wait(app, lambda: train.worker is None, 120)
        log.info("trained %.0f s, %d iterations", seconds, train.checkpoint.iteration)
    held = viewer.add_image(raw[20], name="ISBI slice 20")
    predict._image_combo.value = held
    predict._on_predict_clicked()
    _wait(app, lambda: predict.worker is None and len(predict.layers) == 2, 300)
    predict._on_segment_clicked()
    name = "ISBI slice 20 segmentation"
    _wait(app, lambda: name in viewer.layers, 120)
    for layer in (train_image, labels, *predict.layers):
        layer.visible = False
    viewer.layers[name].opacity = 0.45
    predict_dock.raise_()
    viewer.reset_view()
    app.processEvents()
    viewer.screenshot(str(OUT / "segmentation.png"), canvas_only=False)
    log.info("wrote %s (%d objects)", OUT / "segmentation.png",
             len(np.unique(viewer.layers[name].data)) - 1)
    viewer.close()


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO)
    if sys.argv[1:2] == ["segmentation"]:
        segmentation(checkpoint=sys.argv[2] if len(sys.argv) > 2 else None)
    else:
        main()
