"""``TorchBackend``: the :class:`~napari_greentea.backend.Backend` over one torch device."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .._protocol import DeviceInfo
from ._module import build_module, run_inference

if TYPE_CHECKING:
    from ...graph import Graph
    from ._train import TorchTrainable


def torch_devices() -> dict[str, str]:
    """Available torch device strings mapped to a human description."""
    import torch

    found = {"cpu": "CPU"}
    if torch.cuda.is_available():
        kind = "ROCm" if getattr(torch.version, "hip", None) else "CUDA"
        for i in range(torch.cuda.device_count()):
            found[f"cuda:{i}"] = f"{kind} {torch.cuda.get_device_name(i)}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found["mps"] = "Apple MPS"
    return found


def resolve_device(requested: str | None = "auto") -> str:
    """Turn ``auto``/``cuda``/``rocm``/``mps``/``cpu``/``cuda:N`` into a device string.

    ``auto`` prefers CUDA/ROCm, then MPS, then CPU. Asking for a device that
    is absent raises ``ValueError`` listing what is present.
    """
    found = torch_devices()
    req = (requested or "auto").lower()
    if req == "auto":
        for prefix in ("cuda", "mps"):
            for dev in found:
                if dev.startswith(prefix):
                    return dev
        return "cpu"
    if req in ("cuda", "rocm", "gpu"):
        req = "cuda:0"
    if req in found:
        return req
    listing = ", ".join(f"{k} ({v})" for k, v in found.items())
    raise ValueError(f"torch device {requested!r} is not available; present: {listing}")


def backend_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return "torch-rocm" if getattr(torch.version, "hip", None) else "torch-cuda"
    if device.startswith("mps"):
        return "torch-mps"
    return "torch-cpu"


def full_float32_on_gpu() -> None:
    """Turn off TensorFloat-32 in cuDNN convolutions and cuBLAS matmuls.

    torch lets cuDNN use TF32 (10-bit mantissa) for float32 convolutions on
    Ampere and newer GPUs by default, which moves outputs by ~1e-3 relative:
    the same checkpoint would then predict differently on a GPU than on the CPU
    or OpenCL backends, which agree to ~1e-6. Reduced precision is asked for
    explicitly instead (``bf16``). The switches are process-wide in torch.
    """
    import torch

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


class TorchPredictor:
    """Inference with a :class:`GraphModule` on one torch device.

    ``bf16``: run under bfloat16 autocast (float32 probabilities out).
    """

    def __init__(self, graph: Graph, weights: Mapping[str, np.ndarray], device: str,
                 *, bf16: bool = False) -> None:
        import torch

        self.graph = graph
        self.device = torch.device(device)
        self.bf16 = bf16
        self.module = build_module(graph, weights).to(self.device).eval()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return run_inference(self.module, batch, self.device, bf16=self.bf16)


class TorchBackend:
    """Backend over one torch device (CUDA, ROCm, MPS or CPU)."""

    supports_training = True

    def __init__(self, device: str | None = "auto") -> None:
        self.device = resolve_device(device)
        self.name = backend_name(self.device)
        if self.device.startswith("cuda"):
            full_float32_on_gpu()

    def device_info(self) -> DeviceInfo:
        import torch

        desc = torch_devices()[self.device]
        memory = None
        if self.device.startswith("cuda"):
            memory = torch.cuda.get_device_properties(self.device).total_memory
        driver = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
        kind = "cpu" if self.device == "cpu" else "gpu"
        return DeviceInfo(self.name, desc, kind, memory, driver)

    def trainable(
        self, graph: Graph, weights: Mapping[str, np.ndarray], **options: Any
    ) -> TorchTrainable:
        """``options``: ``train``, ``loss``, ``optimizer_state`` (see :class:`Backend`)."""
        from ._train import TorchTrainable

        return TorchTrainable(graph, weights, self.device, **options)

    def build(self, graph: Graph, weights: Mapping[str, np.ndarray], *,
              bf16: bool = False) -> TorchPredictor:
        return TorchPredictor(graph, weights, self.device, bf16=bf16)
