"""Prototype: self-supervised pretraining on the opened image before the first stroke.

Target ``filters``: the network regresses the (standardised) ilastik filter bank
of its own input, i.e. it learns the smoothed intensities, edges, ridges and
blobs at sigma 0.7-10 that the random forest classifies. The weights of every
layer but the 1x1 classifier then initialise stroke training. No labels are
used. Not part of the package: measured here first.
"""

from __future__ import annotations

import time

import numpy as np
import torch  # noqa: TID253 - a torch training script, not part of the package

from napari_greentea.backend.torch._module import build_module
from napari_greentea.models import dense_graph, preset
from napari_greentea.weights import init_weights


def filter_targets(images: np.ndarray) -> np.ndarray:
    """(Z, F, Y, X) standardised filter-bank responses of (Z, Y, X) images."""
    from forest import filter_bank

    feats = np.stack([np.moveaxis(filter_bank(img), -1, 0) for img in images])
    mean = feats.mean(axis=(0, 2, 3), keepdims=True)
    std = feats.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    return ((feats - mean) / std).astype(np.float32)


def pretrain(images: np.ndarray, cpu_seconds: float, *, depth=2, fmaps=16, patch=128,
             batch=2, lr=1e-3, seed=0, threads=1, log=print) -> dict:
    """Pretrained state dict (without the classifier) after ``cpu_seconds`` of training."""
    torch.set_num_threads(threads)
    tic = time.process_time()
    targets = filter_targets(images)
    target_s = time.process_time() - tic
    nf = targets.shape[1]
    spec = preset("u", "interactive", depth=depth, base_fmaps=fmaps, num_classes=nf)
    graph = dense_graph(spec)
    size_in = graph.input_size_for(patch)
    size_out = graph.output_size(size_in)
    lo = graph.context // 2
    module = build_module(graph, init_weights(graph, seed)).train()
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    z, h, w = images.shape
    padded = np.pad(images, ((0, 0), (lo, lo), (lo, lo)), mode="reflect")
    it, clock, losses = 0, 0.0, []
    while clock < cpu_seconds:
        t0 = time.process_time()
        xs, ys = [], []
        for _ in range(batch):
            k = rng.integers(z)
            y0, x0 = rng.integers(h - size_out + 1), rng.integers(w - size_out + 1)
            x = padded[k, y0:y0 + size_in, x0:x0 + size_in]
            t = targets[k, :, y0:y0 + size_out, x0:x0 + size_out]
            r = rng.integers(4)
            x, t = np.rot90(x, r), np.rot90(t, r, axes=(1, 2))
            if rng.random() < 0.5:
                x, t = x[:, ::-1], t[:, :, ::-1]
            xs.append(x[None].copy())
            ys.append(t.copy())
        x = torch.from_numpy(np.stack(xs))
        y = torch.from_numpy(np.stack(ys))
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((module(x, logits=True) - y) ** 2)
        loss.backward()
        opt.step()
        it += 1
        losses.append(float(loss))
        clock += time.process_time() - t0
        if it % 500 == 0:
            log(f"pretrain it {it} loss {np.mean(losses[-100:]):.4f} cpu {clock:.0f}s")
    state = {k: v.detach().clone() for k, v in module.state_dict().items()
             if not k.startswith("ip")}
    return {"state": state, "iterations": it, "target_cpu_s": target_s, "train_cpu_s": clock,
            "final_loss": float(np.mean(losses[-100:]))}
