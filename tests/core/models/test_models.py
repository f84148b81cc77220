"""Exact shapes, parameter counts and the SW->SK rule against greentea-facts.md §1."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.config import ModelSpec
from napari_greentea.graph import ShapeError
from napari_greentea.models import build_graph, dense_graph, preset, sw_to_sk
from napari_greentea.weights import init_weights


@pytest.mark.parametrize(
    ("kind", "tile_in", "tile_out", "params_3ch", "rf"),
    [
        ("sk", 229, 128, 20_569_858, 102),
        ("u", 572, 388, 28_942_850, 185),
        ("usk", 692, 512, 5_512_578, 181),
    ],
)
def test_paper_presets_match_facts(kind, tile_in, tile_out, params_3ch, rf):
    graph = build_graph(preset(kind, "paper", in_channels=3))
    assert graph.output_size(tile_in) == tile_out
    assert graph.receptive_field() == rf
    assert graph.num_parameters() == params_3ch
    # the doc's rounded figures: 20.6 M, 28.9 M, 5.5 M
    assert round(graph.num_parameters() / 1e6, 1) == {"sk": 20.6, "u": 28.9, "usk": 5.5}[kind]


def test_sk_layer_sizes_follow_the_table():
    sizes = build_graph(preset("sk", "paper")).sizes(229)
    expected = {"conv1": 223, "pool1": 222, "conv2": 214, "pool2": 212, "conv3": 204,
                "pool3": 200, "ip1": 128, "ip2": 128, "ip3": 128}
    assert {k: sizes[k] for k in expected} == expected


def test_unet_layer_sizes_follow_the_table():
    sizes = build_graph(preset("u", "paper")).sizes(572)
    expected = [570, 568, 282, 280, 138, 136, 66, 64, 30, 28]
    assert [sizes[f"conv{i}"] for i in range(1, 11)] == expected
    assert [sizes[f"up{i}"] for i in range(1, 5)] == [56, 104, 200, 392]
    assert sizes["ip1"] == 388


def test_usk_layer_sizes_follow_the_table():
    g = build_graph(preset("usk", "paper"))
    sizes = g.sizes(692)
    assert (sizes["conv1"], sizes["conv2"], sizes["pool1"]) == (690, 688, 344)
    assert [sizes[f"sk_conv{i}"] for i in (1, 2, 3)] == [339, 332, 318]
    assert (sizes["sk_ip1"], sizes["up1"], sizes["conv4"], sizes["ip"]) == (258, 516, 512, 512)
    assert g.output_size(436) == 256
    assert g["sk_ip1"].dilation == 8 and g["sk_ip1"].kernel == 8


def test_sw_context_is_102():
    g = build_graph(preset("sw", "paper"))
    assert g.output_size(102) == 1
    assert g.receptive_field() == 102
    assert g["ip1"].kernel == 10


def test_sk_dilations_follow_the_rule():
    g = build_graph(preset("sk", "paper"))
    assert [(g[n].kernel, g[n].dilation) for n in ("conv1", "conv2", "conv3", "ip1")] == [
        (7, 1), (5, 2), (3, 4), (10, 8)]
    assert [(g[n].stride, g[n].dilation) for n in ("pool1", "pool2", "pool3")] == [
        (1, 1), (1, 2), (1, 4)]


@pytest.mark.parametrize("kind", ["sw", "sk", "u", "usk"])
def test_interactive_presets_are_small_and_valid(kind):
    graph = dense_graph(preset(kind))
    assert graph.num_parameters() < 200_000
    size = graph.input_size_for(64)
    assert graph.output_size(size) >= 64
    patch = graph.patch_geometry(64)
    assert (patch.input_size, patch.output_size) == (size, graph.output_size(size))
    assert patch.context_lo == graph.context // 2


def test_pool_divisibility_error_names_the_layer():
    with pytest.raises(ShapeError, match="pool2"):
        build_graph(ModelSpec(kind="sk", kernel_sizes=(5, 5), fmaps=(8, 8), fc=(8,), window=50))


def test_output_size_not_positive_names_the_layer():
    graph = build_graph(preset("u"))
    with pytest.raises(ShapeError, match="layer conv"):
        graph.sizes(10)
    with pytest.raises(ShapeError, match="pool1"):
        graph.sizes(graph.smallest_valid_input() + 1)


def test_spec_validation_messages():
    with pytest.raises(ValueError, match="unknown architecture"):
        ModelSpec(kind="vgg")
    with pytest.raises(ValueError, match="same length"):
        ModelSpec(kind="sk", kernel_sizes=(3, 3), fmaps=(8,))
    with pytest.raises(ValueError, match="unknown preset"):
        preset("u", "huge")


def test_spec_round_trip():
    spec = preset("usk", "paper", num_classes=3)
    assert type(spec).from_dict(spec.to_dict()) == spec


def test_sw_to_sk_equals_sliding_window_everywhere():
    """Same weights: the dense SK output equals the SW output at every pixel of a tile."""
    from napari_greentea.backend import get_backend

    sw = preset("sw", num_classes=3)
    sk = sw_to_sk(sw)
    assert sk.kind == "sk"
    g_sw, g_sk = build_graph(sw), build_graph(sk)
    weights = init_weights(g_sw, seed=4)
    backend = get_backend("torch-cpu")
    run_sw, run_sk = backend.build(g_sw, weights), backend.build(g_sk, weights)
    window = g_sw.receptive_field()
    rng = np.random.default_rng(0)
    tile = rng.standard_normal((1, 1, window + 19, window + 16)).astype(np.float32)
    dense = run_sk(tile)[0]
    assert dense.shape == (3, 20, 17)
    windows = np.stack(
        [tile[0, :, y : y + window, x : x + window] for y in range(20) for x in range(17)]
    )
    per_window = run_sw(windows)[:, :, 0, 0]
    diff = np.abs(per_window - dense.reshape(3, -1).T).max()
    assert len(windows) == 340
    assert diff <= 1e-5
