"""TorchScript and ONNX serialisations of a graph module, checked against it.

Both are produced by tracing the eager module at one valid input size. The
trace records the shape arithmetic (crops, pool reshapes) as operations, so
the files accept every valid size; :func:`check_agreement` verifies that on
the test tensor instead of trusting it.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

#: Largest tolerated difference between an exported format and the eager module.
TOLERANCE = 1e-4
ONNX_OPSET = 17


class ExportMismatch(RuntimeError):
    """An exported weights format does not reproduce the eager module."""


def save_torchscript(module: Any, example: np.ndarray, path: Path) -> Path:
    """Trace ``module`` on ``example`` (N, C, Y, X) and save it as TorchScript."""
    import torch

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter; agreement is checked
        traced = torch.jit.trace(module, torch.as_tensor(example), check_trace=False)
    traced.save(str(path))
    return path


def save_onnx(module: Any, example: np.ndarray, path: Path, input_name: str,
              output_name: str) -> Path:
    """Export ``module`` to ONNX with dynamic batch and spatial axes."""
    import torch

    dynamic = {0: "batch", 2: "y", 3: "x"}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (torch.as_tensor(example),), buffer, dynamo=False,
            input_names=[input_name], output_names=[output_name],
            dynamic_axes={input_name: dynamic, output_name: dynamic},
            opset_version=ONNX_OPSET,
        )
    path.write_bytes(buffer.getvalue())
    return path


def run_torchscript(path: Path, batch: np.ndarray) -> np.ndarray:
    import torch

    module = torch.jit.load(str(path), map_location="cpu").eval()
    with torch.no_grad():
        return module(torch.as_tensor(batch)).numpy()


def run_onnx(path: Path, batch: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.asarray(session.run(None, {name: batch})[0])


def check_agreement(reference: np.ndarray, outputs: dict[str, np.ndarray]) -> dict[str, float]:
    """Max absolute difference of each format's output; raise above :data:`TOLERANCE`."""
    errors = {}
    for name, out in outputs.items():
        if out.shape != reference.shape:
            raise ExportMismatch(f"{name} output shape {out.shape} != torch {reference.shape}")
        errors[name] = float(np.abs(out - reference).max())
    bad = {k: v for k, v in errors.items() if not v <= TOLERANCE}
    if bad:
        raise ExportMismatch(
            f"exported weights differ from the torch model by {bad} (tolerance {TOLERANCE})"
        )
    return errors
