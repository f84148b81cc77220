"""Screenshots of the plugin for the docs (run under Xvfb: xvfb-run -a python ...).

Opens napari with the three widgets docked on the synthetic sample, trains
with the live preview on and grabs ``docs/images/training.png`` mid-run,
then predicts and grabs ``docs/images/prediction.png``.
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


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
