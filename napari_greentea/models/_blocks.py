"""A small builder that appends nodes and tracks channels; used by all models."""

from __future__ import annotations

import math

from ..graph import Graph, Node


class GraphBuilder:
    """Appends :class:`Node` objects in order, naming them and wiring inputs.

    ``init`` chooses the initial weight std: ``"he"`` (sqrt(2 / fan_in), what
    the paper used for U-Net layers) or ``"paper"`` with per-call std.
    """

    def __init__(self, in_channels: int, init: str = "he") -> None:
        self.nodes: list[Node] = [
            Node(name="data", op="input", out_channels=in_channels)
        ]
        self.channels: dict[str, int] = {"data": in_channels}
        self.init = init

    def _add(self, node: Node, channels: int) -> str:
        self.nodes.append(node)
        self.channels[node.name] = channels
        return node.name

    def conv(
        self,
        name: str,
        src: str,
        out_channels: int,
        kernel: int,
        dilation: int = 1,
        *,
        relu: bool = True,
        paper_std: float | None = None,
    ) -> str:
        """Valid conv (+ ReLU unless ``relu=False``); returns the last node name."""
        c_in = self.channels[src]
        if self.init == "paper" and paper_std is not None:
            std = paper_std
        else:
            std = math.sqrt(2.0 / (c_in * kernel * kernel))
        out = self._add(
            Node(
                name=name,
                op="conv",
                inputs=(src,),
                in_channels=c_in,
                out_channels=out_channels,
                kernel=kernel,
                dilation=dilation,
                init_std=std,
            ),
            out_channels,
        )
        if relu:
            out = self._add(
                Node(name=f"{name}_relu", op="relu", inputs=(out,)), out_channels
            )
        return out

    def pool(
        self, name: str, src: str, kernel: int, stride: int, dilation: int = 1
    ) -> str:
        node = Node(name=name, op="pool", inputs=(src,), kernel=kernel, stride=stride,
                    dilation=dilation)
        return self._add(node, self.channels[src])

    def upsample(self, name: str, src: str) -> str:
        return self._add(
            Node(name=name, op="upsample", inputs=(src,)), self.channels[src]
        )

    def crop_concat(self, name: str, up: str, skip: str) -> str:
        channels = self.channels[up] + self.channels[skip]
        return self._add(
            Node(name=name, op="crop_concat", inputs=(up, skip)), channels
        )

    def softmax(self, src: str) -> str:
        return self._add(
            Node(name="prob", op="softmax", inputs=(src,)), self.channels[src]
        )

    def classify(self, name: str, src: str, num_classes: int, description: str) -> Graph:
        """Finish with a 1x1 classifier and the softmax; return the graph."""
        self.softmax(self.conv(name, src, num_classes, 1, relu=False))
        return self.build(description)

    def build(self, description: str) -> Graph:
        return Graph(tuple(self.nodes), description)
