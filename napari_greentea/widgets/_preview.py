"""Live preview: predict the region in view with the model being trained.

A QTimer on the main thread *requests* a preview every few seconds; the
crop is read and predicted in a FunctionWorker, and only the finished
probability map is handed back to the main thread to update one layer.
At most one preview is in flight, so a slow backend never queues work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..predict import z_index
from ._layers import add_layer_unselected, layer_image, spatial_transform, view_crop

PREVIEW_LAYER = "live prediction"


class LivePreview:
    """Periodic view-crop prediction into the ``live prediction`` layer."""

    def __init__(self, viewer: Any, image: Callable[[], Any], trainer: Callable[[], Any],
                 interval_ms: int = 3000) -> None:
        from qtpy.QtCore import QTimer

        self.viewer, self._image, self._trainer = viewer, image, trainer
        self.enabled = True
        self.worker: Any = None
        self.count = 0
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.request)

    def request(self) -> None:
        from napari.qt.threading import create_worker

        image, trainer = self._image(), self._trainer()
        if not self.enabled or trainer is None or image is None or self.worker is not None:
            return
        z, ys, xs = view_crop(self.viewer, image)
        self.worker = create_worker(_predict_crop, trainer, layer_image(image), z, ys, xs)
        self.worker.returned.connect(self._show)
        self.worker.finished.connect(self._done)
        self.worker.start()

    def _done(self) -> None:
        self.worker = None

    def _show(self, result: tuple[np.ndarray, tuple[int, ...]]) -> None:
        prob, offset = result
        image = self._image()
        if image is None:
            return
        spatial = spatial_transform(image)
        scale = spatial["scale"]
        translate = spatial["translate"] + np.asarray(offset) * scale
        if PREVIEW_LAYER in self.viewer.layers:
            layer = self.viewer.layers[PREVIEW_LAYER]
            if not np.array_equal(layer.scale, scale):  # each setter redraws:
                layer.scale = scale  # touch only what changed
            if not np.array_equal(layer.translate, translate):
                layer.translate = translate
            layer.data = prob
        else:  # the image stays active, so the user's brush stays on the labels
            add_layer_unselected(self.viewer, prob, name=PREVIEW_LAYER, colormap="magenta",
                                 opacity=0.8, blending="additive", contrast_limits=(0, 1),
                                 translate=translate, scale=scale)
        self.count += 1


def _predict_crop(trainer: Any, image: Any, z: int | None, ys: tuple[int, int],
                  xs: tuple[int, int]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Worker thread: class-1 probability of the crop and its data offset.

    One torch thread: the preview runs beside training, which has the cores,
    and the GUI thread needs one to draw (two more compute threads on two
    cores froze it past 200 ms while the preview layer was created).
    """
    from ..backend.torch._threads import cap_threads_here
    from ..channels import ChannelImage, channel_planes
    from ..predict import predict_image

    cap_threads_here(1)

    box = (*z_index(z), slice(*ys), slice(*xs))
    crops = [np.asarray(plane[box]) for plane in channel_planes(image)]
    crop = ChannelImage(np.stack(crops), 0) if isinstance(image, ChannelImage) else crops[0]
    prob = predict_image(trainer.predict, trainer.graph, crop, preprocess=trainer.preprocess)
    if z is None:
        return prob[0], (ys[0], xs[0])
    return prob[0][None], (z, ys[0], xs[0])
