"""Training iterations inside napari with the live preview on: adaptive vs fixed torch threads.

Run under Xvfb: ``xvfb-run -a python benchmarks/bench_gui_train.py [--seconds 60]
[--order adaptive,default,adaptive,default] [--interval-ms 1000]``; each entry
of ``--order`` is one fresh process (so the runs are interleaved, not
batched) and writes one line of ``benchmarks/results/gui_train.jsonl``. An
entry ``policy@DIR`` imports napari_greentea from the source tree ``DIR``
(e.g. a ``git worktree`` of an older commit, recorded as ``code``), so two
versions of the package are compared by the same script in one session.

One run: a napari viewer with the ISBI stack (the synthetic sample when the
data is absent; on ISBI the model is scored on slices 20-29 afterwards),
strokes on 3 % of slices 0-2, the Train widget with its defaults except
background pretraining off and the live preview every
second, as a user watching it would see; iterations are counted for
``--seconds`` from the first iteration. ``default`` sets the widget's thread
policy to torch's default count (all cores), ``adaptive`` keeps the widget's
:class:`~napari_greentea.backend.torch._threads.ThreadTuner`. The longest
gap of a 10 ms timer on the GUI thread and the garbage collections over
30 ms during the window are recorded too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def one_run(policy: str, seconds: float, interval_ms: int) -> dict:
    import numpy as np

    import napari_greentea.widgets._train as train_module

    if policy == "default":
        train_module.ADAPTIVE_THREADS = 0  # the widget's threads setting: torch's default
    sys.path.insert(0, str(Path(__file__).parent))
    import napari
    from bench_gui_stall import Steps, _isbi_or_synthetic
    from napari.layers import Layer
    from qtpy.QtWidgets import QApplication

    from napari_greentea.data.scribbles import scribbles_from_ground_truth
    from napari_greentea.widgets._annotate import AnnotateWidget

    viewer = napari.Viewer()
    steps = Steps(QApplication.instance())
    (img, meta, kind), (gt, gt_meta, gt_kind) = _isbi_or_synthetic()
    viewer.add_layer(Layer.create(img, meta, kind))
    viewer.add_layer(Layer.create(gt, gt_meta, gt_kind))
    annotate = AnnotateWidget(viewer)
    viewer.window.add_dock_widget(annotate, area="right")
    train = train_module.TrainWidget(viewer)
    viewer.window.add_dock_widget(train, area="right")
    steps.spin(180, until=lambda: train._backend_picker.ready)
    train._pretrain_check.value = False
    labels = annotate._on_new_clicked()
    painted = np.zeros_like(labels.data)
    painted[:3] = scribbles_from_ground_truth(np.asarray(gt)[:3], fraction=0.03, seed=0)
    labels.data = painted
    train.preview.timer.setInterval(interval_ms)
    train._iter_spin.value = 10_000_000
    train._start()
    steps.spin(180, until=lambda: train.trainer is not None and train.trainer.iteration > 0)
    first = train.trainer.iteration
    steps.run("training", None, seconds=seconds)
    result = steps.results["training"]
    row = {"policy": policy, "seconds": seconds, "preview_interval_ms": interval_ms,
           "iterations": train.trainer.iteration - first, "previews": train.preview.count,
           "max_gap_ms": round(result["max_gap_ms"]), "p99_gap_ms": round(result["p99_gap_ms"]),
           "gc_pauses_ms": result["gc_pauses_ms"], "loadavg_1min": os.getloadavg()[0],
           "image": str(meta.get("name"))}
    train._on_stop_clicked()
    steps.spin(60, until=lambda: train.worker is None and train.preview.worker is None)
    if np.shape(img)[0] == 30:  # the ISBI stack: score the served weights on slices 20-29
        row.update(_held_out_scores(train.trainer, np.asarray(img[20:30]),
                                    np.asarray(gt[20:30])))
    viewer.close()
    return row


def _held_out_scores(trainer, raw, classes) -> dict:
    """Thinned ISBI V_rand / V_info of the trained model on unseen slices (this run's
    quality at its iteration count; the strokes were on slices 0-2)."""
    from napari_greentea.metrics import isbi_scores
    from napari_greentea.predict import predict_image
    from napari_greentea.sample import CELL

    prob = predict_image(trainer.predict, trainer.graph, raw, preprocess=trainer.preprocess)
    scores = isbi_scores(prob[CELL - 1], classes == CELL)
    return {"v_rand_20_29": round(scores["v_rand"], 4), "v_info_20_29": round(scores["v_info"], 4)}


def _describe(tree: Path) -> str:
    """The commit (and a ``+dirty`` mark) of the source tree a run imported."""
    try:
        head = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(tree)
    return head + ("+dirty" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--order", default="adaptive,default,adaptive,default")
    parser.add_argument("--interval-ms", type=int, default=1000,
                        help="live preview interval (the widget's default is 3000)")
    parser.add_argument("--one", choices=("adaptive", "default"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        import napari_greentea

        row = one_run(args.one, args.seconds, args.interval_ms)
        row["code"] = _describe(Path(napari_greentea.__file__).resolve().parents[1])
        print("ROW " + json.dumps(row), flush=True)
        return
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "gui_train.jsonl"
    for entry in args.order.split(","):
        policy, _, tree = entry.partition("@")
        env = dict(os.environ)
        if tree:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [tree, env.get("PYTHONPATH")]))
        done = subprocess.run([sys.executable, __file__, "--one", policy,
                               "--seconds", str(args.seconds),
                               "--interval-ms", str(args.interval_ms)],
                              capture_output=True, text=True, check=True, env=env)
        line = next(ln[4:] for ln in done.stdout.splitlines() if ln.startswith("ROW "))
        with out.open("a") as f:
            f.write(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M"), **json.loads(line)})
                    + "\n")
        print(line, flush=True)


if __name__ == "__main__":
    main()
