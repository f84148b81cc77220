"""Graph interpreter on OpenCL: forward for inference, forward+backward for training.

A ReLU that is the only consumer of a convolution is fused into the
convolution kernel (its output is the ReLU's value; the ReLU backward needs
only that output). Activations are freed after their last use in inference,
so peak memory is about that of the widest pair of layers plus skips.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...graph import Graph, Node
from ...weights import check_weights
from ._memory import Tensor
from ._ops import Ops


def _consumers(graph: Graph) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    for node in graph.nodes:
        for src in node.inputs:
            users[src].append(node.name)
    return users


def fused_convs(graph: Graph) -> set[str]:
    """Convolutions whose only consumer is a ReLU (computed with the ReLU fused)."""
    users = _consumers(graph)
    return {
        n.name
        for n in graph.nodes
        if n.op == "conv" and len(users[n.name]) == 1 and graph[users[n.name][0]].op == "relu"
    }


class _Runner:
    """Shared forward pass over the device-resident parameters."""

    def __init__(self, graph: Graph, weights: Mapping[str, np.ndarray], ops: Ops) -> None:
        check_weights(graph, weights)
        self.graph = graph
        self.ops = ops
        self.params: dict[str, Tensor] = {
            key: ops.upload(np.asarray(weights[key], np.float32)) for key in graph.weight_shapes()
        }
        self._users = _consumers(graph)
        self._fused = fused_convs(graph)

    def _check_input(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, np.float32)
        if batch.ndim != 4 or batch.shape[1] != self.graph.in_channels:
            raise ValueError(f"expected a batch N,{self.graph.in_channels},Y,X; got {batch.shape}")
        return batch

    def forward(
        self, batch: np.ndarray, *, stop: str | None = None, keep: bool = False
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Run up to ``stop`` (default: the output). With ``keep`` every value
        and pool argmax is kept for backward; otherwise values are dropped after
        their last use."""
        values: dict[str, Tensor] = {}
        argmax: dict[str, Tensor] = {}
        remaining = {k: len(v) for k, v in self._users.items()}
        for node in self.graph.nodes:
            values[node.name] = self._node_forward(node, values, argmax, batch, keep)
            if not keep:
                for src in node.inputs:
                    remaining[src] -= 1
                    if remaining[src] == 0 and src != stop:
                        values.pop(src, None)
            if node.name == stop:
                break
        return values, argmax

    def _node_forward(
        self,
        node: Node,
        values: dict[str, Tensor],
        argmax: dict[str, Tensor],
        batch: np.ndarray,
        keep: bool,
    ) -> Tensor:
        ops = self.ops
        if node.op == "input":
            return ops.upload(batch)
        x = values[node.inputs[0]]
        if node.op == "conv":
            w, b = self.params[f"{node.name}.weight"], self.params[f"{node.name}.bias"]
            return ops.conv(x, w, b, node.dilation, relu=node.name in self._fused)
        if node.op == "relu":
            if node.inputs[0] in self._fused:
                return x
            return ops.relu(x)
        if node.op == "pool":
            out, arg = ops.pool(x, node.kernel, node.stride, node.dilation, argmax=keep)
            if arg is not None:
                argmax[node.name] = arg
            return out
        if node.op == "upsample":
            return ops.upsample(x)
        if node.op == "crop_concat":
            return ops.crop_concat(x, values[node.inputs[1]])
        if node.op == "softmax":
            return ops.softmax(x)
        raise ValueError(f"unsupported op {node.op}")  # pragma: no cover

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = self._check_input(batch)
        values, _ = self.forward(batch)
        return self.ops.download(values[self.graph.output.name])


class OpenCLPredictor:
    """Inference: weights uploaded once, ``__call__(batch) -> probabilities``."""

    def __init__(self, graph: Graph, weights: Mapping[str, np.ndarray], ops: Ops) -> None:
        self.graph = graph
        self._runner = _Runner(graph, weights, ops)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._runner.predict(batch)


def backward(
    runner: _Runner,
    values: dict[str, Tensor],
    argmax: dict[str, Tensor],
    grad_logits: Tensor,
    grads_w: dict[str, Tensor],
) -> None:
    """Back-propagate dL/dlogits through the graph into ``grads_w``."""
    ops, graph = runner.ops, runner.graph
    stop = graph.logits.name
    grads: dict[str, Tensor] = {stop: grad_logits}
    order = list(graph.nodes[: graph.nodes.index(graph[stop]) + 1])

    def target(name: str) -> tuple[Tensor | None, bool]:
        existing = grads.get(name)
        return existing, existing is not None

    for node in reversed(order):
        gy = grads.pop(node.name, None)
        if gy is None or node.op == "input":
            continue
        src = node.inputs[0]
        need_src = graph[src].op != "input"
        if node.op == "conv":
            x = values[src]
            w = runner.params[f"{node.name}.weight"]
            ops.conv_bw_weight(
                x,
                gy,
                node.dilation,
                node.kernel,
                grads_w[f"{node.name}.weight"],
                grads_w[f"{node.name}.bias"],
            )
            if need_src:
                out, acc = target(src)
                grads[src] = ops.conv_bw_input(gy, w, node.dilation, out=out, accum=acc)
        elif node.op == "relu":
            out, acc = target(src)
            grads[src] = ops.relu_bw(values[node.name], gy, out, acc)
        elif node.op == "pool":
            out, acc = target(src)
            grads[src] = ops.pool_bw(
                gy,
                argmax[node.name],
                values[src].shape,
                node.kernel,
                node.stride,
                node.dilation,
                out,
                acc,
            )
        elif node.op == "upsample":
            out, acc = target(src)
            grads[src] = ops.upsample_bw(gy, out, acc)
        elif node.op == "crop_concat":
            c_off = 0
            for name in node.inputs:
                shape = values[name].shape
                if graph[name].op != "input":
                    out, acc = target(name)
                    grads[name] = ops.crop_concat_bw(gy, shape, c_off, out, acc)
                c_off += shape[1]
        else:  # pragma: no cover - softmax is never behind the logits
            raise ValueError(f"no backward for op {node.op}")
