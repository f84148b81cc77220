"""Training on torch: forward to logits, loss, backward, optimiser step.

The optimiser state is exported in a backend-neutral form
(``<key>/exp_avg``, ``<key>/exp_avg_sq``, ``<key>/momentum``, ``step``) so a
run can resume on another backend. The update formulas are torch's
``Adam`` (no AMSGrad) and ``SGD`` with momentum; the OpenCL kernels
implement the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...config import ADAPTIVE_THREADS, TrainConfig
from ...graph import Graph
from ...losses import Loss, LossBatch
from ._module import build_module, run_inference
from ._threads import ThreadTuner

#: Train on the CPU with channels-last (NHWC) convolution weights and inputs.
#: oneDNN, torch's CPU convolution library, runs its convolutions in that
#: layout and otherwise reorders tensors on the way in and out: the core
#: Trainer ran 7-9 % more iterations per second so with the depth-4 U-Net
#: (``benchmarks/explore_torch_cpu_speed.py --trainer``). Only the memory
#: layout changes; weights, optimiser state and checkpoints are the same arrays.
CHANNELS_LAST_ON_CPU = True


class TorchTrainable:
    """A trainable :class:`GraphModule` plus its optimiser on one device."""

    def __init__(self, graph: Graph, weights: Mapping[str, np.ndarray], device: str, *,
                 train: TrainConfig, loss: Loss,
                 optimizer_state: Mapping[str, np.ndarray] | None = None) -> None:
        import torch

        self.graph = graph
        self.device = torch.device(device)
        self.train_config = train
        self.loss = loss
        self._layout = (torch.channels_last if CHANNELS_LAST_ON_CPU and self.device.type == "cpu"
                        else torch.contiguous_format)
        self.module = build_module(graph, weights).to(
            self.device, memory_format=self._layout).train()
        params = self.module.weight_dict()
        self._keys = list(params)
        plist = list(params.values())
        if train.optimizer == "adam":
            self.optimizer: Any = torch.optim.Adam(
                plist, lr=train.lr, weight_decay=train.weight_decay
            )
        else:
            self.optimizer = torch.optim.SGD(
                plist, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay
            )
        # the weights ``anchor_decay`` pulls toward: the start of the run, or the state's
        self._anchor = [self._tensor(weights[k]) for k in self._keys] if train.anchor_decay else []
        if optimizer_state:
            self.load_optimizer_state(optimizer_state)
        self._tuner = (ThreadTuner.for_this_cpu()
                       if train.threads == ADAPTIVE_THREADS and self.device.type == "cpu" else None)

    def _set_threads(self) -> None:
        """OpenMP's thread count is per calling thread: set it in the training thread."""
        import torch

        threads = self._tuner.threads() if self._tuner else self.train_config.threads
        if threads > 0 and self.device.type == "cpu" and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    def train_step(self, images: np.ndarray, batch: LossBatch, lr: float) -> float:
        """One forward/backward/update on a batch; returns the loss value."""
        import torch

        self._set_threads()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x = torch.as_tensor(np.ascontiguousarray(images, np.float32), device=self.device)
        x = x.contiguous(memory_format=self._layout)
        self.optimizer.zero_grad(set_to_none=True)
        if self.train_config.bf16:
            # bfloat16 matmuls/convolutions, float32 weights, optimiser and loss
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                logits = self.module(x, logits=True)
            logits = logits.float()
        else:
            logits = self.module(x, logits=True)
        batch.check_grid(tuple(logits.shape[-2:]))
        value = self.loss.torch(logits, batch)
        if value.requires_grad:
            value.backward()
            self.optimizer.step()
            self._pull_to_anchor()
        result = float(value.detach())
        if self._tuner:
            self._tuner.step_done()
        return result

    def _pull_to_anchor(self) -> None:
        """``p += anchor_decay * (anchor - p)`` for every weight (torch's ``lerp_``)."""
        if not self._anchor:
            return
        import torch

        with torch.no_grad():
            params = self.module.weight_dict()
            for key, anchor in zip(self._keys, self._anchor, strict=True):
                params[key].lerp_(anchor, self.train_config.anchor_decay)

    def _tensor(self, array: np.ndarray) -> Any:
        import torch

        return torch.as_tensor(np.array(array, np.float32), device=self.device)

    def predict(self, images: np.ndarray) -> np.ndarray:
        return run_inference(self.module, images, self.device)

    def weights(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.module.weight_dict().items()}

    def optimizer_state(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        params = self.module.weight_dict()
        step = 0
        for key in self._keys:
            state = self.optimizer.state.get(params[key], {})
            for name, value in state.items():
                if name == "step":
                    step = int(value)
                elif value is not None:
                    buf = "momentum" if name == "momentum_buffer" else name
                    out[f"{key}/{buf}"] = value.detach().cpu().numpy().copy()
        out["step"] = np.asarray(step, np.int64)
        for key, anchor in zip(self._keys, self._anchor):
            out[f"{key}/anchor"] = anchor.cpu().numpy().copy()
        return out

    def load_optimizer_state(self, state: Mapping[str, np.ndarray]) -> None:
        import torch

        params = self.module.weight_dict()
        step = int(np.asarray(state.get("step", 0)))
        if self._anchor and all(f"{k}/anchor" in state for k in self._keys):
            self._anchor = [self._tensor(state[f"{k}/anchor"]) for k in self._keys]
        for key in self._keys:
            p = params[key]
            entry: dict[str, Any] = {}
            for name, buf in (
                ("exp_avg", "exp_avg"),
                ("exp_avg_sq", "exp_avg_sq"),
                ("momentum_buffer", "momentum"),
            ):
                if f"{key}/{buf}" in state:
                    entry[name] = torch.as_tensor(
                        np.asarray(state[f"{key}/{buf}"]), device=self.device
                    ).clone()
            if entry:
                if "exp_avg" in entry:
                    entry["step"] = torch.tensor(float(step))
                self.optimizer.state[p] = entry
