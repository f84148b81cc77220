"""Frozen, validated configuration objects.

Every run of the tool can be rebuilt from these dataclasses: they are stored
(via ``to_dict``) in every checkpoint and never hold napari layers, Qt
objects or tensors. Validation happens in ``__post_init__`` so a bad value is
reported where it is made, with the conflicting values quoted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

CLASS_BALANCES: tuple[str, ...] = ("none", "histeq", "weights")
InitKind = Literal["paper", "he"]


class _Serializable:
    """``to_dict``/``from_dict`` shared by all config classes."""

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown field(s) {unknown}; known: {sorted(names)}"
            )
        kwargs = {}
        for key, value in data.items():
            kwargs[key] = tuple(value) if isinstance(value, list) else value
        return cls(**kwargs)

    def replace(self, **changes: Any):
        """Return a copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def _positive(owner: str, name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")


def _positive_field(default: int) -> Any:
    """A field that must hold an integer >= 1.

    The constraint sits on the field, so a new size or count cannot be left
    out of a hand-kept list of names; ``_check_positive_fields`` enforces it.
    """
    return field(default=default, metadata={"positive": True})


def _check_positive_fields(config: Any, owner: str) -> None:
    for f in dataclasses.fields(config):
        if f.metadata.get("positive"):
            _positive(owner, f.name, getattr(config, f.name))


@dataclass(frozen=True, kw_only=True)
class ModelSpec(_Serializable):
    """Describes one network; ``models.build_graph`` expands it into layers.

    ``kind`` is an architecture registered in ``models``. The fields used
    depend on it (each architecture's file says which):

    * ``sw`` / ``sk``: a sliding-window stack ``conv(kernel_sizes[i],
      fmaps[i]) -> ReLU -> maxpool(pool)`` for each stage, then fully
      connected layers ``fc`` and a classifier. ``window`` is the SW input
      size (the receptive field). ``sk`` is the same network in strided-kernel
      form: pool strides become dilations, same weights, dense output.
    * ``u``: U-Net with ``depth`` poolings, ``base_fmaps`` doubled
      (``fmap_inc``) per level, ``convs_per_level`` valid
      ``unet_kernel``-convs per level, nearest 2x upsampling followed by a
      learned 1x1 conv halving the channels, centre crop-concat.
    * ``usk``: a depth-1 U-Net (``base_fmaps``) whose bottom is an SK-Net
      given by ``kernel_sizes``/``fmaps``/``fc``/``window`` at half
      resolution.
    """

    kind: str
    in_channels: int = _positive_field(1)
    num_classes: int = 2
    # sliding-window / strided-kernel part (sw, sk, and the usk bottom)
    kernel_sizes: tuple[int, ...] = (7, 5, 3)
    fmaps: tuple[int, ...] = (48, 128, 192)
    fc: tuple[int, ...] = (1024, 512)
    window: int = _positive_field(102)
    pool: int = _positive_field(2)
    # U-Net part (u, usk)
    depth: int = _positive_field(4)
    base_fmaps: int = _positive_field(64)
    fmap_inc: int = _positive_field(2)
    convs_per_level: int = _positive_field(2)
    unet_kernel: int = _positive_field(3)
    # initial weights, all kinds
    init: InitKind = "he"

    def __post_init__(self) -> None:
        owner = f"ModelSpec(kind={self.kind!r})"
        from .models import architecture

        architecture(self.kind)  # raises ValueError naming the registered kinds
        _check_positive_fields(self, owner)
        if self.num_classes < 2:
            raise ValueError(f"{owner}: num_classes must be >= 2, got {self.num_classes}")
        if len(self.kernel_sizes) != len(self.fmaps):
            raise ValueError(
                f"{owner}: kernel_sizes {self.kernel_sizes} and fmaps {self.fmaps} "
                "must have the same length (one entry per conv/pool stage)"
            )
        for i, (k, f) in enumerate(zip(self.kernel_sizes, self.fmaps, strict=True)):
            _positive(owner, f"kernel_sizes[{i}]", k)
            _positive(owner, f"fmaps[{i}]", f)
        for i, f in enumerate(self.fc):
            _positive(owner, f"fc[{i}]", f)
        if self.init not in ("paper", "he"):
            raise ValueError(f"{owner}: init must be 'paper' or 'he', got {self.init!r}")


@dataclass(frozen=True, kw_only=True)
class PreprocessConfig(_Serializable):
    """Intensity preprocessing applied per 2-D slice before the network.

    ``minmax`` maps the slice's [min, max] to [-1, 1] (the paper's tool);
    ``percentile`` maps the given percentiles to [-1, 1] (robust to
    outliers). CLAHE (scikit-image) is optional because it needs the whole
    slice in memory.

    ``stats`` says which pixels the statistics come from. ``sample`` (the
    default) reads a fixed strided grid: every ``step``-th row and column
    with ``step = max(1, int(sqrt(height * width / stat_samples)))``, so a
    16384^2 slice costs one 2048^2 read instead of a full pass before the
    first block, and slices up to ``stat_samples`` pixels use every pixel.
    The grid depends only on the slice's shape, so training, tiled and
    whole-image prediction of the same image get the same numbers. ``full``
    reads every pixel (exact minimum/maximum/percentiles).

    ``channels`` are the indices along the image's channel axis the network
    reads, in order; empty for a grey image (no channel axis). Each channel
    is normalised with its own statistics. A checkpoint keeps them, so
    prediction reads the channels training read.
    """

    normalize: Literal["minmax", "percentile"] = "minmax"
    percentiles: tuple[float, float] = (1.0, 99.8)
    clahe: bool = False
    clahe_clip: float = 0.01
    stats: Literal["sample", "full"] = "sample"
    stat_samples: int = _positive_field(4_000_000)
    channels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if any(not isinstance(c, int) or isinstance(c, bool) or c < 0 for c in self.channels):
            raise ValueError(f"channels must be indices >= 0, got {list(self.channels)}")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"channels {list(self.channels)} name a channel twice")
        if self.normalize not in ("minmax", "percentile"):
            raise ValueError(
                f"normalize must be 'minmax' or 'percentile', got {self.normalize!r}"
            )
        if self.stats not in ("sample", "full"):
            raise ValueError(f"stats must be 'sample' or 'full', got {self.stats!r}")
        _check_positive_fields(self, "PreprocessConfig")
        lo, hi = self.percentiles
        if not 0.0 <= lo < hi <= 100.0:
            raise ValueError(f"percentiles must satisfy 0 <= lo < hi <= 100, got {lo}, {hi}")


@dataclass(frozen=True, kw_only=True)
class LossConfig(_Serializable):
    """Training loss (a name registered in ``losses``) and the data's class balance.

    ``malis_*`` parameterise the MALIS loss; the class-balance fields decide
    how patches are drawn and which class weights reach the loss.
    """

    kind: str = "softmax"
    class_balance: str = "none"
    patch_prior: bool = True
    masking: bool = True
    label_boost: tuple[float, ...] = ()
    malis_margin: float = 0.3
    malis_threshold: float = 0.5
    malis_variant: Literal["hinge", "square"] = "hinge"
    malis_constrained: bool = True
    weight_clip: tuple[float, float] = (0.05, 20.0)
    crf_weight: float = 0.3
    crf_radius: int = _positive_field(5)
    crf_sigma_xy: float = 3.0
    crf_sigma_i: float = 0.15

    def __post_init__(self) -> None:
        from .losses import loss_names

        if self.kind not in loss_names():
            raise ValueError(
                f"unknown loss {self.kind!r}; accepted: {', '.join(loss_names())}"
            )
        if self.class_balance not in CLASS_BALANCES:
            raise ValueError(
                f"class_balance must be one of {', '.join(CLASS_BALANCES)}, "
                f"got {self.class_balance!r}"
            )
        if self.malis_variant not in ("hinge", "square"):
            raise ValueError(
                f"malis_variant must be 'hinge' or 'square', got {self.malis_variant!r}"
            )
        if any(b <= 0 for b in self.label_boost):
            raise ValueError(f"label_boost entries must be > 0, got {self.label_boost}")
        if self.crf_weight < 0 or self.crf_sigma_xy <= 0 or self.crf_sigma_i <= 0:
            raise ValueError(
                "crf_weight must be >= 0 and the CRF sigmas > 0, got "
                f"{self.crf_weight}, {self.crf_sigma_xy}, {self.crf_sigma_i}"
            )
        _check_positive_fields(self, "LossConfig")


#: ``TrainConfig.threads``: measure which thread count trains faster right now.
ADAPTIVE_THREADS = -1


@dataclass(frozen=True, kw_only=True)
class TrainConfig(_Serializable):
    """Optimisation schedule and bookkeeping of one training run.

    Training stops at ``iterations`` or after ``seconds`` of training
    (0 = no time limit), whichever comes first. ``holdout`` > 0 holds out
    that share of the painted strokes (whole strokes, seeded) for
    validation every ``validate_every`` iterations, and the best weights on
    them are the ones the trainer predicts with and saves. ``average`` > 0
    predicts (and validates) with an exponential moving average of the
    weights with that decay per iteration. ``anchor_decay`` > 0 moves every
    weight, after each optimiser step, that fraction of the way back to the
    weights this run started from (L2-SP in decoupled form): a pretrained
    start keeps what it learned from the whole image, and a few strokes
    cannot drag the network far from it however long training runs. A
    run from random weights (no ``init_from``/``resume``) turns it off.
    ``bf16`` runs the torch forward
    pass under bfloat16 autocast (the OpenCL backend stays in float32).
    ``threads`` > 0 caps the CPU threads torch uses for training (0: torch's
    default, one per core); -1 lets the trainer measure whether all cores or
    one fewer train faster while other work (napari's GUI) shares the CPU,
    and re-measure as that load changes (the Train widget's choice). OpenCL
    ignores it: PoCL sizes its thread pool when its context starts.
    """

    iterations: int = _positive_field(500)
    seconds: float = 0.0
    holdout: float = 0.0
    average: float = 0.0
    bf16: bool = False
    threads: int = 0
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 1e-3
    momentum: float = 0.99
    weight_decay: float = 0.0
    anchor_decay: float = 0.0
    lr_policy: Literal["fixed", "inv"] = "fixed"
    inv_gamma: float = 1e-4
    inv_power: float = 0.75
    batch_size: int = _positive_field(1)
    output_size: int = _positive_field(64)
    seed: int = 0
    augment: bool = True
    checkpoint_every: int = 0
    validate_every: int = 0
    event_every: int = _positive_field(1)
    output: str | None = None
    class_names: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _check_positive_fields(self, "TrainConfig")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.lr_policy not in ("fixed", "inv"):
            raise ValueError(f"lr_policy must be 'fixed' or 'inv', got {self.lr_policy!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.seconds < 0:
            raise ValueError(f"seconds must be >= 0 (0 = no time limit), got {self.seconds}")
        if self.threads < ADAPTIVE_THREADS:
            raise ValueError(f"threads must be >= -1 (0 = torch's default, -1 = adaptive), "
                             f"got {self.threads}")
        if not 0 <= self.holdout < 1:
            raise ValueError(f"holdout must lie in [0, 1), got {self.holdout}")
        if not 0 <= self.anchor_decay < 1:
            raise ValueError(f"anchor_decay must lie in [0, 1), got {self.anchor_decay}")
        if not 0 <= self.average < 1:
            raise ValueError(f"average (EMA decay) must lie in [0, 1), got {self.average}")
        if self.holdout and not self.validate_every:
            raise ValueError("holdout needs validate_every > 0 (how often to validate)")


@dataclass(frozen=True, kw_only=True)
class PretrainConfig(_Serializable):
    """Budget and schedule of self-supervised pretraining (:mod:`.pretrain`).

    Pretraining ends after ``seconds`` (the whole run, the filter responses
    included; 0 = no time limit) or ``iterations`` (0 = no limit),
    whichever comes first; one of them must be set. ``threads`` is
    :attr:`TrainConfig.threads`. The other fields are those of
    :class:`TrainConfig`; Adam at ``lr`` is the optimiser.
    """

    seconds: float = 300.0
    iterations: int = 0
    lr: float = 1e-3
    batch_size: int = _positive_field(2)
    output_size: int = _positive_field(128)
    seed: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        _check_positive_fields(self, "PretrainConfig")
        if self.seconds < 0 or self.iterations < 0:
            raise ValueError(f"PretrainConfig: seconds and iterations must be >= 0, got "
                             f"{self.seconds}, {self.iterations}")
        if not self.seconds and not self.iterations:
            raise ValueError("PretrainConfig: give a time budget (seconds) or an iteration "
                             "limit; with neither it would never end")
        if not self.lr > 0:
            raise ValueError(f"PretrainConfig: lr must be > 0, got {self.lr}")
        if self.threads < ADAPTIVE_THREADS:
            raise ValueError(f"PretrainConfig: threads must be >= -1, got {self.threads}")
