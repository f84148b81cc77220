"""Sample-data commands for napari's File > Open Sample menu.

Each function returns a list of LayerDataTuples ``(data, attributes,
layer_type)``; this module is pure data and never imports napari, so the
manifest can point at it and the CLI can reuse it. The ISBI samples carry
the citation in ``metadata["citation"]`` because the data licence asks for
it wherever the images are shown.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .sample import (
    CLASS_NAMES,
    ISBI_CITATION,
    isbi_labels_to_classes,
    load_isbi2012,
    synthetic_membranes,
)

#: Label colours (RGBA) per class index; 0 (unlabeled) is transparent.
CLASS_COLORS: dict[int, tuple[float, float, float, float]] = {
    1: (1.0, 0.2, 0.8, 1.0),  # membrane: magenta
    2: (0.2, 0.9, 0.3, 1.0),  # cell: green
    3: (0.2, 0.6, 1.0, 1.0),
    4: (1.0, 0.8, 0.1, 1.0),
    5: (0.1, 0.9, 0.9, 1.0),
    6: (1.0, 0.4, 0.1, 1.0),
}

LayerDataTuple = tuple[Any, dict[str, Any], str]


def _image(data: np.ndarray, name: str, **metadata: Any) -> LayerDataTuple:
    return (data, {"name": name, "metadata": dict(metadata)}, "image")


def _ground_truth(labels: np.ndarray, name: str, image: str, **metadata: Any) -> LayerDataTuple:
    # Ground truth is *not* linked as training labels (no "greentea_image"
    # key): training on dense GT by accident would hide how scribbles work.
    meta = {"class_names": list(CLASS_NAMES), "ground_truth_of": image, **metadata}
    return (labels, {"name": name, "metadata": meta, "visible": False, "opacity": 0.5},
            "labels")


def synthetic_sample(shape: tuple[int, int] = (512, 512), seed: int = 0) -> list[LayerDataTuple]:
    """The offline synthetic EM-like image with its (hidden) ground truth."""
    image, labels = synthetic_membranes(shape, seed=seed)
    name = "synthetic membranes"
    source = f"napari_greentea.sample.synthetic_membranes(shape={shape}, seed={seed})"
    return [
        _image(image, name, source=source),
        _ground_truth(labels, f"{name} ground truth", name, source=source),
    ]


def isbi_train_sample() -> list[LayerDataTuple]:
    """ISBI 2012 training stack (30 slices) and its membrane/cell ground truth."""
    image = load_isbi2012("train-volume")
    labels = isbi_labels_to_classes(load_isbi2012("train-labels"))
    name = "ISBI 2012 train"
    return [
        _image(image, name, citation=ISBI_CITATION),
        _ground_truth(labels, f"{name} ground truth", name, citation=ISBI_CITATION),
    ]


def isbi_test_sample() -> list[LayerDataTuple]:
    """ISBI 2012 test stack (30 slices, no labels published)."""
    return [_image(load_isbi2012("test-volume"), "ISBI 2012 test", citation=ISBI_CITATION)]
