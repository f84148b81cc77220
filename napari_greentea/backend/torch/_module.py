"""The graph interpreted as an ``nn.Module``.

Parameter names equal the weight keys (``conv1.weight``), so weights move
between torch, OpenCL and checkpoints without renaming. The forward pass
uses formulations that are exact but faster on CPU: stride-1 dilated
max-pool as shifted maxima (no index bookkeeping), 1x1 convolutions as
matmuls, in-place ReLU at inference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ...weights import check_weights

if TYPE_CHECKING:
    import torch

    from ...graph import Graph


def _shifted_max(x: torch.Tensor, kernel: int, dilation: int, dim: int) -> torch.Tensor:
    import torch

    out_len = x.shape[dim] - (kernel - 1) * dilation
    result = x.narrow(dim, 0, out_len)
    for tap in range(1, kernel):
        result = torch.maximum(result, x.narrow(dim, tap * dilation, out_len))
    return result


def _is_tiling_pool(node: Any, x: torch.Tensor) -> bool:
    """A k x k / k max-pool over a size divisible by k: a reshape + amax, no indices."""
    k = node.kernel
    return (
        node.stride == k and node.dilation == 1 and x.shape[-1] % k == 0
        and x.shape[-2] % k == 0 and not torch_grad_enabled()
    )


def torch_grad_enabled() -> bool:
    import torch

    return torch.is_grad_enabled()


def _make_module_class() -> type:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class GraphModule(nn.Module):
        """Executes a :class:`Graph`; ``forward(x, logits=False)``."""

        def __init__(self, graph: Graph) -> None:
            super().__init__()
            self.graph = graph
            # nearest upsampling followed only by a 1x1 conv: run the conv first (they
            # commute exactly) on 4x fewer pixels
            consumers: dict[str, list[str]] = {}
            for node in graph.nodes:
                for src in node.inputs:
                    consumers.setdefault(src, []).append(node.name)
            self._conv_before_upsample = {
                node.name: node.inputs[0]
                for node in graph.nodes
                if node.op == "conv" and node.kernel == 1 and node.inputs
                and graph[node.inputs[0]].op == "upsample"
                and consumers[node.inputs[0]] == [node.name]
            }
            for node in graph.nodes:
                if node.op == "conv":
                    k = node.kernel
                    self.register_parameter(
                        f"{node.name}__weight",
                        nn.Parameter(torch.zeros(node.out_channels, node.in_channels, k, k)),
                    )
                    self.register_parameter(
                        f"{node.name}__bias", nn.Parameter(torch.zeros(node.out_channels))
                    )

        # torch forbids '.' in parameter names; keys map '__' <-> '.'
        def weight_dict(self) -> dict[str, torch.Tensor]:
            return {k.replace("__", "."): v for k, v in self.named_parameters()}

        def load_weights(self, weights: Mapping[str, np.ndarray]) -> None:
            check_weights(self.graph, weights)
            with torch.no_grad():
                for key, param in self.weight_dict().items():
                    param.copy_(torch.as_tensor(np.asarray(weights[key], np.float32)))

        def _conv(self, node: Any, x: torch.Tensor) -> torch.Tensor:
            w = getattr(self, f"{node.name}__weight")
            b = getattr(self, f"{node.name}__bias")
            if node.kernel == 1:
                n, c, h, wd = x.shape
                y = torch.matmul(w.view(node.out_channels, c), x.reshape(n, c, h * wd))
                return (y + b.view(1, -1, 1)).view(n, node.out_channels, h, wd)
            return F.conv2d(x, w, b, dilation=node.dilation)

        def forward(self, x: torch.Tensor, logits: bool = False) -> torch.Tensor:
            values: dict[str, torch.Tensor] = {}
            stop = self.graph.logits.name if logits else None
            for node in self.graph.nodes:
                src = values[node.inputs[0]] if node.inputs else x
                if node.op == "input":
                    out = x
                elif node.op == "conv" and node.name in self._conv_before_upsample:
                    pre = values[self.graph[node.inputs[0]].inputs[0]]
                    out = F.interpolate(self._conv(node, pre), scale_factor=2, mode="nearest")
                elif node.op == "conv":
                    out = self._conv(node, src)
                elif node.op == "relu":
                    out = torch.relu_(src) if not torch.is_grad_enabled() else F.relu(src)
                elif node.op == "pool":
                    if node.stride == 1:
                        out = _shifted_max(src, node.kernel, node.dilation, 2)
                        out = _shifted_max(out, node.kernel, node.dilation, 3)
                    elif _is_tiling_pool(node, src):
                        n, c, h, w = src.shape
                        k = node.kernel
                        out = src.view(n, c, h // k, k, w // k, k).amax(dim=(3, 5))
                    else:
                        out = F.max_pool2d(
                            src, node.kernel, node.stride, dilation=node.dilation
                        )
                elif node.op == "upsample":
                    fused = node.name in self._conv_before_upsample.values()
                    out = src if fused else F.interpolate(src, scale_factor=2, mode="nearest")
                elif node.op == "crop_concat":
                    skip = values[node.inputs[1]]
                    h, w = src.shape[-2:]
                    oy, ox = (skip.shape[-2] - h) // 2, (skip.shape[-1] - w) // 2
                    out = torch.cat([src, skip[..., oy : oy + h, ox : ox + w]], 1)
                elif node.op == "softmax":
                    out = torch.softmax(src, 1)
                else:  # pragma: no cover - Graph validates op kinds
                    raise ValueError(f"unsupported op {node.op}")
                values[node.name] = out
                if node.name == stop:
                    return out
            return values[self.graph.output.name]

    return GraphModule


_MODULE_CLASS: type | None = None


def build_module(graph: Graph, weights: Mapping[str, np.ndarray] | None = None) -> Any:
    """An ``nn.Module`` for ``graph`` (weights loaded when given)."""
    global _MODULE_CLASS
    if _MODULE_CLASS is None:
        _MODULE_CLASS = _make_module_class()
    module = _MODULE_CLASS(graph)
    if weights is not None:
        module.load_weights(weights)
    return module


def run_inference(module: Any, batch: np.ndarray, device: Any, *,
                  bf16: bool = False) -> np.ndarray:
    """Class probabilities of ``module`` for a float32 ``N,C,Y,X`` batch.

    ``bf16``: convolutions and matmuls under bfloat16 autocast (weights stay
    float32); the probabilities come back float32 either way, since numpy
    has no bfloat16 and the stores hold float32 or uint8.
    """
    import torch

    with torch.inference_mode():
        x = torch.as_tensor(np.ascontiguousarray(batch, np.float32), device=device)
        if not bf16:
            return module(x).cpu().numpy()
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            out = module(x)
        return out.float().cpu().numpy()
