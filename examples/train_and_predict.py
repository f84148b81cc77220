"""Train the interactive U-Net on the synthetic sample's scribbles, then predict.

Run: .venv/bin/python examples/train_and_predict.py [backend]
"""

from __future__ import annotations

import logging
import sys

import numpy as np

from napari_greentea.backend import backend_label
from napari_greentea.config import TrainConfig
from napari_greentea.data.scribbles import scribbles_from_ground_truth
from napari_greentea.models import preset
from napari_greentea.predict import predict_image
from napari_greentea.sample import synthetic_membranes
from napari_greentea.train import LabeledImage, Trainer

logging.basicConfig(level=logging.WARNING)
backend = sys.argv[1] if len(sys.argv) > 1 else None
image, truth = synthetic_membranes((256, 256), seed=0)
scribbles = scribbles_from_ground_truth(truth, seed=0)
trainer = Trainer(preset("u"), [LabeledImage(image, scribbles)],
                  train=TrainConfig(iterations=100, batch_size=2, output_size=64),
                  backend=backend)
model = trainer.fit()
test_image, test_truth = synthetic_membranes((256, 256), seed=1)
prob = predict_image(trainer.predict, trainer.graph, test_image)
accuracy = float(((prob.argmax(0) + 1) == test_truth).mean())
sys.stdout.write(f"{backend_label(trainer.backend)}: held-out pixel accuracy {accuracy:.3f}\n")
assert np.isfinite(prob).all()
