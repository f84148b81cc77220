"""SW (sliding window) and SK (strided kernel) networks.

Both are built from the same :class:`ModelSpec`; the SK graph is the SW
graph after the "SKNet transformation": pool strides become dilations of
every later layer, so one dense pass computes the SW output at every pixel
with identical weights (and identical weight keys).
"""

from __future__ import annotations

from ..config import ModelSpec
from ..graph import Graph, ShapeError
from ._blocks import GraphBuilder
from ._registry import Architecture, Knob


def sw_stage_sizes(spec: ModelSpec) -> list[tuple[int, int]]:
    """(conv output, pool output) sizes of each SW stage for ``spec.window``.

    Raises :class:`ShapeError` naming the stage whose feature map is not
    divisible by the pool or vanishes.
    """
    size = spec.window
    sizes = []
    for i, k in enumerate(spec.kernel_sizes, start=1):
        conv = size - k + 1
        if conv < spec.pool:
            raise ShapeError(
                f"layer conv{i}: window {spec.window} leaves a {conv}px feature map, "
                f"too small for pool {spec.pool}"
            )
        if conv % spec.pool:
            raise ShapeError(
                f"layer pool{i}: feature map {conv}px (window {spec.window}, kernel {k}) "
                f"is not divisible by the pool size {spec.pool}"
            )
        size = conv // spec.pool
        sizes.append((conv, size))
    return sizes


def add_sliding_window(
    builder: GraphBuilder, spec: ModelSpec, src: str, *, dense: bool, prefix: str = ""
) -> str:
    """Append the SW stack (``dense=False``) or its SK form (``dense=True``)."""
    stages = sw_stage_sizes(spec)
    d = 1
    x = src
    for i, k in enumerate(spec.kernel_sizes, start=1):
        x = builder.conv(
            f"{prefix}conv{i}",
            x,
            spec.fmaps[i - 1],
            k,
            dilation=d if dense else 1,
            paper_std=0.01,
        )
        if dense:
            x = builder.pool(f"{prefix}pool{i}", x, spec.pool, stride=1, dilation=d)
            d *= spec.pool
        else:
            x = builder.pool(f"{prefix}pool{i}", x, spec.pool, stride=spec.pool)
    fc_kernel = stages[-1][1]
    for j, width in enumerate(spec.fc, start=1):
        kernel = fc_kernel if j == 1 else 1
        dilation = d if (dense and j == 1) else 1
        x = builder.conv(
            f"{prefix}ip{j}", x, width, kernel, dilation=dilation, paper_std=0.01
        )
    return x


def _build(spec: ModelSpec, dense: bool) -> Graph:
    builder = GraphBuilder(spec.in_channels, spec.init)
    x = add_sliding_window(builder, spec, "data", dense=dense)
    n = len(spec.fc) + 1
    fc_kernel = sw_stage_sizes(spec)[-1][1] if not spec.fc else 1
    dilation = 1
    if not spec.fc and dense:
        dilation = spec.pool ** len(spec.kernel_sizes)
    x = builder.conv(
        f"ip{n}",
        x,
        spec.num_classes,
        fc_kernel,
        dilation=dilation,
        relu=False,
        paper_std=0.01,
    )
    builder.softmax(x)
    kind = "SK" if dense else "SW"
    return builder.build(f"{kind}-Net, window {spec.window}")


def build_sw(spec: ModelSpec) -> Graph:
    """SW network: one label per ``window``x``window`` input."""
    return _build(spec, dense=False)


def build_sk(spec: ModelSpec) -> Graph:
    """SK network: dense labels, output = input - (window - 1)."""
    return _build(spec, dense=True)


def sw_to_sk(spec: ModelSpec) -> ModelSpec:
    """The SK spec equivalent to an SW spec; weights carry over unchanged."""
    if spec.kind not in ("sw", "sk"):
        raise ValueError(f"sw_to_sk needs an 'sw' spec, got kind {spec.kind!r}")
    return spec.replace(kind="sk")


_PAPER = dict(kernel_sizes=(7, 5, 3), fmaps=(48, 128, 192), fc=(1024, 512), window=102)
_INTERACTIVE = dict(kernel_sizes=(5, 5, 3), fmaps=(16, 32, 32), fc=(64,), window=52)


def _scale_fmaps(spec: ModelSpec, first: int) -> dict[str, tuple[int, ...]]:
    """Scale every stage's feature maps so that the first stage has ``first``."""
    return {"fmaps": tuple(max(1, round(f * first / spec.fmaps[0])) for f in spec.fmaps)}


_FMAPS = Knob(
    "fmaps", "fmaps", 1, 1024,
    read=lambda spec: spec.fmaps[0],
    overrides=_scale_fmaps,
    tooltip="feature maps of the first stage (later stages scale with it)",
)
_PRESETS = {"interactive": _INTERACTIVE, "paper": dict(_PAPER, init="paper")}

SK_NET = Architecture(
    kind="sk", display_name="SK-Net", builder=build_sk, presets=_PRESETS, knobs=(_FMAPS,),
    paper_tile=128,
)
SW_NET = Architecture(
    kind="sw", display_name="SW-Net", builder=build_sw, presets=_PRESETS, knobs=(_FMAPS,),
    dense=sw_to_sk,
)
