"""Self-supervised pretraining on the opened image, before the first stroke.

The user's network (any registered architecture) learns to regress the
standardised filter bank of its own input (:mod:`.features`): no labels,
only the image. Every layer but the 1x1 classifier then starts stroke
training (:meth:`Pretrained.initial_checkpoint`, the Trainer's
``init_from``), so the strokes no longer have to teach what an edge or a
blob is. On ISBI 2012 (strokes on 2 % of slices 0-4, 3 seeds) it raised
V_rand on held-out slices 15-19 from 0.871 to 0.901 and on 20-29 from 0.805
to 0.832 (``benchmarks/results/scribbles_explore.md``, phase 5).

``Pretrainer(images, spec).run()`` yields :class:`PretrainProgress`; the
constructor does no heavy work, so a widget may build it on the GUI thread
and run it in a worker.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .channels import as_channels
from .checkpoint import PRETRAINED_FORMAT, Checkpoint, read_archive, write_archive
from .config import ModelSpec, PreprocessConfig, PretrainConfig, TrainConfig
from .events import PretrainProgress
from .features import plane_features, standardise
from .graph import Graph, PatchGeometry
from .losses import FeatureRegression, LossBatch
from .models import dense_graph
from .preprocess import check_image, preprocess_channels
from .train import LabeledImage, TrainingClock, training_channels
from .weights import check_weights, init_weights

if TYPE_CHECKING:
    from .backend import Backend

__all__ = ["PretrainConfig", "PretrainProgress", "Pretrained", "Pretrainer", "classifier_keys",
           "layers_mismatch"]

WHAT = "pretrained network"


def classifier_keys(graph: Graph) -> set[str]:
    """The weight keys of the node that produces the logits (the classifier)."""
    return set(graph.logits.weight_shapes())


def _body(graph: Graph) -> tuple[Any, ...]:
    """The graph's layers with the classifier's output count blanked: what two
    networks must share for pretrained weights to carry over."""
    logits = graph.logits.name
    return tuple(
        (n.name, n.op, n.inputs, n.in_channels, 0 if n.name == logits else n.out_channels,
         n.kernel, n.stride, n.dilation)
        for n in graph.nodes if n.op != "softmax")


def layers_mismatch(trained: ModelSpec, spec: ModelSpec, source: str = "trained") -> str | None:
    """Why ``spec`` cannot take over ``trained``'s weights (every layer but the
    classifier), naming the settings that differ; None when it can."""
    if _body(dense_graph(spec)) == _body(dense_graph(trained)):
        return None
    mine, theirs = trained.to_dict(), spec.to_dict()
    fields = [f"{k} {mine[k]!r} ({source}) vs {theirs[k]!r}" for k in mine
              if k not in ("num_classes", "init") and mine[k] != theirs[k]]
    return ", ".join(fields) or "the layers differ"


@dataclass
class Pretrained:
    """Weights of every layer but the classifier, from :class:`Pretrainer`.

    ``spec`` is the architecture pretrained (its ``num_classes`` is the
    number of features regressed, irrelevant to stroke training);
    ``preprocess`` the normalisation and channels the network saw, which
    stroke training should use too (``Trainer(preprocess=...)``);
    ``config`` the budget and optimiser settings of the run, kept so that a
    saved file says how it was made (None for files written before it was
    recorded).
    """

    spec: ModelSpec
    weights: dict[str, np.ndarray]
    preprocess: PreprocessConfig
    iterations: int
    seconds: float
    loss: float
    config: PretrainConfig | None = None

    def __post_init__(self) -> None:
        graph = dense_graph(self.spec)
        check_weights(graph, self.weights, without=classifier_keys(graph))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """One ``.npz`` (no pickle), written atomically."""
        meta = {"format": PRETRAINED_FORMAT, "spec": self.spec.to_dict(),
                "preprocess": self.preprocess.to_dict(), "iterations": self.iterations,
                "seconds": self.seconds, "loss": self.loss}
        if self.config is not None:
            meta["config"] = self.config.to_dict()
        arrays = {f"w/{k}": np.asarray(v) for k, v in self.weights.items()}
        return write_archive(path, meta, arrays, WHAT)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Pretrained:
        meta, arrays = read_archive(path, PRETRAINED_FORMAT, WHAT)
        try:
            return cls(spec=ModelSpec.from_dict(meta["spec"]),
                       weights={k[2:]: v for k, v in arrays.items() if k.startswith("w/")},
                       preprocess=PreprocessConfig.from_dict(meta["preprocess"]),
                       iterations=int(meta["iterations"]), seconds=float(meta["seconds"]),
                       loss=float(meta["loss"]),
                       config=PretrainConfig.from_dict(meta["config"]) if "config" in meta
                       else None)
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path} is not a usable {WHAT}: {err}") from err

    def mismatch(self, spec: ModelSpec) -> str | None:
        """Why ``spec`` cannot start from these weights, or None when it can."""
        return layers_mismatch(self.spec, spec, "pretrained")

    def compatible(self, spec: ModelSpec) -> bool:
        """Same layers as ``spec`` apart from the classifier's number of classes."""
        return self.mismatch(spec) is None

    def initial_checkpoint(self, spec: ModelSpec, *, seed: int = 0,
                           class_names: Sequence[str] = ()) -> Checkpoint:
        """Fresh weights of ``spec`` (``seed``) with every pretrained layer copied in;
        the classifier stays fresh. Iteration 0, no optimiser state."""
        problem = self.mismatch(spec)
        if problem:
            raise ValueError(f"the {WHAT} does not fit the chosen architecture: {problem}; "
                             "pretrain with this architecture, or choose the pretrained one")
        weights = init_weights(dense_graph(spec), seed)
        weights.update({k: np.array(v, np.float32) for k, v in self.weights.items()})
        return Checkpoint(spec=spec, weights=weights, preprocess=self.preprocess,
                          class_names=tuple(class_names))


class _TargetPatches:
    """Random (input, target) patch pairs of all planes, flipped and rotated alike.

    As in the stroke sampler, a patch is cut symmetric around its output
    window, augmented, and only then cropped to the network's (possibly
    asymmetric) context, so rotations keep input and targets aligned. A
    plane smaller than the output window is mirrored to fit.
    """

    def __init__(self, planes: Sequence[np.ndarray], targets: Sequence[np.ndarray],
                 patch: PatchGeometry, seed: int) -> None:
        self.patch = patch
        out, lo = patch.output_size, patch.context_lo
        self.margin = max(lo, patch.input_size - out - lo)
        self.images, self.targets = [], []
        for plane, target in zip(planes, targets, strict=True):
            grow = [(0, 0)] + [(0, max(0, out - s)) for s in plane.shape[-2:]]
            self.targets.append(np.pad(target, grow, mode="reflect"))
            grown = np.pad(plane, grow, mode="reflect")
            m = self.margin
            self.images.append(np.pad(grown, [(0, 0), (m, m), (m, m)], mode="reflect"))
        self.rng = np.random.default_rng(seed)

    def sample(self, n: int) -> tuple[np.ndarray, LossBatch]:
        out, m, rng = self.patch.output_size, self.margin, self.rng
        start, size = m - self.patch.context_lo, self.patch.input_size
        xs, ts = [], []
        for _ in range(n):
            k = int(rng.integers(len(self.targets)))
            target = self.targets[k]
            y0 = int(rng.integers(target.shape[1] - out + 1))
            x0 = int(rng.integers(target.shape[2] - out + 1))
            x = self.images[k][:, y0 : y0 + out + 2 * m, x0 : x0 + out + 2 * m]
            t = target[:, y0 : y0 + out, x0 : x0 + out]
            r = int(rng.integers(4))
            x, t = np.rot90(x, r, axes=(1, 2)), np.rot90(t, r, axes=(1, 2))
            if rng.random() < 0.5:
                x, t = x[:, :, ::-1], t[:, :, ::-1]
            xs.append(x[:, start : start + size, start : start + size])
            ts.append(t)
        images = np.ascontiguousarray(np.stack(xs), np.float32)
        return images, LossBatch.from_patches(images, None, context_lo=self.patch.context_lo,
                                              regression=np.stack(ts))


class Pretrainer:
    """Pretrains ``spec`` on ``images`` (2-D, 3-D stacks, channel images); see :meth:`run`.

    The images are read as the Trainer reads them: ``channels.as_channels``
    (RGB(A) recognised), ``preprocess`` (default: the Trainer's) per slice
    and channel, the channels recorded in :attr:`preprocess`.
    """

    #: A :class:`PretrainProgress` every this many iterations.
    progress_every = 10

    def __init__(self, images: Sequence[Any], spec: ModelSpec,
                 config: PretrainConfig | None = None, *,
                 preprocess: PreprocessConfig | None = None,
                 backend: str | Backend | None = None) -> None:
        if not images:
            raise ValueError("no image to pretrain on")
        self.images = [as_channels(image) for image in images]
        for image in self.images:
            check_image(image)
        channels = training_channels([LabeledImage(i, None) for i in self.images],
                                     spec.in_channels)
        self.spec = spec
        self.config = config or PretrainConfig()
        self.preprocess = (preprocess or PreprocessConfig()).replace(channels=channels)
        self.backend = backend
        self.iteration = 0
        self.loss = math.nan
        self.elapsed_s = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()  # train_step and result() from different threads
        self._model: Any = None
        self._graph: Graph | None = None

    def stop(self) -> None:
        """End :meth:`run` after the current plane or iteration (thread-safe)."""
        self._stop.set()

    def _progress(self, clock: TrainingClock, stage: str) -> PretrainProgress:
        self.elapsed_s = clock.elapsed()
        loss = self.loss if stage == "training" else math.nan
        return PretrainProgress(self.iteration, loss, self.elapsed_s, self.config.seconds, stage)

    def run(self) -> Iterator[PretrainProgress]:
        """Compute the targets, then train until the budget is spent or :meth:`stop`."""
        from .backend import get_backend

        cfg = self.config
        clock = TrainingClock(cfg.seconds)
        planes, targets = [], []
        yield self._progress(clock, "features")
        for image in self.images:
            data = preprocess_channels(image, self.preprocess)  # (C, [Z,] Y, X)
            stack = data[:, None] if data.ndim == 3 else data
            for z in range(stack.shape[1]):
                if self._stop.is_set():
                    return
                planes.append(stack[:, z])
                targets.append(plane_features(planes[-1]))
                yield self._progress(clock, "features")
        standardise(targets)
        graph = dense_graph(self.spec.replace(num_classes=len(targets[0])))
        patches = _TargetPatches(planes, targets, graph.patch_geometry(cfg.output_size),
                                 cfg.seed)
        train = TrainConfig(lr=cfg.lr, batch_size=cfg.batch_size, output_size=cfg.output_size,
                            seed=cfg.seed, threads=cfg.threads)
        model = get_backend(self.backend).trainable(
            graph, init_weights(graph, cfg.seed), train=train, loss=FeatureRegression())
        with self._lock:
            self._model, self._graph = model, graph
        window: list[float] = []
        # the first step runs even past the budget, so that there is a result
        while not self._stop.is_set() and not (self.iteration and clock.expired()) and not (
                cfg.iterations and self.iteration >= cfg.iterations):
            images, batch = patches.sample(cfg.batch_size)
            with self._lock:
                value = model.train_step(images, batch, cfg.lr)
                self.iteration += 1
            if not math.isfinite(value):
                raise ValueError(f"pretraining loss became {value} at iteration "
                                 f"{self.iteration}; try a lower learning rate")
            window.append(value)
            if len(window) == self.progress_every:
                self.loss, window = float(np.mean(window)), []
                yield self._progress(clock, "training")
        if window:
            self.loss = float(np.mean(window))
            yield self._progress(clock, "training")

    def result(self) -> Pretrained:
        """The weights so far (any time after the first iteration, from any thread)."""
        with self._lock:
            if self._graph is None or self.iteration == 0:
                raise RuntimeError("pretraining has not taken a step yet: nothing to keep")
            weights, graph = self._model.weights(), self._graph
        skip = classifier_keys(graph)
        return Pretrained(
            spec=self.spec.replace(num_classes=graph.num_classes),
            weights={k: v for k, v in weights.items() if k not in skip},
            preprocess=self.preprocess, iterations=self.iteration, seconds=self.elapsed_s,
            loss=self.loss, config=self.config)
