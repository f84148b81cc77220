"""Architectures: ``build_graph(spec)``, presets and the registry.

Each architecture is one file in this package that defines a graph builder
and an :class:`Architecture` (display name, presets, user knobs), plus one
``register_architecture`` line below; backends only interpret graphs.
Presets:

* ``paper``: layer-by-layer the networks of Tschopp 2015, with one input
  channel (the paper fed three identical grey channels, which is the same
  network with the first-layer weights summed).
* ``interactive``: small networks that train in seconds on a 2-core CPU.
"""

from __future__ import annotations

from typing import Any

from ..config import ModelSpec
from ..graph import Graph
from ._registry import (
    ARCHITECTURES,
    Architecture,
    Knob,
    architecture,
    architecture_names,
    preset_names,
    register_architecture,
)
from .sliding_window import SK_NET, SW_NET, sw_to_sk
from .unet import U_NET
from .usknet import USK_NET

register_architecture(U_NET)
register_architecture(USK_NET)
register_architecture(SK_NET)
register_architecture(SW_NET)


def __getattr__(name: str) -> Any:
    if name == "PAPER_TILES":  # output tile edge of the paper's processing configs
        return {k: a.paper_tile for k, a in ARCHITECTURES.items() if a.paper_tile}
    raise AttributeError(name)


def preset(kind: str, name: str = "interactive", **overrides: Any) -> ModelSpec:
    """A :class:`ModelSpec` for architecture ``kind`` from preset ``name``."""
    presets = architecture(kind).presets
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; accepted: {', '.join(presets)}")
    return ModelSpec(kind=kind, **{**presets[name], **overrides})


def build_graph(spec: ModelSpec) -> Graph:
    """Expand ``spec`` into its layer graph (validated, pure Python)."""
    graph = architecture(spec.kind).builder(spec)
    graph.channels()
    graph.smallest_valid_input()
    return graph


def dense_graph(spec: ModelSpec) -> Graph:
    """The graph used for training and dense prediction (SW runs as its exact SK form)."""
    dense = architecture(spec.kind).dense
    return build_graph(dense(spec) if dense else spec)


__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "Knob",
    "PAPER_TILES",
    "architecture",
    "architecture_names",
    "build_graph",
    "dense_graph",
    "preset",
    "preset_names",
    "register_architecture",
    "sw_to_sk",
]
