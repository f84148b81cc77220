"""A tiny layer graph (IR) that every backend interprets.

Architectures are written once, as a list of :class:`Node` objects, by the
builders in :mod:`napari_greentea.models`. The torch and OpenCL backends walk
the same nodes. All shape arithmetic (output sizes, context, the alignment
that keeps tiled prediction exact) lives here in pure Python, so planning a
prediction never imports torch.

Layout convention: activations are ``N, C, Y, X`` (2-D networks; 3-D stacks
are predicted slice by slice). All convolutions are *valid* (no padding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

OpKind = Literal["input", "conv", "pool", "upsample", "crop_concat", "relu", "softmax"]
OP_KINDS: tuple[str, ...] = (
    "input",
    "conv",
    "pool",
    "upsample",
    "crop_concat",
    "relu",
    "softmax",
)


class ShapeError(ValueError):
    """An input size that a layer of the network cannot process."""


@dataclass(frozen=True)
class PatchGeometry:
    """A square training window: ``input_size`` input pixels give ``output_size`` outputs.

    Output pixel ``(i, j)`` sees input pixel ``(i + context_lo, j + context_lo)``
    at the centre of its receptive field. The trainer's patch sampler, its
    held-out strokes and its loss must agree on all three numbers, so they
    are computed once (:meth:`Graph.patch_geometry`) and passed together.
    """

    input_size: int
    output_size: int
    context_lo: int


@dataclass(frozen=True, kw_only=True)
class Node:
    """One operation of the graph.

    ``conv``: valid convolution ``kernel``x``kernel`` with ``dilation``,
    ``in_channels -> out_channels``, bias; weight keys ``<name>.weight``
    (O, I, k, k) and ``<name>.bias`` (O,). ``init_std`` is the Gaussian std
    of the initial weights.
    ``pool``: max-pool, window ``kernel`` with ``stride`` and ``dilation``
    (SK pooling uses stride 1, dilation d).
    ``upsample``: nearest-neighbour 2x (the paper's fixed "up-convolution").
    ``crop_concat``: ``[inputs[0], centre-crop(inputs[1])]`` along channels.
    ``relu``/``softmax``: elementwise / over channels.
    """

    name: str
    op: OpKind
    inputs: tuple[str, ...] = ()
    in_channels: int = 0
    out_channels: int = 0
    kernel: int = 1
    stride: int = 1
    dilation: int = 1
    init_std: float = 0.01

    @property
    def extent(self) -> int:
        """Spatial extent of a dilated kernel: ``(k - 1) * d + 1``."""
        return (self.kernel - 1) * self.dilation + 1

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the learnable tensors of this node."""
        if self.op != "conv":
            return {}
        k = self.kernel
        return {
            f"{self.name}.weight": (self.out_channels, self.in_channels, k, k),
            f"{self.name}.bias": (self.out_channels,),
        }


@dataclass(frozen=True)
class Graph:
    """Topologically ordered nodes; the first is the input, the last the output."""

    nodes: tuple[Node, ...]
    description: str = ""
    _index: dict[str, Node] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, Node] = {}
        for node in self.nodes:
            if node.op not in OP_KINDS:
                raise ValueError(f"layer {node.name}: unknown op {node.op!r}")
            if node.name in index:
                raise ValueError(f"layer name {node.name!r} used twice")
            for src in node.inputs:
                if src not in index:
                    raise ValueError(f"layer {node.name}: input {src!r} is not defined before it")
            index[node.name] = node
        if not self.nodes or self.nodes[0].op != "input":
            raise ValueError("the first node of a graph must be the input")
        object.__setattr__(self, "_index", index)

    def __getitem__(self, name: str) -> Node:
        return self._index[name]

    @property
    def input(self) -> Node:
        return self.nodes[0]

    @property
    def output(self) -> Node:
        return self.nodes[-1]

    @property
    def in_channels(self) -> int:
        return self.input.out_channels

    @property
    def num_classes(self) -> int:
        return self.channels()[self.output.name]

    @property
    def logits(self) -> Node:
        """The node feeding the final softmax (what losses consume)."""
        out = self.output
        return self[out.inputs[0]] if out.op == "softmax" else out

    # ------------------------------------------------------------------ weights
    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """All learnable tensors, in graph order."""
        shapes: dict[str, tuple[int, ...]] = {}
        for node in self.nodes:
            shapes.update(node.weight_shapes())
        return shapes

    def num_parameters(self) -> int:
        return sum(math.prod(s) for s in self.weight_shapes().values())

    # ------------------------------------------------------------------ shapes
    def channels(self) -> dict[str, int]:
        """Channel count of every node's output (size independent)."""
        out: dict[str, int] = {}
        for node in self.nodes:
            if node.op == "input":
                out[node.name] = node.out_channels
            elif node.op == "conv":
                got = out[node.inputs[0]]
                if got != node.in_channels:
                    raise ValueError(
                        f"layer {node.name}: expects {node.in_channels} input channels "
                        f"but {node.inputs[0]} gives {got}"
                    )
                out[node.name] = node.out_channels
            elif node.op == "crop_concat":
                out[node.name] = out[node.inputs[0]] + out[node.inputs[1]]
            else:
                out[node.name] = out[node.inputs[0]]
        return out

    def sizes(self, input_size: int) -> dict[str, int]:
        """Spatial edge length of every node for a square input of ``input_size``.

        Raises :class:`ShapeError` naming the first layer that cannot take
        the size (output <= 0, pool input not divisible by its stride, a
        skip connection smaller than the path it joins).
        """
        sizes: dict[str, int] = {}
        for node in self.nodes:
            if node.op == "input":
                size = input_size
            else:
                size_in = sizes[node.inputs[0]]
                size = _node_size(node, size_in, sizes)
            if size < 1:
                raise ShapeError(
                    f"layer {node.name}: output size {size} <= 0 for network input "
                    f"{input_size}"
                )
            sizes[node.name] = size
        return sizes

    def output_size(self, input_size: int) -> int:
        return self.sizes(input_size)[self.output.name]

    def is_valid_input(self, input_size: int) -> bool:
        try:
            self.sizes(input_size)
        except ShapeError:
            return False
        return True

    @property
    def stride_factor(self) -> int:
        """Product of pooling strides: the translation step the network is exact for.

        Tiles must start at multiples of this factor (relative to the padded
        image origin) for tiled prediction to equal one whole-image pass.
        """
        factor = 1
        for node in self.nodes:
            if node.op == "pool":
                factor *= node.stride
        return factor

    def smallest_valid_input(self, start: int = 1, limit: int = 100_000) -> int:
        """Smallest input size >= ``start`` that every layer accepts."""
        for size in range(max(start, 1), limit):
            if self.is_valid_input(size):
                return size
        raise ShapeError(f"no valid input size in [{start}, {limit})")

    @property
    def context(self) -> int:
        """Input minus output size (the same for every valid input).

        The receptive field is ``context + 1``.
        """
        size = self.smallest_valid_input()
        return size - self.output_size(size)

    def receptive_field(self) -> int:
        return self.context + 1

    def input_size_for(self, min_output: int) -> int:
        """Smallest valid input whose output is at least ``min_output``."""
        size = self.smallest_valid_input(min_output + self.context)
        return size

    def patch_geometry(self, min_output: int) -> PatchGeometry:
        """The smallest valid square patch with at least ``min_output`` output pixels a side."""
        input_size = self.input_size_for(min_output)
        return PatchGeometry(input_size, self.output_size(input_size), self.context // 2)

    def flops_per_pass(self, input_size: int) -> int:
        """Multiply-adds x 2 of all convolutions for one square pass."""
        sizes = self.sizes(input_size)
        total = 0
        for node in self.nodes:
            if node.op == "conv":
                macs = node.in_channels * node.out_channels * node.kernel**2
                total += 2 * macs * sizes[node.name] ** 2
        return total


def _node_size(node: Node, size_in: int, sizes: dict[str, int]) -> int:
    if node.op == "conv":
        return size_in - node.extent + 1
    if node.op == "pool":
        span = size_in - node.extent
        if span < 0:
            return span + 1
        if span % node.stride:
            raise ShapeError(
                f"layer {node.name}: input size {size_in} does not fit pool window "
                f"{node.extent} with stride {node.stride} (feature map not divisible "
                "by the pool)"
            )
        return span // node.stride + 1
    if node.op == "upsample":
        return 2 * size_in
    if node.op == "crop_concat":
        skip = sizes[node.inputs[1]]
        if skip < size_in or (skip - size_in) % 2:
            raise ShapeError(
                f"layer {node.name}: skip {node.inputs[1]} of size {skip} cannot be "
                f"centre-cropped to {size_in}"
            )
        return size_in
    return size_in
