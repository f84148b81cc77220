"""``OpenCLBackend``: the :class:`~napari_greentea.backend.Backend` over our kernels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .._protocol import DeviceInfo
from ._device import CLDevice, context_for, select_device

if TYPE_CHECKING:
    from ...graph import Graph
    from ._executor import OpenCLPredictor
    from ._train import OpenCLTrainable


class OpenCLBackend:
    """Inference and training on one OpenCL device.

    ``device``: ``None``/"auto" (GPU first, then most memory), an index into
    :func:`list_devices`, or a name substring / "gpu" / "cpu". An unknown
    device raises ``ValueError`` listing the present ones.
    """

    name = "opencl"
    supports_training = True

    def __init__(self, device: int | str | None = None) -> None:
        self.device: CLDevice = select_device(device)
        self._ops: Any = None

    @property
    def ops(self) -> Any:
        if self._ops is None:
            from ._ops import Ops

            self._ops = Ops(context_for(self.device.index))
        return self._ops

    def device_info(self) -> DeviceInfo:
        d = self.device
        return DeviceInfo(
            "opencl", d.name, d.type, d.memory_bytes, f"{d.platform}, driver {d.driver}"
        )

    def build(self, graph: Graph, weights: Mapping[str, np.ndarray], *,
              bf16: bool = False) -> OpenCLPredictor:
        """Our kernels compute in float32 only: ``bf16`` is refused, not ignored,
        so a caller never believes it got bfloat16 numbers it did not."""
        if bf16:
            raise ValueError("the OpenCL backend computes in float32 only; bf16 (bfloat16 "
                             "autocast) needs a torch backend")
        from ._executor import OpenCLPredictor

        return OpenCLPredictor(graph, weights, self.ops)

    def trainable(
        self, graph: Graph, weights: Mapping[str, np.ndarray], **options: Any
    ) -> OpenCLTrainable:
        """``options``: ``train``, ``loss``, ``optimizer_state`` (see :class:`Backend`)."""
        from ._train import OpenCLTrainable

        return OpenCLTrainable(graph, weights, self.ops, **options)
