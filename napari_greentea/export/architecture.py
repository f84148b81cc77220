"""The ``pytorch_state_dict`` architecture of exported bioimage.io packages.

A package's rdf names :func:`greentea_network` as the callable and the
:class:`~napari_greentea.config.ModelSpec` dictionary as its keyword
arguments, so any tool with napari-greentea installed rebuilds the exact
module (the graph interpreter of the torch backend) that the state dict fits.
"""

from __future__ import annotations

from typing import Any


def greentea_network(spec: dict[str, Any]) -> Any:
    """The dense-prediction ``nn.Module`` (softmax output) for a model spec dictionary."""
    from ..backend.torch import build_module
    from ..config import ModelSpec
    from ..models import dense_graph

    return build_module(dense_graph(ModelSpec.from_dict(dict(spec))))
