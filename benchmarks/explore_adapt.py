"""Prototype: adapt the shipped EM starter to the opened image before the first stroke.

The starter (synthetic EM) finds membranes; background pretraining (filter-bank
regression on the image) learns the image's own texture. Here pretraining
starts from the starter's layers and is pulled back toward them
(``--pull``, per iteration), then stroke training starts from the adapted
layers with the starter's classifier (``--head starter``) or a fresh one.
Scored as bench_scribbles' ``start-both`` (60 s of strokes, slices 20-29).

  python explore_adapt.py --seeds 0,1,2 --pretrain-seconds 240 --pull 1e-3 --tag adapt_p3
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import bench_scribbles as bs
import numpy as np


def adapted_start(raw, seed: int, seconds: float, iterations: int, pull: float, head: str,
                  out: Path):
    import napari_greentea.pretrain as pre
    from napari_greentea.config import PretrainConfig, TrainConfig
    from napari_greentea.data.subsample import bounded_sample
    from napari_greentea.starters import starter

    start = starter("em-membranes").load()
    body = dict(start.weights)
    fresh = pre.init_weights

    def init_from_starter(graph, s):
        w = fresh(graph, s)
        skip = pre.classifier_keys(graph)
        w.update({k: np.array(v, np.float32) for k, v in body.items() if k not in skip})
        return w

    def train_config(**kw):
        return TrainConfig(**kw, anchor_decay=pull)

    pre.init_weights, pre.TrainConfig = init_from_starter, train_config
    try:
        tic = time.perf_counter()
        p = pre.Pretrainer([bounded_sample(raw[bs.PRETRAIN])], start.spec.replace(),
                           PretrainConfig(seconds=seconds, iterations=iterations, seed=seed),
                           preprocess=start.preprocess, backend=bs.BACKEND)
        for _ in p.run():
            pass
        wall = time.perf_counter() - tic
        result = p.result()
    finally:
        pre.init_weights, pre.TrainConfig = fresh, TrainConfig
    weights = dict(start.weights)
    weights.update({k: np.array(v, np.float32) for k, v in result.weights.items()})
    if head == "fresh":
        graph_w = fresh(pre.dense_graph(start.spec), seed)
        weights.update({k: graph_w[k] for k in pre.classifier_keys(pre.dense_graph(start.spec))})
    path = out / f"adapted_s{seed}.npz"
    replace(start, weights=weights).save(path)
    return path, {"pretrain_s": round(wall, 1), "pretrain_iterations": result.iterations,
                  "pretrain_loss": round(result.loss, 4)}


class _Multitask:
    """Cross-entropy on the first ``k`` logits for labeled (synthetic) batches,
    mean square on the rest for batches with regression targets (the image's
    filter bank)."""

    def __init__(self, k: int, class_weights: np.ndarray) -> None:
        self.k, self.class_weights = k, class_weights

    def torch(self, logits, batch):
        import torch
        import torch.nn.functional as F

        if batch.regression is not None:
            target = torch.as_tensor(batch.regression, device=logits.device)
            return torch.mean((logits[:, self.k:] - target) ** 2)
        target = torch.as_tensor(batch.target, device=logits.device) - 1
        weight = torch.as_tensor(self.class_weights, device=logits.device)
        return F.cross_entropy(logits[:, : self.k], target, weight=weight, ignore_index=-1)


def multitask_start(raw, seed: int, seconds: float, iterations: int, pull: float, out: Path,
                    synthetic: int = 8):
    """Train the starter on synthetic sections (its membranes) and on the image's
    filter bank (its texture) at once, alternating batches; keep body + membrane head."""
    from napari_greentea.backend import get_backend
    from napari_greentea.channels import as_channels
    from napari_greentea.config import TrainConfig
    from napari_greentea.data.subsample import bounded_sample
    from napari_greentea.features import plane_features, standardise
    from napari_greentea.losses import LossBatch
    from napari_greentea.losses.softmax import inverse_frequency_weights
    from napari_greentea.models import dense_graph
    from napari_greentea.preprocess import preprocess_channels
    from napari_greentea.pretrain import _TargetPatches
    from napari_greentea.starters import starter
    from napari_greentea.synthetic_em import synthetic_em_stack
    from napari_greentea.train import TrainingClock
    from napari_greentea.weights import init_weights

    tic = time.perf_counter()
    clock = TrainingClock(seconds)
    start = starter("em-membranes").load()
    k = start.spec.num_classes

    def planes_of(stack):
        data = preprocess_channels(as_channels(stack), start.preprocess)
        return [np.ascontiguousarray(data[:, z]) for z in range(data.shape[1])]

    planes = planes_of(bounded_sample(raw[bs.PRETRAIN]))
    feats = [plane_features(p) for p in planes]
    standardise(feats)
    syn_img, syn_lab = synthetic_em_stack(synthetic, (512, 512), seed=10_000 + seed)
    syn_planes = planes_of(syn_img)
    weights_cls = np.asarray(inverse_frequency_weights(syn_lab, k), np.float32)
    graph = dense_graph(start.spec.replace(num_classes=k + len(feats[0])))
    geometry = graph.patch_geometry(128)
    user = _TargetPatches(planes, feats, geometry, seed)
    syn = _TargetPatches(syn_planes, [lab[None].astype(np.float32) for lab in syn_lab],
                         geometry, seed + 1)
    weights = init_weights(graph, seed)
    weights.update({kk: v for kk, v in start.weights.items() if not kk.startswith("ip1.")})
    weights["ip1.weight"][:k] = start.weights["ip1.weight"]
    weights["ip1.bias"][:k] = start.weights["ip1.bias"]
    train = TrainConfig(lr=1e-3, batch_size=2, output_size=128, seed=seed, anchor_decay=pull)
    model = get_backend(bs.BACKEND).trainable(graph, weights, train=train,
                                              loss=_Multitask(k, weights_cls))
    it, losses = 0, {"syn": [], "img": []}
    while not (it and (clock.expired() if seconds else it >= iterations)):
        if it % 2 == 0:
            x, b = syn.sample(2)
            b = LossBatch(target=np.rint(b.regression[:, 0]).astype(np.int64), image=b.image)
            losses["syn"].append(model.train_step(x, b, 1e-3))
        else:
            x, b = user.sample(2)
            losses["img"].append(model.train_step(x, b, 1e-3))
        it += 1
    trained = model.weights()
    final = dict(start.weights)
    final.update({kk: np.array(v, np.float32) for kk, v in trained.items()
                  if not kk.startswith("ip1.")})
    final["ip1.weight"] = np.array(trained["ip1.weight"][:k], np.float32)
    final["ip1.bias"] = np.array(trained["ip1.bias"][:k], np.float32)
    path = out / f"multitask_s{seed}.npz"
    replace(start, weights=final).save(path)
    return path, {"pretrain_s": round(time.perf_counter() - tic, 1), "pretrain_iterations": it,
                  "loss_syn": round(float(np.mean(losses["syn"][-50:])), 4),
                  "loss_img": round(float(np.mean(losses["img"][-50:])), 4)}


def selftrain_start(raw, seed: int, seconds: float, iterations: int, confidence: float,
                    out: Path):
    """The starter, trained on its own confident TTA predictions of the image
    (slices 0-19): pseudo-labels where a class has probability > ``confidence``."""
    from napari_greentea.predict import build_predictor, predict_image
    from napari_greentea.starters import starter

    tic = time.perf_counter()
    start = starter("em-membranes").load()
    predictor = build_predictor(start, bs.BACKEND, tta=True)
    images = raw[bs.PRETRAIN]
    prob = predict_image(predictor, predictor.graph, images, preprocess=start.preprocess)
    pseudo = np.zeros(images.shape, np.uint8)
    for k in range(prob.shape[0]):
        pseudo[prob[k] > confidence] = k + 1
    shares = [round(float((pseudo == k + 1).mean()), 4) for k in range(prob.shape[0])]
    trainer = bs.make_trainer("start-both", images, pseudo, seed, init=start)
    left = seconds - (time.perf_counter() - tic) if seconds else 0.0
    if seconds:
        bs.train_for(trainer, max(left, 1.0))
    else:
        train_iterations(trainer, iterations)
    path = out / f"selftrain_s{seed}.npz"
    trainer.checkpoint().save(path)
    return path, {"pretrain_s": round(time.perf_counter() - tic, 1),
                  "pretrain_iterations": trainer.iteration, "pseudo_shares": shares}


def train_iterations(trainer, n: int) -> None:
    """Continue training for ``n`` iterations (GPU runs, matched to CPU counts)."""
    trainer.train_config = trainer.train_config.replace(seconds=0.0,
                                                        iterations=trainer.iteration + n)
    for _ in trainer.run():
        pass


def run_iterations(raw, gt, labels, seed, points, test) -> list[dict]:
    """bench_scribbles.run_times with iteration counts instead of seconds."""
    from napari_greentea.checkpoint import Checkpoint

    init = Checkpoint.load(bs.START_FROM)
    trainer = bs.make_trainer("start-both", raw[bs.TRAIN], labels, seed, init=init)
    rows = []
    for point in points:
        if point > trainer.iteration:
            train_iterations(trainer, point - trainer.iteration)
        row = {"method": "start-both", "seed": seed, "iterations": trainer.iteration}
        row.update(bs.evaluate(trainer, raw, gt, test, True))
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    import torch

    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=("pull", "multitask", "selftrain", "starter"), default="pull")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--pretrain-seconds", type=float, default=240.0)
    p.add_argument("--pretrain-iterations", type=int, default=0,
                   help="instead of seconds (GPU runs matched to CPU counts)")
    p.add_argument("--pull", type=float, default=1e-3)
    p.add_argument("--confidence", type=float, default=0.9, help="selftrain's threshold")
    p.add_argument("--head", choices=("starter", "fresh"), default="starter")
    p.add_argument("--times", default="0,60")
    p.add_argument("--stroke-iterations", default="",
                   help="comma list of iteration counts instead of --times")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backend", default="torch-cpu")
    p.add_argument("--test", default="20:30", help="scored slices lo:hi")
    p.add_argument("--tag", required=True)
    args = p.parse_args()
    test = slice(*(int(v) for v in args.test.split(":")))
    torch.set_num_threads(args.threads)
    bs.BACKEND = args.backend
    raw, gt = bs.load()
    out_dir = Path(os.environ.get("ADAPT_DIR", "/tmp/adapt")) / args.tag
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds = 0.0 if args.pretrain_iterations else args.pretrain_seconds
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        if args.mode == "pull":
            path, facts = adapted_start(raw, seed, seconds, args.pretrain_iterations,
                                        args.pull, args.head, out_dir)
        elif args.mode == "multitask":
            path, facts = multitask_start(raw, seed, seconds, args.pretrain_iterations,
                                          args.pull, out_dir)
        elif args.mode == "selftrain":
            path, facts = selftrain_start(raw, seed, seconds, args.pretrain_iterations,
                                          args.confidence, out_dir)
        else:
            from napari_greentea.starters import starter

            path, facts = starter("em-membranes").path, {}
        print(json.dumps({"seed": seed, "mode": args.mode, **facts}), flush=True)
        bs.START_FROM = path
        labels = bs.strokes(gt, seed)
        if args.stroke_iterations:
            new = run_iterations(raw, gt, labels, seed,
                                 [int(n) for n in args.stroke_iterations.split(",")], test)
        else:
            new = bs.run_times("start-both", raw, gt, labels, seed,
                               [float(t) for t in args.times.split(",")], test)
        for row in new:
            row.update(facts, mode=args.mode, pull=args.pull, head=args.head)
        rows.extend(new)
        (bs.RESULTS / f"scribbles_{args.tag}.json").write_text(json.dumps(rows, indent=1))
    key = "iterations" if args.stroke_iterations else "time"
    for t in sorted({r[key] for r in rows}):
        sel = [r for r in rows if r[key] == t]
        print(key, t, "mean V_rand", round(float(np.mean([r["v_rand"] for r in sel])), 4),
              "TTA", round(float(np.mean([r["tta"]["v_rand"] for r in sel])), 4), flush=True)


if __name__ == "__main__":
    main()
