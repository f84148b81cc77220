"""Learning from scribbles on ISBI 2012: strokes on slices 0-4, scores on 20-29.

A seeded simulated annotator (``scribbles_from_ground_truth``, brush 3 px)
paints membrane centre lines and cell cores on <= 2 % of the pixels of
slices 0-4. Each method trains on them with the core ``Trainer``;
V_rand / V_info / pixel error (thinned, best threshold,
``napari_greentea.metrics.isbi_scores``) on slices 20-29 are measured at
each time point, with and without test-time augmentation (8 flips and
rotations); the training clock is paused while evaluating. A random forest
on ilastik's filter bank (``forest.py``) runs on the same strokes in the
same run.

Methods: ``new`` = the interactive recipe (``napari_greentea.recipes``);
``old`` = the Train widget's settings before it (softmax, histeq, Adam
1e-3, 128-px patches, batch 2, no held-out strokes, no averaging);
``new-bf16`` = ``new`` with bf16 autocast; ``new-adaptive`` = ``new`` with the
Train widget's adaptive torch thread count (``--threads`` fixes it for the
others); ``pre-both`` = ``pre`` served by the core's keeping rule, with the
previous rule (the latest single held-out score within 0.02 of the best; row
key ``previous_rule``; rows of runs before the core changed hold the mean-of-5
rule under ``smooth`` instead) and the unkept latest weights
(``latest``) scored beside it on the same run; ``pre`` = ``new`` started from
``--pretrain-seconds`` of the Train widget's background pretraining
(``napari_greentea.pretrain``: the network regresses the filter bank of the
image, no labels) on slices 0-19 as ``bounded_sample`` cuts them, seeded
with the stroke seed and run before the strokes' clock starts (its wall
time is reported separately, as ``pretrain_s``); ``start`` / ``start-both`` =
``new`` / ``pre-both`` started from the trained checkpoint ``--start-from``
(every layer, the classifier too: e.g. a model trained on another labeled
stack), with its preprocessing and the recipe's settings for a trained model
(``from_model``: Adam 3e-4 since 2026-11-27; ``--train-extra '{"lr": 0.001}'``
for the earlier runs); time point 0 scores it before any stroke training.

``--busy``: a second process spins one core for the whole run, as napari's
GUI thread and renderer do while the user works (``bench_train_speed._busy``).

``--rounds``: the correction protocol: strokes on 0.5 % of the pixels,
train; then twice: predict slices 0-4, add strokes where the prediction is
most wrong (``correction_scribbles``) up to 2 % in total, continue training
from the served weights; ``--times`` seconds per round. Rounds 2-3 continue the
run (its optimiser state, iteration count and anchor), as the Train widget's
Start with "continue" does; ``--restart-rounds`` starts each round as a new run
from the served weights instead (what this protocol did before 2026-11-27).

Usage:
  python benchmarks/bench_scribbles.py --methods new,old --forest --seeds 0,1,2 \\
      --times 30,60,120,300,600 --tag final
  python benchmarks/bench_scribbles.py --rounds --methods new --seeds 0,1,2 --times 30
Writes benchmarks/results/scribbles_<tag>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import tifffile

from napari_greentea.data.scribbles import correction_scribbles, scribbles_from_ground_truth
from napari_greentea.metrics import isbi_scores
from napari_greentea.sample import isbi_labels_to_classes

DATA = Path(os.environ.get("GREENTEA_DATA_DIR", Path(__file__).resolve().parents[2]
                           / "shared" / "data" / "isbi2012"))
GERHARD = Path(os.environ.get("GREENTEA_GERHARD_DIR", Path(__file__).resolve().parents[2]
                              / "shared" / "data" / "gerhard2013"))
#: Gerhard et al. 2013: Greentea's split (validate on 02, 07, 12, 17) and 2-class mapping
#: (cell = intracellular 255 and mitochondria 191; membranes, junctions, glia and synapses
#: are boundary), as Greentea's own training files for this stack consolidate its labels.
GERHARD_VALIDATION = (2, 7, 12, 17)
GERHARD_CELL = (191, 255)
RESULTS = Path(__file__).parent / "results"
TRAIN, TEST = slice(0, 5), slice(20, 30)
#: The "opened image" pretraining reads: the training part of the stack, never the score slices.
PRETRAIN = slice(0, 20)
OLD = {"train": dict(batch_size=2, output_size=128), "loss": dict(class_balance="histeq")}
#: The backend every method trains on (``--backend``); the quality bars are torch-cpu's.
BACKEND = "torch-cpu"
#: Changes to the interactive recipe's train / loss fields (``--train-extra``, ``--loss-extra``).
TRAIN_EXTRA: dict = {}
LOSS_EXTRA: dict = {}
#: Folder of pretrained weights per seed and budget (``--pretrain-cache``), or None.
PRETRAIN_CACHE: Path | None = None
#: Trained checkpoint the ``start`` methods begin from (``--start-from``), or None.
START_FROM: Path | None = None


def load(dataset: str = "isbi2012"):
    """Raw stack and 2-class labels (1 = membrane, 2 = cell), every pixel labeled.

    ISBI 2012 as stored. Gerhard 2013 reordered so that the same slice ranges
    apply: its 16 training sections first (strokes on the first five: 00, 01,
    03, 04, 05; pretraining on all 16), then the four validation sections as
    slices 16-19 (``--test 16:20``).
    """
    if dataset == "isbi2012":
        raw = tifffile.imread(DATA / "train-volume.tif")
        gt = isbi_labels_to_classes(tifffile.imread(DATA / "train-labels.tif"))
        return raw, gt
    if dataset != "gerhard2013":
        raise SystemExit(f"unknown dataset {dataset!r}: isbi2012 or gerhard2013")
    for name in ("raw.tif", "labels.tif"):
        if not (GERHARD / name).exists():
            raise SystemExit(f"{GERHARD / name} is missing (set GREENTEA_GERHARD_DIR)")
    raw, grey = tifffile.imread(GERHARD / "raw.tif"), tifffile.imread(GERHARD / "labels.tif")
    train = [z for z in range(len(raw)) if z not in GERHARD_VALIDATION]
    order = train + list(GERHARD_VALIDATION)
    gt = np.where(np.isin(grey[order], GERHARD_CELL), 2, 1).astype(np.uint8)
    return raw[order], gt


def scores(cell_prob, truth) -> dict:
    s = isbi_scores(cell_prob, truth == 2)
    return {k: round(v, 4) for k, v in s.items() if isinstance(v, float)}


def strokes(gt, seed: int, fraction: float = 0.02) -> np.ndarray:
    return scribbles_from_ground_truth(gt[TRAIN], fraction=fraction, brush=3, seed=seed)


def make_trainer(method: str, images, labels, seed: int, init=None, resume=None):
    from napari_greentea.config import ADAPTIVE_THREADS, LossConfig, TrainConfig
    from napari_greentea.models import preset
    from napari_greentea.recipes import recipe
    from napari_greentea.train import LabeledImage, Trainer

    if method == "old":
        train = TrainConfig(**OLD["train"], iterations=10**9, seed=seed)
        loss = LossConfig(**OLD["loss"])
    else:
        train, loss = recipe("interactive", train={
            "iterations": 10**9, "seed": seed, "bf16": method.endswith("bf16"),
            "threads": ADAPTIVE_THREADS if "adaptive" in method else 0, **TRAIN_EXTRA},
            loss=LOSS_EXTRA, from_model=method.startswith("start"))
    if resume is not None:  # the Train widget's Start with "continue": same run, more strokes
        return Trainer(resume.spec, [LabeledImage(images, labels)], train=train, loss=loss,
                       backend=BACKEND, resume=resume)
    spec = init.spec if method.startswith("start") else preset("u", "interactive")
    prep = init.preprocess if method.startswith("start") else None
    trainer = Trainer(spec, [LabeledImage(images, labels)], train=train, loss=loss,
                      preprocess=prep, backend=BACKEND, init_from=init)
    if method.endswith("-both") and trainer.held_out is not None:
        trainer.shadow_rule = shadow_keeping(trainer.held_out, **PREVIOUS_RULE)
    return trainer


#: The core's keeping rule before it judged the mean of recent scores.
PREVIOUS_RULE = {"window": 1, "tolerance": 0.02}


def shadow_keeping(held, **rule):
    """A second ``HeldOutStrokes`` with ``rule``'s settings, offered every score that
    ``held`` gets, so one training run scores two keeping rules (``evaluate_shadow``)."""
    from napari_greentea.selection import HeldOutStrokes

    shadow, core_offer = HeldOutStrokes(held.windows, held.targets, **rule), held.offer

    def offer(iteration, score, weights) -> bool:
        shadow.offer(iteration, score, weights)
        return core_offer(iteration, score, weights)

    held.offer = offer
    return shadow


def train_for(trainer, seconds: float) -> float:
    """Continue training for ``seconds`` of wall time (the Trainer's clock)."""
    from napari_greentea.events import Validated

    trainer.train_config = trainer.train_config.replace(seconds=seconds)
    curve = trainer.__dict__.setdefault("held_out_curve", [])
    tic = time.perf_counter()
    for event in trainer.run():
        if isinstance(event, Validated) and "held_out_accuracy" in event.metrics:
            curve.append((event.iteration, round(event.metrics["held_out_accuracy"], 4)))
    return time.perf_counter() - tic


def predict(trainer, raw, tta: bool) -> np.ndarray:
    from napari_greentea.predict import predict_image
    from napari_greentea.tta import DihedralAverage

    predictor = DihedralAverage(trainer.predict, trainer.graph) if tta else trainer.predict
    return predict_image(predictor, trainer.graph, raw, preprocess=trainer.preprocess)


def evaluate(trainer, raw, gt, test, tta: bool = True) -> dict:
    row = scores(predict(trainer, raw[test], False)[-1], gt[test])
    if tta:
        row["tta"] = scores(predict(trainer, raw[test], True)[-1], gt[test])
    held = trainer.held_out
    if held is not None and held.best_iteration is not None:
        row["kept_iteration"] = held.best_iteration
        row["best_held_out_accuracy"] = round(float(held.best_score), 4)
        row["held_out_curve"] = list(getattr(trainer, "held_out_curve", []))
    return row


def pretrain(raw, seed: int, seconds: float) -> tuple[object, float]:
    """The pretrained weights of the interactive U-Net on slices 0-19, and the wall time."""
    from napari_greentea.config import PretrainConfig
    from napari_greentea.data.subsample import bounded_sample
    from napari_greentea.models import preset
    from napari_greentea.pretrain import Pretrained, Pretrainer

    cached = PRETRAIN_CACHE and PRETRAIN_CACHE / f"pre_s{seed}_{seconds:g}s.npz"
    if cached and cached.exists():
        return Pretrained.load(cached), float("nan")
    tic = time.perf_counter()
    pretrainer = Pretrainer([bounded_sample(raw[PRETRAIN])], preset("u", "interactive"),
                            PretrainConfig(seconds=seconds, seed=seed), backend=BACKEND)
    for _ in pretrainer.run():
        pass
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        pretrainer.result().save(cached)
    return pretrainer.result(), time.perf_counter() - tic


def start_weights(method, raw, seed, pretrain_seconds):
    """``(initial checkpoint or None, facts to report)`` of ``method``."""
    if method.startswith("start"):
        from napari_greentea.checkpoint import Checkpoint

        if START_FROM is None:
            raise SystemExit(f"method {method} needs --start-from CHECKPOINT")
        start = Checkpoint.load(START_FROM)
        return start, {"start_from": str(START_FROM), "start_iterations": start.iteration}
    if not method.startswith("pre"):
        return None, {}
    from napari_greentea.models import preset

    result, wall = pretrain(raw, seed, pretrain_seconds)
    init = result.initial_checkpoint(preset("u", "interactive"), seed=seed)
    return init, {"pretrain_s": round(wall, 1), "pretrain_iterations": result.iterations,
                  "pretrain_loss": round(result.loss, 4)}


def run_times(method, raw, gt, labels, seed, times, test, tta=True, save_dir=None,
              pretrain_seconds=300.0) -> list[dict]:
    init, facts = start_weights(method, raw, seed, pretrain_seconds)
    trainer = make_trainer(method, raw[TRAIN], labels, seed, init=init)
    rows, done = [], 0.0
    for point in times:
        wall = train_for(trainer, point - done) if point > done else 0.0
        done = point
        if save_dir:  # the served model, e.g. for bench_segment_isbi.py
            Path(save_dir).mkdir(parents=True, exist_ok=True)
            trainer.checkpoint().save(Path(save_dir) / f"{method}_s{seed}_{point:g}s.npz")
            if method.endswith("-both"):  # and the weights no rule checked
                replace(trainer.checkpoint(), weights=trainer.candidate_weights()).save(
                    Path(save_dir) / f"{method}_s{seed}_{point:g}s_latest.npz")
        row = {"method": method, "seed": seed, "time": point, "iterations": trainer.iteration,
               "segment_wall_s": round(wall, 1), "load": round(os.getloadavg()[0], 2), **facts}
        row.update(evaluate(trainer, raw, gt, test, tta))
        if method.endswith("-both"):
            row["previous_rule"] = evaluate_shadow(trainer, raw, gt, test, tta)
            row["latest"] = evaluate_shadow(trainer, raw, gt, test, tta, latest=True)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def evaluate_shadow(trainer, raw, gt, test, tta: bool, latest: bool = False) -> dict:
    """``evaluate`` with the weights the shadow rule keeps (method ``*-both``), or with
    the latest candidate weights, which no rule checked (``latest``)."""
    held, shadow = trainer.held_out, trainer.shadow_rule
    if held is None or shadow.best_weights is None:
        return {}
    served = held.best_iteration, held.best_weights
    if latest:
        held.best_iteration, held.best_weights = trainer.iteration, trainer.candidate_weights()
    else:
        held.best_iteration, held.best_weights = shadow.best_iteration, shadow.best_weights
    try:
        row = evaluate(trainer, raw, gt, test, tta)
    finally:
        held.best_iteration, held.best_weights = served
    row.pop("held_out_curve", None)
    return row


def run_rounds(method, raw, gt, seed, seconds, test, first=0.005, total=0.02,
               rounds=3, pretrain_seconds=300.0, restart=False) -> list[dict]:
    labels = strokes(gt, seed, first)
    init, facts = start_weights(method, raw, seed, pretrain_seconds)
    trainer, rows = None, []
    for r in range(1, rounds + 1):
        if trainer is not None:
            prob = predict(trainer, raw[TRAIN], False)
            extra = (total - float((labels > 0).mean())) / (rounds - r + 1)
            labels = correction_scribbles(gt[TRAIN], prob, labels, fraction=extra, brush=3)
        if trainer is None:
            trainer = make_trainer(method, raw[TRAIN], labels, seed + 1, init=init)
        elif restart:  # a new run from the served weights: fresh optimiser, new anchor
            trainer = make_trainer(method, raw[TRAIN], labels, seed + r,
                                   init=trainer.checkpoint())
        else:
            trainer = make_trainer(method, raw[TRAIN], labels, seed + 1,
                                   resume=trainer.checkpoint())
        train_for(trainer, seconds)
        row = {"method": method, "protocol": "rounds" + ("-restart" if restart else ""),
               "round": r, "seed": seed,
               "seconds_per_round": seconds, "iterations": trainer.iteration,
               "labeled_fraction": round(float((labels > 0).mean()), 5),
               "load": round(os.getloadavg()[0], 2), **facts}
        row.update(evaluate(trainer, raw, gt, test))
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def run_forest(raw, gt, labels, seed: int, test) -> dict:
    from forest import forest_probability

    tic = time.perf_counter()
    prob = forest_probability(raw[TRAIN], labels, raw[test], seed=seed)
    return {"method": "forest", "seed": seed, "seconds": round(time.perf_counter() - tic, 1),
            **scores(prob, gt[test])}


def markdown(out: dict) -> str:
    lines = [f"# Scribbles benchmark `{out['tag']}`", "",
             (f"{out['machine']}; torch threads {out['threads']}; load at start "
              f"{out['load_start']}; strokes: brush 3 px, seeds {out['seeds']}."), "",
             ("| method | protocol | seed | time s / round | iterations | V_rand | V_rand TTA "
              "| V_info | V_info TTA | pixel error | labeled % | pretrain s | load |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in out["rows"]:
        tta = r.get("tta", {})
        when = r.get("time", r.get("round", ""))
        lines.append(
            f"| {r['method']} | {r.get('protocol', 'time')} | {r['seed']} | {when} | "
            f"{r.get('iterations', '')} | {r['v_rand']:.4f} | {tta.get('v_rand', '')} | "
            f"{r['v_info']:.4f} | {tta.get('v_info', '')} | {r['pixel_error']:.4f} | "
            f"{100 * r.get('labeled_fraction', 0):.2f} | {r.get('pretrain_s', '')} | "
            f"{r.get('load', '')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    import torch

    p = argparse.ArgumentParser()
    p.add_argument("--methods", default="new,old")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--times", default="30,60,120,300,600")
    p.add_argument("--dataset", default="isbi2012", choices=("isbi2012", "gerhard2013"),
                   help="gerhard2013: strokes on training sections 00-05, scores on the "
                   "validation sections with --test 16:20 (see load)")
    p.add_argument("--test", default="20:30", help="evaluation slices lo:hi")
    p.add_argument("--fraction", type=float, default=0.02)
    p.add_argument("--forest", action="store_true")
    p.add_argument("--rounds", action="store_true", help="the correction-round protocol")
    p.add_argument("--restart-rounds", action="store_true",
                   help="rounds 2-3 start new runs from the served weights (fresh optimiser, "
                   "the anchor moved to them) instead of continuing the run as the Train "
                   "widget's Start with 'continue' does")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--busy", action="store_true", help="spin one core meanwhile (a busy GUI)")
    p.add_argument("--tta-methods", default="new,pre", help="methods also scored with TTA")
    p.add_argument("--tag", default="final")
    p.add_argument("--save-dir", help="save the model at each time point here")
    p.add_argument("--backend", default="torch-cpu", help="e.g. torch-cuda on a GPU machine")
    p.add_argument("--train-extra", default="{}", help="JSON: recipe train fields to change")
    p.add_argument("--loss-extra", default="{}", help="JSON: recipe loss fields to change")
    p.add_argument("--pretrain-cache", help="reuse (or save) pretrained weights per seed here; "
                   "pretrain_s is then NaN for reused ones")
    p.add_argument("--pretrain-seconds", type=float, default=300.0,
                   help="pretraining before the strokes, for method pre")
    p.add_argument("--start-from", help="trained checkpoint (.npz) for the start methods")
    args = p.parse_args()
    global BACKEND, TRAIN_EXTRA, LOSS_EXTRA, PRETRAIN_CACHE, START_FROM, PRETRAIN
    BACKEND = args.backend
    TRAIN_EXTRA, LOSS_EXTRA = json.loads(args.train_extra), json.loads(args.loss_extra)
    PRETRAIN_CACHE = Path(args.pretrain_cache) if args.pretrain_cache else None
    START_FROM = Path(args.start_from) if args.start_from else None
    torch.set_num_threads(args.threads)
    raw, gt = load(args.dataset)
    PRETRAIN = slice(0, 16) if args.dataset == "gerhard2013" else PRETRAIN
    times = [float(t) for t in args.times.split(",")]
    lo, hi = (int(v) for v in args.test.split(":"))
    first_test = PRETRAIN.stop if args.dataset == "gerhard2013" else TRAIN.stop
    if lo < first_test:
        raise SystemExit(f"--test {args.test} overlaps the training slices (0:{first_test}); "
                         "gerhard2013's validation sections are --test 16:20")
    test = slice(lo, hi)
    seeds = [int(s) for s in args.seeds.split(",")]
    out = {"tag": args.tag, "machine": f"{platform.processor() or platform.machine()}, "
           f"{os.cpu_count()} cores", "threads": args.threads, "seeds": seeds,
           "test_slices": args.test, "dataset": args.dataset, "backend": args.backend,
           "train_extra": TRAIN_EXTRA, "loss_extra": LOSS_EXTRA,
           "start_from": args.start_from,
           "load_start": round(os.getloadavg()[0], 2), "busy": args.busy, "rows": []}

    def save() -> None:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"scribbles_{args.tag}.json").write_text(json.dumps(out, indent=1))
        (RESULTS / f"scribbles_{args.tag}.md").write_text(markdown(out))

    from bench_train_speed import _busy

    with _busy(args.busy):
        for seed in seeds:
            run_seed(args, raw, gt, seed, times, test, out)
            save()
    save()


def run_seed(args, raw, gt, seed: int, times, test, out: dict) -> None:
    """Every method (and the forest) on the strokes of ``seed``; rows into ``out``."""
    labels = strokes(gt, seed, args.fraction)
    frac = float((labels > 0).mean())
    if args.forest:
        out["rows"].append({**run_forest(raw, gt, labels, seed, test),
                            "labeled_fraction": frac})
        print(json.dumps(out["rows"][-1]), flush=True)
    for method in (m for m in args.methods.split(",") if m):
        if args.rounds:
            out["rows"].extend(run_rounds(method, raw, gt, seed, times[0], test,
                                          pretrain_seconds=args.pretrain_seconds,
                                          restart=args.restart_rounds))
        else:
            tta = method in args.tta_methods.split(",")
            for row in run_times(method, raw, gt, labels, seed, times, test, tta,
                                 args.save_dir, args.pretrain_seconds):
                out["rows"].append({**row, "labeled_fraction": frac})


if __name__ == "__main__":
    main()
