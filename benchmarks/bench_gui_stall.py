"""How responsive the napari GUI stays in the annotate -> train -> predict -> segment loop.

Run under Xvfb: ``xvfb-run -a python benchmarks/bench_gui_stall.py [--runs 3]``;
writes ``benchmarks/results/gui_stall.{json,md}``.

A 10 ms QTimer probe on the main thread records the gap between ticks; a
gap much longer than 10 ms is a stall the user would feel. Each step below
gets its own max / p99 gap:

* ``dock annotate|train|predict``: constructing and docking each widget,
  until its backend probe (a worker) has reported;
* ``start``: the Start click and the first 3 s of training (Trainer built in
  its worker); ``first live preview``: until the first preview is shown;
  ``training``: ``--train-seconds`` more with the live preview every second;
* ``predict isbi``: Predict on the ISBI 30x512^2 stack (the synthetic
  sample when the data is absent) until half of it is done;
  ``pan while streaming``: moving the slice and camera while the rest streams;
* ``segment`` and ``export`` (zarr) of that prediction;
* ``predict 16k``: Predict on a ``--size``^2 image (a lazily tiled dask
  array, never materialised) for ``--predict-seconds`` with a far camera
  jump halfway, plus ``first_visible_s``: Predict click -> first layer
  refresh showing a computed block (the user's "first tile").

The 1-minute load average is recorded at the start of every run: timings on
a shared machine are only indicative. ``gc_pauses_ms`` lists the garbage
collections over 30 ms during each step (generation, ms): a full one holds
the GIL and stalls the GUI for as long.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("bench_gui_stall")
RESULTS = Path(__file__).parent / "results"


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
        self._tick()  # a stall that lasts until the end of the step counts too
        self.timer.stop()
        g = np.asarray(self.gaps) * 1000
        return {"max_gap_ms": float(g.max()), "p99_gap_ms": float(np.percentile(g, 99)),
                "median_gap_ms": float(np.median(g)), "ticks": len(g)}


class CollectionTimer:
    """Durations of the garbage collector's runs over 30 ms (any thread): a full
    collection holds the GIL, so it stalls the GUI as long as it runs."""

    def __init__(self) -> None:
        import gc

        self.pauses: list[tuple[int, float]] = []
        self._tic = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._tic = time.perf_counter()
        elif (took := time.perf_counter() - self._tic) > 0.03:
            self.pauses.append((info["generation"], took * 1000))

    def take(self) -> list[tuple[int, float]]:
        pauses, self.pauses = self.pauses, []
        return pauses


COLLECTIONS = CollectionTimer()


class Steps:
    """Runs named steps under the probe and keeps their gap statistics."""

    def __init__(self, app) -> None:
        self.app = app
        self.probe = StallProbe()
        self.collections = COLLECTIONS
        self.results: dict[str, dict] = {}

    def spin(self, seconds: float, until=None) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if until is not None and until():
                return True
            self.app.processEvents()
            time.sleep(0.002)
        return until is None

    def run(self, name: str, action, until=None, seconds: float = 60.0, **extra) -> dict:
        self.collections.take()
        self.probe.start()
        tic = time.perf_counter()
        value = action() if action is not None else None
        click_ms = (time.perf_counter() - tic) * 1000
        reached = self.spin(seconds, until)
        self.results[name] = {**self.probe.stop(), "click_handler_ms": click_ms,
                              "step_s": time.perf_counter() - tic, "completed": reached,
                              "gc_pauses_ms": [(g, round(ms)) for g, ms in self.collections.take()],
                              **extra}
        log.info("%s: %s", name, self.results[name])
        return value


def _isbi_or_synthetic():
    from napari_greentea._samples import isbi_train_sample, synthetic_sample

    try:
        return isbi_train_sample()
    except Exception as err:  # noqa: BLE001 - the data set is optional here
        log.warning("ISBI stack unavailable (%s); using the synthetic sample", err)
        return synthetic_sample((512, 512))


def one_run(args) -> dict:
    import dask.array as da
    import napari
    from napari.layers import Layer
    from qtpy.QtWidgets import QApplication

    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.sample import synthetic_membranes
    from napari_greentea.widgets._annotate import AnnotateWidget
    from napari_greentea.widgets._predict import PredictWidget
    from napari_greentea.widgets._train import TrainWidget

    viewer = napari.Viewer()
    steps = Steps(QApplication.instance())
    (img, img_meta, img_kind), (gt, gt_meta, gt_kind) = _isbi_or_synthetic()
    image_layer = viewer.add_layer(Layer.create(img, img_meta, img_kind))
    viewer.add_layer(Layer.create(gt, gt_meta, gt_kind))
    steps.spin(1)
    widgets = {}
    for name, cls in (("annotate", AnnotateWidget), ("train", TrainWidget),
                      ("predict", PredictWidget)):
        def dock(cls=cls, name=name):
            widgets[name] = cls(viewer)
            viewer.window.add_dock_widget(widgets[name], area="right", name=name)

        picker = lambda name=name: getattr(widgets.get(name), "_backend_picker", None)  # noqa: E731
        steps.run(f"dock {name}", dock, until=lambda p=picker: p() is None or p().ready)
    annotate, train, predict = widgets["annotate"], widgets["train"], widgets["predict"]
    scribbles = scribbles_from_ground_truth(np.asarray(gt)[:3], fraction=0.03, seed=0)
    layer = annotate._on_new_clicked()
    full = np.zeros_like(layer.data)
    full[:3] = scribbles
    layer.data = full

    train.preview.timer.setInterval(1000)
    train._iter_spin.value = 10_000_000
    steps.run("start", train._start, seconds=3)
    steps.run("first live preview", None, until=lambda: train.preview.count >= 1)
    steps.run("training", None, seconds=args.train_seconds)
    iterations = train.trainer.iteration if train.trainer is not None else 0
    steps.run("stop training", train._on_stop_clicked,
              until=lambda: train.worker is None and train.preview.worker is None)

    predict._image_combo.value = image_layer

    def half_done() -> bool:  # the job and queue exist once the worker has prepared them
        return predict.queue is not None and len(predict.queue) <= len(predict.job.blocks) // 2

    steps.run("predict isbi", predict._on_predict_clicked, seconds=args.predict_seconds,
              until=half_done)

    def pan():
        viewer.dims.set_point(0, image_layer.data.shape[0] - 1)
        viewer.camera.center = (0, 100, 400)

    steps.run("pan while streaming", pan, until=lambda: predict.worker is None,
              seconds=args.predict_seconds)
    seg = {}
    steps.run("segment", lambda: seg.setdefault("w", predict._on_segment_clicked()),
              until=lambda: any("segmentation" in lyr.name for lyr in viewer.layers))
    done = {}
    out = Path(tempfile.mkdtemp(prefix="greentea-bench-")) / "export.zarr"
    steps.run("export", lambda: predict._export(str(out)).finished.connect(
        lambda: done.setdefault("ok", True)), until=lambda: "ok" in done)
    if predict.worker is not None:
        predict._on_cancel_clicked()
        steps.spin(60, until=lambda: predict.worker is None)

    tile, _ = synthetic_membranes((1024, 1024), seed=3)
    reps = args.size // 1024
    big = da.tile(da.from_array(tile, chunks=1024), (reps, reps))
    big_layer = viewer.add_image([big, big[::4, ::4], big[::16, ::16]], multiscale=True,
                                 name="big", contrast_limits=(0, 255))
    predict._image_combo.value = big_layer
    viewer.camera.center = (0, args.size * 0.7, args.size * 0.3)
    viewer.camera.zoom = 1.0
    steps.spin(2)
    t0 = {}

    def click_big():
        t0["t"] = time.perf_counter()
        t0["refreshes"] = predict.refresh_count
        return predict._on_predict_clicked()

    steps.run("predict 16k first tile", click_big,
              until=lambda: predict.refresh_count > t0["refreshes"], seconds=120)
    first_visible_s = steps.results["predict 16k first tile"]["step_s"]
    steps.results["predict 16k first tile"]["first_visible_s"] = first_visible_s
    steps.run("predict 16k streaming", None, seconds=args.predict_seconds / 2)
    steps.run("pan 16k while streaming",
              lambda: setattr(viewer.camera, "center", (0, args.size * 0.1, args.size * 0.9)),
              seconds=args.predict_seconds / 2)
    steps.run("cancel 16k", predict._on_cancel_clicked, until=lambda: predict.worker is None)
    viewer.close()
    return {"iterations": iterations, "first_visible_s": first_visible_s,
            "image": str(img_meta.get("name")), "steps": steps.results}


def _markdown(runs: list[dict]) -> str:
    lines = ["| step | " + " | ".join(f"run {i + 1} max / p99 (ms)" for i in range(len(runs)))
             + " |", "|---|" + "---|" * len(runs)]
    for step in runs[0]["steps"]:
        cells = [f"{r['steps'][step]['max_gap_ms']:.0f} / {r['steps'][step]['p99_gap_ms']:.0f}"
                 for r in runs]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines.append("")
    for i, r in enumerate(runs, 1):
        lines.append(f"- run {i}: load average {r['loadavg_1min']:.1f} at start; first visible "
                     f"tile on {r['size']}^2: {r['first_visible_s']:.2f} s; "
                     f"{r['iterations']} training iterations")
    return "\n".join(lines) + "\n"


def main() -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-seconds", type=float, default=20)
    parser.add_argument("--predict-seconds", type=float, default=20)
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        load = os.getloadavg()[0]
        runs.append({"loadavg_1min": load, "size": args.size, **one_run(args)})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gui_stall.json").write_text(json.dumps(runs, indent=2, default=str))
    (RESULTS / "gui_stall.md").write_text(_markdown(runs))
    return runs


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(json.dumps(main(), default=str))
