"""How responsive the napari GUI stays while Greentea trains and predicts.

Run under Xvfb: ``xvfb-run -a python benchmarks/bench_gui_stall.py``.

A 10 ms QTimer probe on the main thread records the gap between ticks; a
gap much longer than 10 ms is a stall the user would feel. Measured:

1. training (interactive U-Net, synthetic 512^2 sample, live preview every
   second) for ``--train-seconds``;
2. streaming prediction of a 16384^2 image (a lazily tiled dask array of a
   synthetic 1024^2 tile, shown as a 3-level multiscale layer; ~256 MiB if
   it were materialised, never allocated) for ``--predict-seconds``, with a
   camera jump halfway to check that the new view is computed next;
3. the time from "Predict" to the first block written and to the first
   layer refresh that shows it.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np

log = logging.getLogger("bench_gui_stall")


class StallProbe:
    """Records gaps between 10 ms timer ticks on the Qt main thread."""

    def __init__(self) -> None:
        from qtpy.QtCore import QTimer

        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        g = np.asarray(self.gaps) * 1000
        return {"max_gap_ms": float(g.max()), "p99_gap_ms": float(np.percentile(g, 99)),
                "median_gap_ms": float(np.median(g)), "ticks": len(g)}


def _spin(app, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until and until()):
        app.processEvents()
        time.sleep(0.002)


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-seconds", type=float, default=20)
    parser.add_argument("--predict-seconds", type=float, default=30)
    parser.add_argument("--size", type=int, default=16384)
    args = parser.parse_args()

    import dask.array as da
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_greentea._samples import synthetic_sample
    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.sample import synthetic_membranes
    from napari_greentea.widgets._annotate import AnnotateWidget
    from napari_greentea.widgets._predict import PredictWidget
    from napari_greentea.widgets._train import TrainWidget

    viewer = napari.Viewer()
    app = QApplication.instance()
    (img, img_meta, _), (gt, gt_meta, _) = synthetic_sample((512, 512))
    viewer.add_image(img, **img_meta)
    viewer.add_labels(gt, **gt_meta)
    annotate, train, predict = AnnotateWidget(viewer), TrainWidget(viewer), PredictWidget(viewer)
    for w in (annotate, train, predict):
        viewer.window.add_dock_widget(w, area="right")
    annotate._on_new_clicked().data = scribbles_from_ground_truth(gt, seed=0)
    _spin(app, 1)
    probe = StallProbe()
    results: dict = {}

    # 1. training with live preview
    train.preview.timer.setInterval(1000)
    train._iter_spin.value = 10_000_000
    probe.start()
    tic = time.perf_counter()
    train._start()
    start_call_ms = (time.perf_counter() - tic) * 1000
    _spin(app, args.train_seconds)
    results["training"] = {**probe.stop(), "iterations": train.trainer.iteration,
                           "previews": train.preview.count,
                           "start_click_handler_ms": start_call_ms}
    train._on_stop_clicked()
    _spin(app, 60, until=lambda: train.worker is None and train.preview.worker is None)

    # 2. streaming prediction of a huge, lazily generated image
    tile, _ = synthetic_membranes((1024, 1024), seed=3)
    reps = args.size // 1024
    big = da.tile(da.from_array(tile, chunks=1024), (reps, reps))
    levels = [big, big[::4, ::4], big[::16, ::16]]
    layer = viewer.add_image(levels, multiscale=True, name="big", contrast_limits=(0, 255))
    predict._image_combo.value = layer
    viewer.camera.center = (0, args.size * 0.7, args.size * 0.3)
    viewer.camera.zoom = 1.0
    _spin(app, 2)
    first: dict[str, float] = {}
    order: list = []
    t0 = time.perf_counter()
    predict.worker = None
    orig_block = predict._on_block

    def on_block(event):  # wrap to time the first block reaching the main thread
        first.setdefault("first_block_s", time.perf_counter() - t0)
        first.setdefault("first_block_yx", (event.y, event.x))
        order.append((event.y, event.x))
        orig_block(event)

    probe.start()
    t0 = time.perf_counter()
    predict._on_predict_clicked()
    first["predict_click_handler_ms"] = (time.perf_counter() - t0) * 1000
    predict.worker.yielded.disconnect(orig_block)
    predict.worker.yielded.connect(on_block)
    start_refresh = predict.refresh_count
    _spin(app, 120, until=lambda: predict.refresh_count > start_refresh)
    first["first_refresh_s"] = time.perf_counter() - t0
    _spin(app, args.predict_seconds / 2)
    viewer.camera.center = (0, args.size * 0.1, args.size * 0.9)  # pan far away
    _spin(app, 0.3)
    jump = len(order)
    _spin(app, args.predict_seconds / 2)
    predict._on_cancel_clicked()
    _spin(app, 60, until=lambda: predict.worker is None)
    stall = probe.stop()
    results["prediction"] = {
        **stall, **first, "image": f"{args.size}x{args.size}",
        "blocks_total": len(predict.job.blocks),
        "blocks_done": len(predict.job.blocks) - len(predict.queue),
        "refreshes": predict.refresh_count,
        "view_centre_before_pan_yx": (args.size * 0.7, args.size * 0.3),
        "view_centre_after_pan_yx": (args.size * 0.1, args.size * 0.9),
        "blocks_after_pan_yx": order[jump:jump + 3],
    }
    viewer.close()
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(json.dumps(main(), default=str))
