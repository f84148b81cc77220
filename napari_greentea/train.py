"""The trainer: a generator of typed events, the same for every backend.

``Trainer(spec, pairs, ...).run()`` yields :mod:`events` objects; the napari
widget runs it in a worker thread (stop/pause between iterations), scripts
call :meth:`Trainer.fit`. Training always uses the dense (SK) form of an SW
network, which has the same weights and computes the same function.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .channels import as_channels, channel_count, chosen_channels, describe, model_input
from .checkpoint import Checkpoint, remove_stale_partial
from .config import LossConfig, ModelSpec, PreprocessConfig, TrainConfig
from .events import (
    CheckpointSaved,
    IterationDone,
    TrainEvent,
    TrainingFinished,
    TrainingStarted,
    TrainingStopped,
    Validated,
)
from .losses import LossBatch
from .models import dense_graph
from .preprocess import check_image, preprocess_channels
from .selection import HeldOutStrokes, WeightAverage
from .weights import init_weights

if TYPE_CHECKING:
    from .backend import Backend, TrainableModel

log = logging.getLogger(__name__)


class TrainingError(ValueError):
    """Training data or settings that cannot work; the message says why."""


@dataclass(frozen=True)
class LabeledImage:
    """One training pair: raw image and labels (0 = unlabeled, 1..K classes).

    A multi-channel image is a ``channels.ChannelImage`` (an RGB(A) array is
    recognised by its shape); the labels have its spatial shape.
    """

    image: Any
    labels: Any


def check_pairs(pairs: Sequence[LabeledImage], num_classes: int) -> None:
    """Validate training pairs; never modifies the painted labels."""
    if not pairs:
        raise TrainingError("no training images given")
    present: set[int] = set()
    for i, pair in enumerate(pairs):
        shape = check_image(pair.image)
        lshape = tuple(np.shape(pair.labels))
        if lshape != shape:
            raise TrainingError(
                f"labels of image {i} have shape {lshape} but the image has shape {shape}; "
                "paint labels on a layer of the image's shape"
            )
        labels = np.asarray(pair.labels)
        if labels.dtype.kind not in "iub":
            raise TrainingError(f"labels of image {i} must be integers, got {labels.dtype}")
        if labels.size and labels.min() < 0:
            raise TrainingError(f"labels of image {i} contain negative values")
        top = int(labels.max()) if labels.size else 0
        if top > num_classes:
            raise TrainingError(
                f"labels of image {i} use class {top} but the network has {num_classes} "
                f"outputs; use labels 1..{num_classes} or raise num_classes"
            )
        # one comparison per class (top <= num_classes): np.unique would sort every
        # pixel, 0.3 s for a 30x512^2 stack on the GUI thread at Start
        present.update(c for c in range(1, top + 1) if c not in present and (labels == c).any())
    if not present:
        raise TrainingError("no labeled pixels: paint some pixels of at least two classes")
    if len(present) < 2:
        raise TrainingError(
            f"only class {present.pop()} is labeled; paint at least two classes so the "
            "network has something to tell apart"
        )


def training_channels(pairs: Sequence[LabeledImage], in_channels: int) -> tuple[int, ...]:
    """The channels the network is trained on (those of the first image; () for grey).

    Every image must give ``in_channels`` channels.
    """
    for i, pair in enumerate(pairs):
        got = channel_count(pair.image)
        if got != in_channels:
            raise TrainingError(
                f"image {i} gives {got} channel(s) ({describe(pair.image)}) but the network "
                f"reads {in_channels} (in_channels); choose {in_channels} channel(s) or build "
                f"the network with in_channels={got}"
            )
    return chosen_channels(pairs[0].image)


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail early (before training) if the checkpoint cannot be written.

    Also deletes the half-written file a killed earlier save left behind.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=final.parent, prefix=".greentea-probe"):
            pass
        npz = final if final.suffix == ".npz" else final.with_name(final.name + ".npz")
        if remove_stale_partial(npz):
            log.info("removed the half-written checkpoint an interrupted save left next to %s",
                     npz)
    except OSError as err:
        raise TrainingError(f"cannot write the checkpoint to {final}: {err}") from err
    return final


class TrainingClock:
    """Seconds spent training, not counting pauses; ``expired`` past the budget."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.start = time.perf_counter()
        self.paused_for = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start - self.paused_for

    def expired(self) -> bool:
        return bool(self.budget) and self.elapsed() >= self.budget

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        tic = time.perf_counter()
        try:
            yield
        finally:
            self.paused_for += time.perf_counter() - tic


def learning_rate(config: TrainConfig, iteration: int) -> float:
    """Fixed, or Caffe's "inv" policy ``lr * (1 + gamma * it) ** -power``."""
    if config.lr_policy == "inv":
        return config.lr * (1.0 + config.inv_gamma * iteration) ** (-config.inv_power)
    return config.lr


class Trainer:
    """Trains one network on labeled images; see :meth:`run`."""

    def __init__(
        self,
        spec: ModelSpec,
        pairs: Sequence[LabeledImage],
        *,
        train: TrainConfig | None = None,
        loss: LossConfig | None = None,
        preprocess: PreprocessConfig | None = None,
        backend: str | Backend | None = None,
        class_names: Sequence[str] = (),
        init_from: Checkpoint | None = None,
        resume: Checkpoint | None = None,
        validation: Sequence[LabeledImage] = (),
    ) -> None:
        from .backend import get_backend
        from .losses import make_loss

        if resume is not None:
            spec = resume.spec
            train = train or resume.train
            loss = loss or resume.loss
            preprocess = resume.preprocess
            class_names = class_names or resume.class_names
        self.spec = spec
        self.train_config = train or TrainConfig()
        self.loss_config = loss or LossConfig()
        self.preprocess = preprocess or PreprocessConfig()
        self.class_names = tuple(class_names) or tuple(
            f"class {i}" for i in range(1, spec.num_classes + 1)
        )
        pairs = [LabeledImage(as_channels(p.image), p.labels) for p in pairs]
        check_pairs(pairs, spec.num_classes)
        self.preprocess = self.preprocess.replace(
            channels=training_channels(pairs, spec.in_channels))
        self.output = self.train_config.output
        if self.output:
            check_writable(self.output)
        self.backend = get_backend(backend, bf16=self.train_config.bf16)
        self.loss = make_loss(self.loss_config)
        self.graph = dense_graph(spec)
        self.patch = self.graph.patch_geometry(self.train_config.output_size)
        self._images = [preprocess_channels(p.image, self.preprocess) for p in pairs]
        self._labels = [np.array(p.labels, np.int64, copy=True) for p in pairs]
        self._validation = list(validation)
        self.held_out = self._hold_out_strokes()
        self.sampler = self._make_sampler()
        self.average = WeightAverage(self.train_config.average) if (
            self.train_config.average) else None
        self._served: tuple[Any, Any] = (None, None)
        self.iteration = 0
        self.history: list[float] = []
        start = resume or init_from
        if start is None and self.train_config.anchor_decay:
            # random start weights hold nothing worth keeping: the pull would only slow learning
            self.train_config = self.train_config.replace(anchor_decay=0.0)
        weights = start.weights if start else init_weights(self.graph, self.train_config.seed)
        opt_state = resume.optimizer_state if resume else None
        if resume:
            self.iteration = resume.iteration
            self.history = list(resume.history)
            if resume.rng_state:
                self.sampler.set_state(resume.rng_state)
        self.model = self._trainable(weights, opt_state)
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    # ------------------------------------------------------------ control
    def stop(self) -> None:
        """Ask the run to stop after the current iteration."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def _trainable(self, weights: Any, optimizer_state: Any) -> TrainableModel:
        return self.backend.trainable(
            self.graph,
            weights,
            train=self.train_config,
            loss=self.loss,
            optimizer_state=optimizer_state,
        )

    # ------------------------------------------------------------ data
    def _hold_out_strokes(self) -> HeldOutStrokes | None:
        """Move a seeded share of whole strokes from the training labels to validation."""
        cfg = self.train_config
        if not cfg.holdout:
            return None
        from .data.holdout import split_strokes

        parts = [split_strokes(lab, cfg.holdout, seed=cfg.seed + i)
                 for i, lab in enumerate(self._labels)]
        held = HeldOutStrokes.from_labels(
            self._images, [val for _, val in parts], patch=self.patch)
        if held is None:
            log.warning("no stroke could be held out (one stroke per class): not validating")
            return None
        self._labels = [train for train, _ in parts]
        return held

    def _make_sampler(self) -> Any:
        from .data.batches import TrainingSampler

        return TrainingSampler(
            self._images,
            self._labels,
            patch=self.patch,
            num_classes=self.spec.num_classes,
            loss=self.loss_config,
            augment=self.train_config.augment,
            seed=self.train_config.seed,
        )

    # ------------------------------------------------------------ state
    def candidate_weights(self) -> dict[str, np.ndarray]:
        """The weights validation judges: the running average if enabled, else current."""
        if self.average is not None and self.average.weights is not None:
            return self.average.weights
        return self.model.weights()

    def served_weights(self) -> dict[str, np.ndarray]:
        """The weights the preview, Predict and checkpoints use.

        The best on the held-out strokes when there are any, else the
        candidate weights.
        """
        if self.held_out is not None and self.held_out.best_weights is not None:
            return self.held_out.best_weights
        return self.candidate_weights()

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(
            spec=self.spec,
            weights=self.served_weights(),
            preprocess=self.preprocess,
            class_names=self.class_names,
            iteration=self.iteration,
            optimizer_state=self.model.optimizer_state(),
            train=self.train_config,
            loss=self.loss_config,
            history=list(self.history),
            rng_state=self.sampler.get_state(),
        )

    def _save(self) -> str | None:
        if not self.output:
            return None
        return os.fspath(self.checkpoint().save(self.output))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities with the served weights (live preview)."""
        if self.held_out is None and self.average is None:
            return self.model.predict(batch)
        weights = self.served_weights()
        token, predictor = self._served
        if token is not weights:  # served dictionaries are replaced, never mutated
            predictor = self.backend.build(self.graph, weights)
            self._served = (weights, predictor)
        return predictor(batch)

    # ------------------------------------------------------------ loop
    def run(self) -> Iterator[TrainEvent]:
        """Train to ``train.iterations``; yield events; stop/pause cooperatively."""
        cfg = self.train_config
        yield TrainingStarted(cfg.iterations, self.iteration)
        first = self.iteration
        last_good = self.checkpoint()
        saved: str | None = None
        tic = time.perf_counter()
        clock = TrainingClock(cfg.seconds)
        labels_done = 0
        while self.iteration < cfg.iterations and not clock.expired():
            if not self._running.is_set():
                with clock.paused():
                    self._running.wait()
            if self._stop.is_set():
                # stopped before its first step: keep whatever checkpoint is already there
                saved = self._save() if self.iteration > first else None
                yield TrainingStopped(self.iteration, "stopped by the user", saved)
                return
            lr = learning_rate(cfg, self.iteration)
            images, labels = self.sampler.sample(cfg.batch_size)
            batch = LossBatch.from_patches(
                images,
                labels,
                context_lo=self.patch.context_lo,
                class_weights=self.sampler.class_weights,
            )
            value = self.model.train_step(images, batch, lr)
            if not math.isfinite(value):
                yield from self._diverged(last_good, value)
                return
            self.iteration += 1
            self.history.append(value)
            labels_done += labels.size
            if self.average is not None and self.iteration % self.average.every == 0:
                self.average.update(self.model.weights())
            if self.iteration % cfg.event_every == 0 or self.iteration == cfg.iterations:
                elapsed = max(time.perf_counter() - tic, 1e-9)
                yield IterationDone(self.iteration, value, lr, labels_done / elapsed)
                tic, labels_done = time.perf_counter(), 0
            if cfg.validate_every and self.iteration % cfg.validate_every == 0:
                metrics = self.validate()
                if metrics:
                    yield Validated(self.iteration, metrics)
            if cfg.checkpoint_every and self.iteration % cfg.checkpoint_every == 0:
                last_good = self.checkpoint()
                saved = self._save()
                if saved:
                    yield CheckpointSaved(self.iteration, saved)
        saved = self._save()
        if saved:
            yield CheckpointSaved(self.iteration, saved)
        yield TrainingFinished(self.iteration, saved)

    def _diverged(self, last_good: Checkpoint, value: float) -> Iterator[TrainEvent]:
        log.error("loss became %s at iteration %d", value, self.iteration + 1)
        self.model = self._trainable(last_good.weights, last_good.optimizer_state)
        self.iteration = last_good.iteration
        self.history = list(last_good.history)
        saved = self._save()
        yield TrainingStopped(
            self.iteration,
            f"loss became {value} at iteration {self.iteration + 1}; kept the weights of "
            f"iteration {last_good.iteration} (try a lower learning rate)",
            saved,
        )

    def validate(self) -> dict[str, float]:
        """Held-out stroke accuracy (keeping the best weights) and validation images."""
        metrics = self._validate_held_out()
        if not self._validation:
            return metrics
        from .predict import predict_image

        correct = total = 0
        for pair in self._validation:
            image = model_input(pair.image, self.spec.in_channels, self.preprocess.channels)
            prob = predict_image(self.model.predict, self.graph, image,
                                 preprocess=self.preprocess)
            pred = prob.argmax(0) + 1
            labels = np.asarray(pair.labels)
            mask = labels > 0
            correct += int((pred[mask] == labels[mask]).sum())
            total += int(mask.sum())
        return {**metrics, "pixel_accuracy": correct / max(total, 1)}

    def _validate_held_out(self) -> dict[str, float]:
        held = self.held_out
        if held is None:
            return {}
        if self.average is not None and self.average.weights is not None:
            weights = self.average.weights
            predict = self.backend.build(self.graph, weights)
        else:
            weights, predict = None, self.model.predict
        score = held.score(predict)
        held.offer(self.iteration, score,
                   (lambda: weights) if weights is not None else self.model.weights)
        return {"held_out_accuracy": score, "best_held_out_accuracy": held.best_score,
                "kept_iteration": float(held.best_iteration)}

    def fit(self) -> Checkpoint:
        """Drain :meth:`run`, logging progress; return the final checkpoint."""
        for event in self.run():
            if isinstance(event, IterationDone):
                log.info("iter %d loss %.5f lr %.2e", event.iteration, event.loss, event.lr)
            elif isinstance(event, TrainingStopped):
                log.warning("training stopped: %s", event.reason)
            else:
                log.info("%s", event)
        return self.checkpoint()
