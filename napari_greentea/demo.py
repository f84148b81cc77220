"""Demos: the napari GUI with everything docked, and a headless end-to-end run.

:func:`headless_demo` never imports Qt or napari, so ``greentea demo`` works
on servers and in CI; :func:`launch_gui` imports napari only when called.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _isbi_available() -> bool:
    folder = os.environ.get("GREENTEA_DATA_DIR")
    return bool(folder) and (Path(folder) / "train-volume.tif").exists()


def launch_gui(sample: str = "auto") -> Any:
    """Open napari with Annotate/Train/Predict docked and a sample loaded.

    ``sample``: ``auto`` (ISBI 2012 when ``GREENTEA_DATA_DIR`` holds it, else
    synthetic), ``isbi`` or ``synthetic``. Blocks in ``napari.run()``.
    """
    import napari
    from napari.layers import Layer

    from . import _samples
    from .widgets._annotate import AnnotateWidget
    from .widgets._predict import PredictWidget
    from .widgets._train import TrainWidget

    use_isbi = sample == "isbi" or (sample == "auto" and _isbi_available())
    layers = _samples.isbi_train_sample() if use_isbi else _samples.synthetic_sample()
    viewer = napari.Viewer(title="Greentea")
    for data, meta, kind in layers:
        viewer.add_layer(Layer.create(data, meta, kind))
    viewer.layers.selection.active = viewer.layers[0]
    for name, cls in (("Annotate", AnnotateWidget), ("Train", TrainWidget),
                      ("Predict", PredictWidget)):
        viewer.window.add_dock_widget(cls(viewer), name=name, area="right", tabify=True)
    napari.run()
    return viewer


def headless_demo(out_dir: Path, seconds: float = 60, backend: str | None = None) -> dict:
    """Scribbles -> train the interactive U-Net for ``seconds`` -> predict -> files.

    Trains on a 512x512 synthetic image with ~1.5 % of its pixels scribbled
    (as a user would paint them), stops when the time is up, predicts the
    training image and a held-out synthetic image, and reports the held-out
    pixel accuracy (dense ground truth) so the run says whether it worked.
    """
    from .backend import backend_label
    from .config import TrainConfig
    from .data.scribbles import scribbles_from_ground_truth
    from .events import IterationDone
    from .io import write_png_preview, write_tiff
    from .models import preset
    from .predict import predict_image
    from .sample import CLASS_NAMES, synthetic_membranes
    from .train import LabeledImage, Trainer

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    image, truth = synthetic_membranes((512, 512), seed=0)
    scribbles = scribbles_from_ground_truth(truth, seed=0)
    trainer = Trainer(preset("u", "interactive"), [LabeledImage(image, scribbles)],
                      train=TrainConfig(iterations=10_000_000), backend=backend,
                      class_names=CLASS_NAMES)
    deadline = time.monotonic() + seconds
    loss = float("nan")
    for event in trainer.run():  # stop cooperatively: the run saves nothing half-written
        if isinstance(event, IterationDone):
            loss = event.loss
            if event.iteration % 50 == 0:
                log.info("iteration %d loss %.4f", event.iteration, event.loss)
        if time.monotonic() >= deadline:
            trainer.stop()
    prob = predict_image(trainer.predict, trainer.graph, image, preprocess=trainer.preprocess)
    held_image, held_truth = synthetic_membranes((512, 512), seed=1)
    held = predict_image(trainer.predict, trainer.graph, held_image,
                         preprocess=trainer.preprocess)
    pred = held.argmax(0) + 1
    accuracy = float((pred == held_truth).mean())
    recall = {name: float((pred[held_truth == c] == c).mean())
              for c, name in enumerate(CLASS_NAMES, start=1)}
    return {
        "probability": str(write_tiff(out_dir / "probability.tif", prob)),
        "preview": str(write_png_preview(out_dir / "preview.png", image, prob)),
        "model": str(trainer.checkpoint().save(out_dir / "model.npz")),
        "iterations": trainer.iteration,
        "final_loss": loss,
        "labeled_fraction": float(np.mean(scribbles > 0)),
        "heldout_pixel_accuracy": accuracy,
        "heldout_recall": recall,
        "backend": backend_label(trainer.backend),
    }
