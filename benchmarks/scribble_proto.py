"""Prototype training loop for exploring scribble-learning methods (phase 1).

Not part of the package: methods are tried here first, measured with
bench_scribbles.py, and the winners move into the core.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch  # noqa: TID253 - a torch training script, not part of the package
import torch.nn.functional as F  # noqa: TID253

from napari_greentea.backend.torch._module import build_module
from napari_greentea.data.augment import Augmenter
from napari_greentea.data.sampling import PatchSampler
from napari_greentea.losses.softmax import inverse_frequency_weights
from napari_greentea.models import dense_graph, preset
from napari_greentea.weights import init_weights


@dataclass(frozen=True)
class Method:
    name: str
    depth: int = 2
    fmaps: int = 16
    patch: int = 128
    batch: int = 2
    lr: float = 1e-3
    balance: str = "histeq"  # histeq | weights | none
    bf16: bool = False
    channels_last: bool = False
    threads: int = 1
    augment: str = "basic"  # none | basic | strong
    weight_decay: float = 0.0
    crf: float = 0.0
    crf_radius: int = 5
    crf_sigma_xy: float = 3.0
    crf_sigma_i: float = 0.15
    holdout: float = 0.0
    tta: bool = False
    pseudo: float = 0.0  # weight of confident pseudo-label consistency (mean teacher)
    pseudo_conf: float = 0.9
    ema: float = 0.99
    entropy: float = 0.0
    ema_eval: float = 0.0  # >0: predict with an exponential moving average of the weights
    extra: dict = field(default_factory=dict)

    def with_(self, **kw):
        return replace(self, **kw)


def elastic(img: np.ndarray, lab: np.ndarray, rng, alpha=8.0, sigma=8.0):
    """Elastic deformation of an image patch and a label frame of the same size."""
    from scipy import ndimage as ndi

    h, w = img.shape
    dy = ndi.gaussian_filter(rng.standard_normal((h, w)), sigma) * alpha * sigma / 2
    dx = ndi.gaussian_filter(rng.standard_normal((h, w)), sigma) * alpha * sigma / 2
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = np.stack([yy + dy, xx + dx])
    img = ndi.map_coordinates(img, coords, order=1, mode="mirror").astype(np.float32)
    lab = ndi.map_coordinates(lab, coords, order=0, mode="constant", cval=0)
    return img, lab


class Proto:
    """Train a U-Net with method ``m`` on (images, labels) (preprocessed, 3-D)."""

    def __init__(self, m: Method, images, labels, seed: int = 0) -> None:
        torch.set_num_threads(m.threads)
        self.m = m
        self.spec = preset("u", "interactive", depth=m.depth, base_fmaps=m.fmaps,
                           in_channels=1 if images.ndim == 3 else images.shape[0])
        self.graph = dense_graph(self.spec)
        self.input_size = self.graph.input_size_for(m.patch)
        self.output_size = self.graph.output_size(self.input_size)
        self.lo = self.graph.context // 2
        self.images = images
        self.labels = labels
        self.val_labels = None
        train_labels = labels
        if m.holdout:
            from napari_greentea.data.holdout import split_strokes

            train_labels, self.val_labels = split_strokes(labels, m.holdout, seed=seed)
        self.rng = np.random.default_rng(seed + 1000)
        self.seed = seed
        self.set_labels(train_labels)
        weights = init_weights(self.graph, seed)
        self.module = build_module(self.graph, weights).train()
        if m.extra.get("init_state") is not None:  # pretrained layers; the classifier stays new
            self.module.load_state_dict(m.extra["init_state"], strict=False)
        if m.channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)
        self.opt = torch.optim.AdamW(
            self.module.parameters(), lr=m.lr, weight_decay=m.weight_decay
        ) if m.weight_decay else torch.optim.Adam(self.module.parameters(), lr=m.lr)
        self.teacher = None
        if m.pseudo:
            self.teacher = build_module(self.graph, weights).eval()
        self.averaged = None
        if m.ema_eval:
            self.averaged = build_module(self.graph, weights).eval()
            self.averaged.load_state_dict(self.module.state_dict())
        self.iteration = 0
        self.best = None  # (score, iteration, state_dict)
        self.val_history: list[tuple[int, float]] = []

    def set_labels(self, train_labels, seed=None):
        """(Re)build the sampler on new strokes; weights and optimiser stay."""
        m = self.m
        seed = self.seed if seed is None else seed
        aug = Augmenter(True, seed=seed) if m.augment != "none" else None
        self.sampler = PatchSampler(
            list(zip([self.images], [train_labels])), self.input_size, self.output_size,
            num_classes=2, context_lo=self.lo,
            mode="histeq" if m.balance == "histeq" else "uniform",
            augmenter=aug, seed=seed,
        )
        self.class_weights = None
        if m.balance == "weights":
            self.class_weights = torch.as_tensor(
                inverse_frequency_weights(train_labels, 2, clip=(0.05, 20.0)))

    # -------------------------------------------------------------- batches
    def batch(self):
        images, labels = self.sampler.sample(self.m.batch)
        if self.m.augment == "strong":
            images, labels = self._strong(images, labels)
        return images, labels

    def _strong(self, images, labels):
        rng = self.rng
        lo, out = self.lo, self.output_size
        for n in range(len(images)):
            if rng.random() < 0.5:
                frame = np.zeros(images.shape[-2:], np.int64)
                frame[lo:lo + out, lo:lo + out] = labels[n]
                img, frame = elastic(images[n, 0], frame, rng)
                images[n, 0] = img
                labels[n] = frame[lo:lo + out, lo:lo + out]
            img = images[n, 0]
            gamma = np.exp(rng.uniform(-0.4, 0.4))
            img = 2 * (((img + 1) / 2).clip(0, 1) ** gamma) - 1
            img = img * rng.uniform(0.8, 1.2) + rng.uniform(-0.15, 0.15)
            img = img + rng.normal(0, rng.uniform(0, 0.08), img.shape)
            images[n, 0] = img.astype(np.float32)
        return images, labels

    # -------------------------------------------------------------- losses
    def crf_loss(self, prob, img):
        from napari_greentea.losses.crf import crf_loss_torch

        m = self.m
        return crf_loss_torch(prob, img, radius=m.crf_radius, sigma_xy=m.crf_sigma_xy,
                              sigma_i=m.crf_sigma_i)

    def loss(self, logits, y, x):
        m = self.m
        value = F.cross_entropy(logits.float(), y - 1, weight=self.class_weights,
                                ignore_index=-1) if (y > 0).any() else logits.sum() * 0
        prob = None
        if m.crf or m.entropy:
            prob = torch.softmax(logits.float(), 1)
        if m.crf:
            lo, out = self.lo, self.output_size
            img = x[:, :, lo:lo + out, lo:lo + out]
            value = value + m.crf * self.crf_loss(prob, img)
        if m.entropy:
            ent = -(prob * torch.log(prob.clamp_min(1e-6))).sum(1).mean()
            value = value + m.entropy * ent
        if m.pseudo:
            with torch.no_grad():
                t = self.teacher(x)
            conf, tl = t.max(1)
            mask = (conf > m.pseudo_conf) & (y == 0)
            if mask.any():
                pl = torch.where(mask, tl, torch.full_like(tl, -1))
                value = value + m.pseudo * F.cross_entropy(logits.float(), pl, ignore_index=-1)
        return value

    # -------------------------------------------------------------- step
    def step(self):
        m = self.m
        images, labels = self.batch()
        x = torch.from_numpy(np.ascontiguousarray(images))
        if m.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = torch.from_numpy(labels)
        self.opt.zero_grad(set_to_none=True)
        if m.bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = self.module(x, logits=True)
        else:
            logits = self.module(x, logits=True)
        value = self.loss(logits, y, x)
        value.backward()
        gamma = m.extra.get("inv_gamma")
        if gamma:  # Caffe's "inv" policy: lr * (1 + gamma * it) ** -power
            for group in self.opt.param_groups:
                group["lr"] = m.lr * (1 + gamma * self.iteration) ** -m.extra.get("inv_power", 0.75)
        self.opt.step()
        if self.teacher is not None:
            with torch.no_grad():
                for pt, ps in zip(self.teacher.parameters(), self.module.parameters()):
                    pt.mul_(m.ema).add_(ps.detach(), alpha=1 - m.ema)
        if self.averaged is not None:
            d = min(m.ema_eval, (1 + self.iteration) / (10 + self.iteration))
            with torch.no_grad():
                for pa, ps in zip(self.averaged.parameters(), self.module.parameters()):
                    pa.mul_(d).add_(ps.detach(), alpha=1 - d)
        self.iteration += 1
        return float(value.detach())

    # -------------------------------------------------------------- predict
    def predictor(self, module=None):
        module = module or self.averaged or self.module
        bf16 = self.m.bf16

        def run(batch):
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(batch, np.float32))
                if bf16:
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        out = module(x, logits=True)
                    return torch.softmax(out.float(), 1).numpy()
                return module(x).numpy()
        return run

    def predict_with(self, module, raw):
        """:meth:`predict` with another module's weights (e.g. a second average)."""
        saved = self.averaged
        self.averaged = module
        try:
            return self.predict(raw)
        finally:
            self.averaged = saved

    def predict(self, raw):
        """Probabilities of (Z, Y, X) ``raw``, or of (Z, C, Y, X) channel planes."""
        from napari_greentea.channels import ChannelImage
        from napari_greentea.predict import predict_image

        def image(a):
            a = np.ascontiguousarray(a)
            return ChannelImage(a, 1) if a.ndim == 4 else a

        self.module.eval()
        try:
            if not self.m.tta:
                return predict_image(self.predictor(), self.graph, image(raw), block=256)
            acc = None
            for k in range(4):
                for flip in (False, True):
                    img = np.rot90(raw, k, axes=(-2, -1))
                    if flip:
                        img = img[..., ::-1]
                    p = predict_image(self.predictor(), self.graph, image(img), block=256)
                    if flip:
                        p = p[..., ::-1]
                    p = np.rot90(p, -k, axes=(-2, -1))
                    acc = p if acc is None else acc + p
            return acc / 8
        finally:
            self.module.train()

    # -------------------------------------------------------------- validation
    def validate(self, raw_pre):
        """Balanced accuracy / CE on held-out strokes (whole-image prediction)."""
        from napari_greentea.predict import predict_image

        self.module.eval()
        try:
            prob = predict_image(self.predictor(), self.graph, raw_pre, block=256)
        finally:
            self.module.train()
        lab = self.val_labels
        recalls, ces = [], []
        for c in (1, 2):
            sel = lab == c
            p = prob[c - 1][sel]
            recalls.append(float((prob.argmax(0)[sel] == c - 1).mean()))
            ces.append(float(-np.log(np.clip(p, 1e-6, 1)).mean()))
        score = float(np.mean(recalls)) - 0.01 * float(np.mean(ces))
        self.val_history.append((self.iteration, score))
        if self.best is None or score > self.best[0]:
            self.best = (score, self.iteration,
                         {k: v.detach().clone()
                          for k, v in (self.averaged or self.module).state_dict().items()})
        return score


def time_steps(proto: Proto, n: int = 15) -> float:
    """Minimum seconds per training step over ``n`` steps (after 3 warm-up)."""
    for _ in range(3):
        proto.step()
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        proto.step()
        best = min(best, time.perf_counter() - t)
    return best
