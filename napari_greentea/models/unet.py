"""U-Net as used in Greentea: valid 3x3 convs, 2x2/2 max-pools,
fixed nearest 2x upsampling followed by a learned 1x1 conv halving the
channels, centre crop-concat (up path first, skip second)."""

from __future__ import annotations

from ..config import ModelSpec
from ..graph import Graph
from ._blocks import GraphBuilder
from ._registry import Architecture, Knob


def build_u(spec: ModelSpec) -> Graph:
    builder = GraphBuilder(spec.in_channels, spec.init)
    x = "data"
    skips: list[str] = []
    n = 0
    fm = spec.base_fmaps
    for level in range(spec.depth + 1):
        fm = spec.base_fmaps * spec.fmap_inc**level
        for _ in range(spec.convs_per_level):
            n += 1
            x = builder.conv(f"conv{n}", x, fm, spec.unet_kernel)
        if level < spec.depth:
            skips.append(x)
            x = builder.pool(f"pool{level + 1}", x, spec.pool, stride=spec.pool)
    for step, skip in enumerate(reversed(skips), start=1):
        fm = builder.channels[skip]
        x = builder.upsample(f"up{step}", x)
        x = builder.conv(f"upconv{step}", x, fm, 1)
        x = builder.crop_concat(f"merge{step}", x, skip)
        for _ in range(spec.convs_per_level):
            n += 1
            x = builder.conv(f"conv{n}", x, fm, spec.unet_kernel)
    return builder.classify(
        "ip1", x, spec.num_classes, f"U-Net, depth {spec.depth}, {spec.base_fmaps} base fmaps"
    )


U_NET = Architecture(
    kind="u",
    display_name="U-Net",
    builder=build_u,
    presets={
        "interactive": dict(depth=2, base_fmaps=16),
        "paper": dict(depth=4, base_fmaps=64),
    },
    knobs=(
        Knob.spec_field("base_fmaps", "fmaps", 1, 1024, "feature maps of the top level"),
        Knob.spec_field("depth", "depth", 1, 6, "number of poolings"),
    ),
    paper_tile=388,
)
