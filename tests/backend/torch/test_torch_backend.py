"""Torch backend: device selection, parameter names, fast ops equal reference ops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from napari_greentea.backend import BackendUnavailable, available_backends, get_backend
from napari_greentea.backend._protocol import Backend, assert_backend
from napari_greentea.backend.torch import build_module, resolve_device
from napari_greentea.models import dense_graph, preset
from napari_greentea.weights import init_weights


def test_auto_and_explicit_cpu():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "mps") or resolve_device("auto").startswith("cuda")
    backend = get_backend("torch-cpu")
    assert isinstance(backend, Backend)
    assert_backend(backend)
    assert backend.name == "torch-cpu"
    assert "torch-cpu" in available_backends()


def test_absent_device_lists_what_is_present():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ValueError, match=r"present: cpu"):
        resolve_device("cuda")


def test_unknown_backend_name():
    with pytest.raises(ValueError, match="accepted"):
        get_backend("tpu")


def test_assert_backend_lists_missing_members():
    with pytest.raises(TypeError, match="build"):
        assert_backend(object())


def test_parameter_names_are_weight_keys():
    graph = dense_graph(preset("u"))
    module = build_module(graph, init_weights(graph))
    assert set(module.weight_dict()) == set(graph.weight_shapes())


@pytest.mark.parametrize("kind", ["sk", "u", "usk"])
def test_fast_ops_equal_reference_torch_ops(kind):
    """Shifted-max pooling and 1x1-as-matmul equal F.max_pool2d / F.conv2d."""
    graph = dense_graph(preset(kind))
    weights = init_weights(graph, 2)
    module = build_module(graph, weights).eval()
    x = torch.randn(2, 1, graph.input_size_for(20), graph.input_size_for(20))
    values = {}
    for node in graph.nodes:
        src = values[node.inputs[0]] if node.inputs else x
        if node.op == "input":
            out = x
        elif node.op == "conv":
            w = torch.as_tensor(weights[f"{node.name}.weight"])
            b = torch.as_tensor(weights[f"{node.name}.bias"])
            out = F.conv2d(src, w, b, dilation=node.dilation)
        elif node.op == "pool":
            out = F.max_pool2d(src, node.kernel, node.stride, dilation=node.dilation)
        elif node.op == "relu":
            out = F.relu(src)
        elif node.op == "upsample":
            out = src.repeat_interleave(2, 2).repeat_interleave(2, 3)
        elif node.op == "crop_concat":
            skip = values[node.inputs[1]]
            o = (skip.shape[-1] - src.shape[-1]) // 2
            out = torch.cat([src, skip[..., o : o + src.shape[-2], o : o + src.shape[-1]]], 1)
        else:
            out = torch.softmax(src, 1)
        values[node.name] = out
    with torch.no_grad():
        fast = module(x)
    np.testing.assert_allclose(fast.numpy(), values[graph.output.name].numpy(), atol=1e-5)


def test_opencl_missing_gives_actionable_message(monkeypatch):
    import napari_greentea.backend as backend_mod

    reason = "no OpenCL platform: apt-get install pocl-opencl-icd"
    monkeypatch.setattr(backend_mod, "opencl_status", lambda: (False, reason))
    with pytest.raises(BackendUnavailable, match="pocl"):
        get_backend("opencl")


def test_auto_cpu_tie_break_measures_once_and_caches(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from napari_greentea.backend import _auto

    monkeypatch.setenv("GREENTEA_CACHE_DIR", str(tmp_path))
    calls = []

    def fake_time(backend):
        calls.append(backend.name)
        return {"torch-cpu": 0.2, "opencl": 0.1}[backend.name]

    monkeypatch.setattr(_auto, "_time_forward", fake_time)
    info = SimpleNamespace(name="cpu0", driver="d1")
    torch_b = SimpleNamespace(name="torch-cpu")
    ocl_b = SimpleNamespace(name="opencl", device_info=lambda: info)
    first, why_first = _auto.faster_cpu_backend(torch_b, ocl_b)
    second, why_second = _auto.faster_cpu_backend(torch_b, ocl_b)
    assert first is second is ocl_b
    assert calls == ["torch-cpu", "opencl"]  # measured once, then read from the cache
    assert "measured now" in why_first and "torch-cpu 200.0 ms" in why_first
    assert "cached" in why_second and "opencl 100.0 ms" in why_second
    assert (tmp_path / "auto-backend.json").exists()
