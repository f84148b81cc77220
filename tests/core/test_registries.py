"""A loss and an architecture registered from outside reach every seam.

The ``toy_registry`` fixture (tests/conftest.py) registers them the way a
contributor would; nothing else in the package is edited.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.cli import build_parser


def _choices(parser, command, option):
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return next(a for a in sub._actions if option in a.option_strings).choices


def test_builtin_choices_come_from_the_registries():
    from napari_greentea.losses import loss_names
    from napari_greentea.models import architecture_names

    parser = build_parser()
    assert tuple(_choices(parser, "train", "--arch")) == architecture_names()
    assert tuple(_choices(parser, "predict", "--arch")) == architecture_names()
    assert tuple(_choices(parser, "train", "--loss")) == loss_names()
    assert set(architecture_names()) == {"u", "usk", "sk", "sw"}
    assert set(loss_names()) == {"softmax", "malis", "softmax+crf"}


def test_toy_appears_in_cli_choices(toy_registry):
    arch, loss = toy_registry
    parser = build_parser()
    assert arch in _choices(parser, "train", "--arch")
    assert loss in _choices(parser, "train", "--loss")
    args = parser.parse_args(
        ["train", "i.npy", "l.npy", "--output", "o.npz", "--arch", arch, "--loss", loss,
         "--knob", "base_fmaps=6"]
    )
    from napari_greentea.cli import _spec

    assert _spec(args).base_fmaps == 6


def test_unknown_knob_is_a_clear_error():
    from napari_greentea.cli import _spec

    args = build_parser().parse_args(["train", "i", "l", "--output", "o", "--knob", "depth=x"])
    with pytest.raises(ValueError, match="NAME=INTEGER with NAME one of base_fmaps, depth"):
        _spec(args)


def test_unknown_names_list_the_registered_ones():
    from napari_greentea.config import LossConfig, ModelSpec

    with pytest.raises(ValueError, match="accepted: softmax, malis"):
        LossConfig(kind="dice")
    with pytest.raises(ValueError, match="accepted: u, usk, sk, sw"):
        ModelSpec(kind="vgg")


def _backends():
    from napari_greentea.backend import available_backends

    found = available_backends()
    return [name for name in ("torch-cpu", "opencl") if name in found]


@pytest.mark.parametrize("backend", ["torch-cpu", "opencl"])
def test_toy_trains_on_every_backend(toy_registry, synthetic_pair, backend):
    if backend not in _backends():
        pytest.skip(f"{backend} is not available here")
    from napari_greentea.config import LossConfig, TrainConfig
    from napari_greentea.models import preset
    from napari_greentea.train import LabeledImage, Trainer

    arch, loss = toy_registry
    image, labels = synthetic_pair
    trainer = Trainer(
        preset(arch), [LabeledImage(image, labels)], backend=backend,
        train=TrainConfig(iterations=30, lr=1e-2, output_size=32, augment=False),
        loss=LossConfig(kind=loss),
    )
    ckpt = trainer.fit()
    assert ckpt.spec.kind == arch and ckpt.loss.kind == loss
    first, last = np.mean(trainer.history[:5]), np.mean(trainer.history[-5:])
    assert np.isfinite(trainer.history).all() and last < first
