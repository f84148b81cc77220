"""Training on OpenCL with torch's Adam/SGD semantics.

Weights, gradients and optimiser buffers stay on the device; only the batch,
the labels and the scalar loss cross the bus. A loss that names a device
kernel known here (softmax cross-entropy: ``softmax_xent``) runs on the
device; any other loss computes its value and dL/dlogits on the host
(:meth:`Loss.value_and_grad`), the gradient is uploaded and
back-propagation continues on the device.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ...config import TrainConfig
from ...graph import Graph
from ...losses import Loss, LossBatch
from .._protocol import bf16_refusal
from ._executor import _Runner, backward
from ._memory import Tensor
from ._ops import Ops

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def _softmax_xent(ops: Ops, logits: Tensor, batch: LossBatch) -> tuple[float, Tensor | None]:
    ncls = logits.shape[1]
    cw = np.ones(ncls, np.float32) if batch.class_weights is None else batch.class_weights
    return ops.softmax_xent(logits, batch.target, np.asarray(cw, np.float32).reshape(ncls))


#: Loss kernels this backend can run, by :attr:`Loss.device_kernel` name.
DEVICE_LOSSES: dict[str, Callable[[Ops, Tensor, LossBatch], tuple[float, Tensor | None]]] = {
    "softmax_xent": _softmax_xent,
}


class OpenCLTrainable:
    """Same methods as ``TorchTrainable``: ``train_step``, ``predict``,
    ``weights``, ``optimizer_state``, ``load_optimizer_state``."""

    def __init__(self, graph: Graph, weights: Mapping[str, np.ndarray], ops: Ops, *,
                 train: TrainConfig, loss: Loss,
                 optimizer_state: Mapping[str, np.ndarray] | None = None) -> None:
        if train.bf16:  # our kernels compute in float32 only: refuse, never ignore
            raise bf16_refusal("opencl")
        self.graph, self.ops = graph, ops
        self.train_config = train
        self.loss = loss
        self._runner = _Runner(graph, weights, ops)
        self._keys = list(graph.weight_shapes())
        params = self._runner.params
        self._grads = {k: ops.empty(p.shape) for k, p in params.items()}
        names = ("exp_avg", "exp_avg_sq") if train.optimizer == "adam" else ("momentum",)
        self._state = {(k, s): ops.zeros(p.shape) for k, p in params.items() for s in names}
        self._step = 0
        self._have_momentum = False  # torch starts the buffer from the first gradient
        # the weights ``anchor_decay`` pulls toward: the start of the run, or the state's
        self._anchor = {k: ops.upload(np.ascontiguousarray(weights[k], np.float32))
                        for k in self._keys} if train.anchor_decay else {}
        if optimizer_state:
            self.load_optimizer_state(optimizer_state)

    # ------------------------------------------------------------------ steps
    def train_step(self, images: np.ndarray, batch: LossBatch, lr: float) -> float:
        """One forward/backward/update on a batch; returns the loss value."""
        runner, ops = self._runner, self.ops
        x = runner._check_input(images)
        stop = self.graph.logits.name
        values, argmax = runner.forward(x, stop=stop, keep=True)
        logits = values[stop]
        batch.check_grid(logits.shape[-2:])
        kernel = DEVICE_LOSSES.get(self.loss.device_kernel or "")
        if kernel is not None:
            value, grad = kernel(ops, logits, batch)
        else:
            value, host_grad = self.loss.value_and_grad(ops.download(logits), batch)
            grad = None if host_grad is None else ops.upload(host_grad)
        if grad is None:
            return value
        backward(runner, values, argmax, grad, self._grads)
        self._update(lr)
        ops.queue.finish()
        return value

    def _update(self, lr: float) -> None:
        cfg, ops = self.train_config, self.ops
        self._step += 1
        t = self._step
        params = self._runner.params
        for key in self._keys:
            p, g = params[key], self._grads[key]
            if cfg.optimizer == "adam":
                b1, b2 = ADAM_BETAS
                ops.adam(
                    p,
                    g,
                    self._state[key, "exp_avg"],
                    self._state[key, "exp_avg_sq"],
                    b1=b1,
                    b2=b2,
                    eps=ADAM_EPS,
                    wd=cfg.weight_decay,
                    step_size=lr / (1 - b1**t),
                    bc2_sqrt=(1 - b2**t) ** 0.5,
                )
            else:
                ops.sgd(
                    p,
                    g,
                    self._state[key, "momentum"],
                    lr=lr,
                    momentum=cfg.momentum,
                    wd=cfg.weight_decay,
                    first=not self._have_momentum,
                )
            if self._anchor:
                ops.lerp(p, self._anchor[key], cfg.anchor_decay)
        self._have_momentum = True

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self._runner.predict(images)

    # ------------------------------------------------------------------ state
    def weights(self) -> dict[str, np.ndarray]:
        return {k: self.ops.download(self._runner.params[k]) for k in self._keys}

    def optimizer_state(self) -> dict[str, np.ndarray]:
        """Backend-neutral state: ``<key>/exp_avg``... and ``step`` (torch's names)."""
        out: dict[str, np.ndarray] = {}
        if self._step > 0 or self._have_momentum:
            for (key, name), buf in self._state.items():
                out[f"{key}/{name}"] = self.ops.download(buf)
        # torch's SGD keeps no step counter, so its neutral state says 0
        step = self._step if self.train_config.optimizer == "adam" else 0
        out["step"] = np.asarray(step, np.int64)
        for key, anchor in self._anchor.items():
            out[f"{key}/anchor"] = self.ops.download(anchor)
        return out

    def load_optimizer_state(self, state: Mapping[str, np.ndarray]) -> None:
        self._step = int(np.asarray(state.get("step", 0)))
        if self._anchor and all(f"{k}/anchor" in state for k in self._keys):
            for key, anchor in self._anchor.items():
                self.ops.copy_in(anchor, np.ascontiguousarray(state[f"{key}/anchor"], np.float32))
        for (key, name), buf in self._state.items():
            value = state.get(f"{key}/{name}")
            if value is None:
                self.ops.fill_zero(buf)
                continue
            host = np.ascontiguousarray(value, np.float32)
            if host.shape != buf.shape:
                raise ValueError(f"optimizer state {key}/{name}: {host.shape} != {buf.shape}")
            self.ops.copy_in(buf, host)
        self._have_momentum = all(f"{k}/momentum" in state for k in self._keys)

    def _tensor(self, key: str) -> Tensor:  # for tests/debugging
        return self._runner.params[key]
