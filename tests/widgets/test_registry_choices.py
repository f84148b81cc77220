"""The Train widget offers what the registries hold, including a toy added by a test."""

from __future__ import annotations

import pytest

from napari_greentea.widgets._train import TrainWidget

pytestmark = pytest.mark.gui



def test_builtin_architectures_and_knobs(make_napari_viewer):
    from napari_greentea.models import ARCHITECTURES

    train = TrainWidget(make_napari_viewer())
    assert list(train._arch_combo.choices) == list(ARCHITECTURES)
    train._arch_combo.value = "u"
    assert set(train._knob_spins) == {"base_fmaps", "depth"}
    train._preset_combo.value = "paper"
    assert train._knob_spins["base_fmaps"].value == 64
    train._arch_combo.value = "sk"
    assert set(train._knob_spins) == {"fmaps"}
    train._knob_spins["fmaps"].value = 8
    spec = train._read_config()["spec"]
    assert spec.kind == "sk" and spec.fmaps == (8, 21, 32)  # paper 48, 128, 192 scaled


def test_toy_architecture_and_loss_appear(make_napari_viewer, toy_registry):
    arch, loss = toy_registry
    train = TrainWidget(make_napari_viewer())
    assert arch in list(train._arch_combo.choices)
    assert loss in list(train._loss_combo.choices)
    train._arch_combo.value = arch
    assert list(train._preset_combo.choices) == ["interactive"]
    train._knob_spins["base_fmaps"].value = 5
    train._loss_combo.value = loss
    cfg = train._read_config()
    assert cfg["spec"].kind == arch and cfg["spec"].base_fmaps == 5
    assert cfg["loss"].kind == loss
