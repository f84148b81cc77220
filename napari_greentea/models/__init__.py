"""Architecture registry: ``build_graph(spec)`` and the named presets.

Each architecture is described once, as a graph builder; backends only
interpret graphs. Presets:

* ``paper``: layer-by-layer the networks of Tschopp 2015 (facts §1), with one
  input channel (the paper fed three identical grey channels, which is the
  same network with the first-layer weights summed).
* ``interactive``: small networks that train in seconds on a 2-core CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import MODEL_KINDS, ModelSpec
from ..graph import Graph
from .sliding_window import build_sk, build_sw, sw_to_sk
from .unet import build_u
from .usknet import build_usk

BUILDERS: dict[str, Callable[[ModelSpec], Graph]] = {
    "sw": build_sw,
    "sk": build_sk,
    "u": build_u,
    "usk": build_usk,
}

_PAPER_SW = dict(kernel_sizes=(7, 5, 3), fmaps=(48, 128, 192), fc=(1024, 512), window=102)
_PAPER_USK_BOTTOM = dict(kernel_sizes=(6, 4, 4), fmaps=(128, 128, 128), fc=(512, 256), window=87)

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "sw": dict(_PAPER_SW, init="paper"),
        "sk": dict(_PAPER_SW, init="paper"),
        "u": dict(depth=4, base_fmaps=64),
        "usk": dict(_PAPER_USK_BOTTOM, base_fmaps=64, init="paper"),
    },
    "interactive": {
        "sw": dict(kernel_sizes=(5, 5, 3), fmaps=(16, 32, 32), fc=(64,), window=52),
        "sk": dict(kernel_sizes=(5, 5, 3), fmaps=(16, 32, 32), fc=(64,), window=52),
        "u": dict(depth=2, base_fmaps=16),
        "usk": dict(kernel_sizes=(3, 3), fmaps=(24, 24), fc=(48,), window=18, base_fmaps=16),
    },
}

#: Output tile edge of the paper's benchmark/processing configs (facts §3, §4).
PAPER_TILES: dict[str, int] = {"sk": 128, "u": 388, "usk": 512}


def preset(kind: str, name: str = "interactive", **overrides: Any) -> ModelSpec:
    """A :class:`ModelSpec` for architecture ``kind`` from preset ``name``."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown architecture {kind!r}; accepted: {', '.join(MODEL_KINDS)}")
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; accepted: {', '.join(PRESETS)}")
    return ModelSpec(kind=kind, **{**PRESETS[name][kind], **overrides})


def build_graph(spec: ModelSpec) -> Graph:
    """Expand ``spec`` into its layer graph (validated, pure Python)."""
    graph = BUILDERS[spec.kind](spec)
    graph.channels()
    graph.smallest_valid_input()
    return graph


def dense_graph(spec: ModelSpec) -> Graph:
    """The graph used for dense prediction: SW runs as its exact SK form."""
    return build_graph(sw_to_sk(spec) if spec.kind == "sw" else spec)


__all__ = [
    "BUILDERS",
    "PAPER_TILES",
    "PRESETS",
    "build_graph",
    "dense_graph",
    "preset",
    "sw_to_sk",
]
