"""npe2 reader (prediction stores) and writers (probability / labels TIFF) round trips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

import napari_greentea
from napari_greentea.cli import main

npe2 = pytest.importorskip("npe2")
MANIFEST = Path(napari_greentea.__file__).parent / "napari.yaml"


@pytest.fixture(scope="module")
def plugins():
    manager = npe2.PluginManager.instance()
    manager.discover()
    return manager


def test_manifest_validates_with_reader_and_writers():
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    manifest.validate_imports()
    assert {w.layer_types[0] for w in manifest.contributions.writers} == {"image", "labels"}
    assert manifest.contributions.readers[0].accepts_directories
    cli = Path(sys.executable).with_name("npe2")
    if cli.exists():
        out = subprocess.run([str(cli), "validate", str(MANIFEST)], capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def _predicted_store(tmp_path, shape, arch, block):
    """``greentea predict`` of a random stack into ``pred.zarr``, read back through npe2."""
    image = (np.random.default_rng(0).random(shape) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", image)
    store = tmp_path / "pred.zarr"
    assert main(["predict", str(tmp_path / "in.tif"), str(store), "--arch", arch,
                 "--backend", "torch-cpu", "--block", str(block)]) == 0
    return npe2.read([str(store)], stack=False, plugin_name="napari-greentea")


def test_prediction_store_reads_and_writes_back(plugins, tmp_path):
    [(data, meta, kind)] = _predicted_store(tmp_path, (2, 30, 40), "usk", 16)
    assert kind == "image" and meta["channel_axis"] == 0
    assert meta["name"] == ["pred class 0", "pred class 1"]
    assert meta["metadata"]["greentea"]["complete"] is True
    written = npe2.write(tmp_path / "prob.tif", [(data[1], {"name": "p"}, "image")],
                         plugin_name="napari-greentea")
    back = tifffile.imread(written[0])
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, np.asarray(data[1]))


def test_labels_round_trip_keeps_values_and_dtype(plugins, tmp_path):
    labels = np.random.default_rng(1).integers(0, 300, (3, 17, 23)).astype(np.uint16)
    [path] = npe2.write(tmp_path / "labels.tif", [(labels, {"name": "labels"}, "labels")],
                        plugin_name="napari-greentea")
    back = tifffile.imread(path)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, labels)


def test_ome_zarr_writers_round_trip_through_the_ome_zarr_reader(plugins, tmp_path):
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Reader

    prob = np.random.default_rng(2).random((2, 150, 140)).astype(np.float32)
    meta = {"name": "cell probability", "scale": (3.0, 0.5, 0.5),
            "units": ("nanometer", "nanometer", "nanometer")}
    [path] = npe2.write(tmp_path / "prob.ome.zarr", [(prob, meta, "image")],
                        plugin_name="napari-greentea")
    [node] = list(Reader(parse_url(path))())
    assert [a["name"] for a in node.metadata["axes"]] == ["z", "y", "x"]
    assert {a["unit"] for a in node.metadata["axes"]} == {"nanometer"}
    assert [d.shape for d in node.data] == [(2, 150, 140), (2, 75, 70)]
    transforms = node.metadata["coordinateTransformations"]
    assert transforms[0][0]["scale"] == [3.0, 0.5, 0.5]
    assert transforms[1][0]["scale"] == [3.0, 1.0, 1.0]
    np.testing.assert_array_equal(np.asarray(node.data[0]), prob)

    labels = np.zeros((300, 260), np.uint16)
    labels[40:200, 30:90] = 7
    labels[100:280, 150:250] = 300
    [path] = npe2.write(tmp_path / "painted.zarr", [(labels, {"name": "painted"}, "labels")],
                        plugin_name="napari-greentea")
    [node] = list(Reader(parse_url(path))())
    assert any(isinstance(spec, Label) for spec in node.specs)
    levels = [np.asarray(d) for d in node.data]
    assert [lvl.shape for lvl in levels] == [(300, 260), (150, 130), (75, 65)]  # 65 >= 64
    np.testing.assert_array_equal(levels[0], labels)
    assert all(set(np.unique(lvl)) == {0, 7, 300} for lvl in levels[1:])  # nearest, no blends


def test_reader_declines_what_is_not_a_prediction_store(tmp_path):
    import zarr

    from napari_greentea._npe2_io import get_prediction_reader

    (tmp_path / "empty.zarr").mkdir()
    zarr.open_group(tmp_path / "other.zarr", mode="w").create_array("x", shape=(2,), dtype="u1")
    for path in ("empty.zarr", "other.zarr", "missing.zarr"):
        assert get_prediction_reader(str(tmp_path / path)) is None


def test_complete_store_opens_with_its_overview_levels(plugins, tmp_path):
    [(data, meta, kind)] = _predicted_store(tmp_path, (2, 160, 140), "u", 64)
    assert kind == "image" and meta["multiscale"] is True and meta["channel_axis"] == 0
    assert [level.shape for level in data] == [(2, 2, 160, 140), (2, 2, 80, 70)]
    assert meta["scale"] == [1.0, 1.0, 1.0]


def test_ome_zarr_layers_saved_by_our_writers_open_as_the_same_layers(plugins, tmp_path):
    """File > Save as OME-Zarr, then File > Open: same kind of layer, values, levels, scale and
    units (napari's own zarr reader cannot open these stores); saving again writes them back."""
    pytest.importorskip("ome_zarr")
    labels = np.zeros((2, 300, 260), np.uint16)
    labels[:, 40:200, 30:90] = 7
    prob = np.random.default_rng(3).random((2, 150, 140)).astype(np.float32)
    units = ("nanometer",) * 3
    for data, kind, path in ((labels, "labels", "painted.zarr"), (prob, "image", "p.ome.zarr")):
        meta = {"name": kind, "scale": (30.0, 4.0, 4.0), "units": units}
        [written] = npe2.write(tmp_path / path, [(data, meta, kind)],
                               plugin_name="napari-greentea")
        [(levels, back, back_kind)] = npe2.read([written], stack=False,
                                                plugin_name="napari-greentea")
        assert back_kind == kind and back["name"] == kind and back["multiscale"] is True
        assert back["scale"] == [30.0, 4.0, 4.0] and back["units"] == list(units)
        assert levels[1].shape == (2, data.shape[1] // 2, data.shape[2] // 2)
        np.testing.assert_array_equal(np.asarray(levels[0]), data)
        [again] = npe2.write(tmp_path / f"again-{path}", [(levels, back, back_kind)],
                             plugin_name="napari-greentea")
        [(levels2, back2, _)] = npe2.read([again], stack=False, plugin_name="napari-greentea")
        np.testing.assert_array_equal(np.asarray(levels2[0]), data)
        assert back2["scale"] == back["scale"]


def test_ome_zarr_reader_splits_a_channel_axis_and_leaves_stores_to_their_readers(tmp_path):
    from napari_greentea._npe2_io import (
        get_ome_zarr_reader,
        get_prediction_reader,
        read_ome_zarr_layer,
    )
    from napari_greentea.omezarr import write_ome_zarr

    pytest.importorskip("ome_zarr")
    cz = np.random.default_rng(4).integers(0, 255, (3, 2, 70, 80)).astype(np.uint8)
    path = write_ome_zarr(tmp_path / "cz.ome.zarr", cz, scale=(1.0, 40.0, 5.0, 5.0))
    [(data, meta, kind)] = read_ome_zarr_layer(str(path))
    assert kind == "image" and meta["channel_axis"] == 0 and meta["scale"] == [40.0, 5.0, 5.0]
    assert "multiscale" not in meta  # 70 px: no level above 64 px
    np.testing.assert_array_equal(np.asarray(data), cz)
    assert "units" not in meta  # none written
    store = tmp_path / "pred.zarr"
    image = (np.random.default_rng(0).random((30, 40)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", image)
    assert main(["predict", str(tmp_path / "in.tif"), str(store), "--arch", "usk",
                 "--backend", "torch-cpu", "--block", "16"]) == 0
    assert get_ome_zarr_reader(str(store)) is None and get_prediction_reader(str(store))
    tifffile.imwrite(tmp_path / "x.tif", image)
    for other in ("x.tif", "missing.zarr", "in.tif"):
        assert get_ome_zarr_reader(str(tmp_path / other)) is None
