"""USK-Net: a depth-1 U-Net whose bottom is an SK-Net.

Top level: two valid 3x3 convs (``base_fmaps``), 2x2/2 max-pool; bottom: the
SK form of the SW net given by ``kernel_sizes``/``fmaps``/``fc``/``window``
at half resolution; up: nearest 2x, 1x1 conv to ``2*base_fmaps``,
crop-concat with the top skip, 3x3 convs to ``2*base_fmaps`` and
``base_fmaps``, then a 1x1 classifier.
"""

from __future__ import annotations

from ..config import ModelSpec
from ..graph import Graph
from ._blocks import GraphBuilder
from ._registry import Architecture, Knob
from .sliding_window import add_sliding_window


def build_usk(spec: ModelSpec) -> Graph:
    builder = GraphBuilder(spec.in_channels, spec.init)
    k = spec.unet_kernel
    x = builder.conv("conv1", "data", spec.base_fmaps, k)
    skip = builder.conv("conv2", x, spec.base_fmaps, k)
    x = builder.pool("pool1", skip, spec.pool, stride=spec.pool)
    x = add_sliding_window(builder, spec, x, dense=True, prefix="sk_")
    x = builder.upsample("up1", x)
    x = builder.conv("upconv1", x, 2 * spec.base_fmaps, 1)
    x = builder.crop_concat("merge1", x, skip)
    x = builder.conv("conv3", x, 2 * spec.base_fmaps, k)
    x = builder.conv("conv4", x, spec.base_fmaps, k)
    return builder.classify("ip", x, spec.num_classes, f"USK-Net, SK bottom window {spec.window}")


USK_NET = Architecture(
    kind="usk",
    display_name="USK-Net",
    builder=build_usk,
    presets={
        "interactive": dict(
            kernel_sizes=(3, 3), fmaps=(24, 24), fc=(48,), window=18, base_fmaps=16
        ),
        "paper": dict(
            kernel_sizes=(6, 4, 4), fmaps=(128, 128, 128), fc=(512, 256), window=87,
            base_fmaps=64, init="paper",
        ),
    },
    knobs=(Knob.spec_field("base_fmaps", "fmaps", 1, 1024, "feature maps of the U-Net part"),),
    paper_tile=512,
)
