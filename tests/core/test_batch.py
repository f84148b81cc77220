"""``greentea predict --out``: folders and globs, one store per input, a summary, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from napari_greentea.backend import get_backend
from napari_greentea.batch import expand_inputs, output_paths, read_summary
from napari_greentea.checkpoint import Checkpoint
from napari_greentea.cli import main
from napari_greentea.models import dense_graph, preset
from napari_greentea.predict import predict_image
from napari_greentea.weights import init_weights

BLOCK = 32
SHAPES = {"a.tif": (40, 50), "b.tif": (2, 36, 40), "c.npy": (64, 70)}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    spec = preset("usk")
    ckpt = Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0))
    return ckpt, str(ckpt.save(folder / "model.npz"))


@pytest.fixture
def images(tmp_path):
    """Three readable images, one damaged TIFF and a text file in ``raw/``."""
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    for name, shape in SHAPES.items():
        data = (rng.random(shape) * 255).astype(np.uint8)
        if name.endswith(".npy"):
            np.save(raw / name, data)
        else:
            tifffile.imwrite(raw / name, data)
    (raw / "broken.tif").write_bytes(b"II*\0 this is not really a tiff")
    (raw / "notes.txt").write_text("not an image")
    return raw


def _prob(path):
    import zarr

    return zarr.open_group(str(path), mode="r")["prob"][...]


def _by_name(summary):
    return {f.input.rsplit("/", 1)[-1]: f for f in summary.files}


def test_folder_reports_the_bad_file_and_a_rerun_recomputes_nothing(model, images, tmp_path,
                                                                     capsys):
    ckpt, path = model
    out = tmp_path / "out"
    assert main(["predict", path, str(images), "--out", str(out), "--block", str(BLOCK)]) == 1
    first = _by_name(read_summary(out))
    assert set(first) == {"a.tif", "b.tif", "c.npy", "broken.tif"}  # notes.txt is not an image
    assert first["broken.tif"].status == "failed" and "TIFF" in first["broken.tif"].error
    predictor = get_backend("torch-cpu").build(dense_graph(ckpt.spec), ckpt.weights)
    for name, shape in SHAPES.items():
        entry = first[name]
        assert entry.status == "computed" and entry.shape == list(shape)
        assert entry.blocks_computed == entry.blocks_total > 0 and entry.blocks_reused == 0
        stem = name.split(".")[0]
        assert entry.output == str(out / f"{stem}.zarr")
        source = images / name
        image = np.load(source) if name.endswith(".npy") else tifffile.imread(source)
        expected = predict_image(predictor, predictor.graph, image, block=BLOCK)
        np.testing.assert_allclose(_prob(entry.output), expected, atol=1e-5)
    text = capsys.readouterr()
    assert "broken.tif" in text.out and "failed" in text.out  # the table
    assert "1 of 4 input(s) failed" in text.err and "notes.txt" in text.err

    assert main(["predict", path, str(images), "--out", str(out), "--block", str(BLOCK)]) == 1
    again = _by_name(read_summary(out))
    for name in SHAPES:
        assert again[name].status == "skipped"
        assert again[name].blocks_computed == 0
        assert again[name].blocks_reused == first[name].blocks_total
    assert again["broken.tif"].status == "failed"


def test_partial_output_resumes_only_its_missing_blocks(model, images, tmp_path):
    import zarr

    _, path = model
    out = tmp_path / "out"
    args = ["predict", path, str(images / "b.tif"), str(images / "a.tif"), "--out", str(out),
            "--block", str(BLOCK)]
    assert main(args) == 0
    group = zarr.open_group(str(out / "b.zarr"), mode="r+")
    group["done"][1, 0, 1] = 0  # as if killed before this block was written
    meta = dict(group.attrs["greentea"])
    group.attrs["greentea"] = {**meta, "complete": False}
    assert main(args) == 0
    summary = _by_name(read_summary(out))
    assert summary["b.tif"].status == "resumed" and summary["b.tif"].blocks_computed == 1
    assert summary["a.tif"].status == "skipped" and summary["a.tif"].blocks_computed == 0
    assert zarr.open_group(str(out / "b.zarr"), mode="r").attrs["greentea"]["complete"]


def test_quoted_glob_and_model_option(model, images, tmp_path):
    _, path = model
    out = tmp_path / "glob"
    assert main(["predict", str(images / "[ab].tif"), "--model", path, "--out", str(out),
                 "--block", str(BLOCK)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [f["input"].rsplit("/", 1)[-1] for f in summary["files"]] == ["a.tif", "b.tif"]
    assert sorted(p.name for p in out.iterdir()) == ["a.zarr", "b.zarr", "summary.json"]
    assert main(["predict", str(images / "*.png"), "--model", path, "--out", str(out)]) == 2


def test_a_store_of_another_model_fails_that_input_only(model, images, tmp_path):
    _, path = model
    out = tmp_path / "out"
    other = Checkpoint(spec=preset("usk"), weights=init_weights(dense_graph(preset("usk")), 1))
    other_path = str(other.save(tmp_path / "other.npz"))
    inputs = [str(images / "a.tif"), str(images / "c.npy")]
    assert main(["predict", other_path, inputs[0], "--out", str(out), "--block", str(BLOCK)]) == 0
    assert main(["predict", path, *inputs, "--out", str(out), "--block", str(BLOCK)]) == 1
    summary = _by_name(read_summary(out))
    assert summary["a.tif"].status == "failed" and "another model" in summary["a.tif"].error
    assert summary["c.npy"].status == "computed"


def test_folders_skip_our_stores_and_names_stay_distinct(images, tmp_path):
    (images / "a.png").write_bytes(b"")
    found, ignored = expand_inputs([str(images)])
    assert [p.rsplit("/", 1)[-1] for p in found] == ["a.png", "a.tif", "b.tif", "broken.tif",
                                                      "c.npy"]
    assert [p.rsplit("/", 1)[-1] for p in ignored] == ["notes.txt"]
    names = [p.name for p in output_paths(found, tmp_path)]
    assert names == ["a.png.zarr", "a.tif.zarr", "b.zarr", "broken.zarr", "c.zarr"]
    other = tmp_path / "sub"
    other.mkdir()
    (other / "a.tif").write_bytes(b"")
    with pytest.raises(ValueError, match="would all be written"):
        output_paths([str(images / "a.tif"), str(other / "a.tif")], tmp_path)


def test_single_form_still_needs_exactly_input_and_output(images, tmp_path, capsys):
    assert main(["predict", str(images / "a.tif"), str(images / "b.tif"),
                 str(tmp_path / "x.zarr")]) == 2
    assert "--out" in capsys.readouterr().err


def test_distributed_spreads_every_file_and_resumes(model, images, tmp_path):
    distributed = pytest.importorskip("distributed", reason="pip install distributed")
    from napari_greentea.batch import predict_files_distributed

    ckpt, path = model
    inputs = [str(images / n) for n in ("a.tif", "b.tif", "c.npy", "broken.tif")]
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        out = tmp_path / "dask"
        with distributed.get_task_stream(client) as stream:
            first = _by_name(predict_files_distributed(client, path, inputs, out, block=BLOCK))
        again = _by_name(predict_files_distributed(client, path, inputs, out, block=BLOCK))
    finally:
        client.close()
        cluster.close()
    blocks = [t for t in stream.data if str(t["key"]).startswith("greentea-block-")]
    assert len({t["worker"] for t in blocks}) == 2  # the blocks went to both workers
    assert {str(t["key"]).rsplit("-", 1)[-1] for t in blocks} == {"a.zarr", "b.zarr", "c.zarr"}
    assert first["broken.tif"].status == "failed" and again["broken.tif"].status == "failed"
    predictor = get_backend("torch-cpu").build(dense_graph(ckpt.spec), ckpt.weights)
    for name, shape in SHAPES.items():
        assert first[name].status == "computed" and first[name].shape == list(shape)
        assert again[name].status == "skipped" and again[name].blocks_computed == 0
        source = images / name
        image = np.load(source) if name.endswith(".npy") else tifffile.imread(source)
        expected = predict_image(predictor, predictor.graph, image, block=BLOCK)
        np.testing.assert_allclose(_prob(first[name].output), expected, atol=1e-5)


def test_bf16_batch_stores_are_not_resumed_in_float32(model, tmp_path):
    from napari_greentea.batch import predict_files

    ckpt, _ = model
    src = tmp_path / "a.tif"
    tifffile.imwrite(src, (np.random.default_rng(1).random((40, 50)) * 255).astype(np.uint8))
    out = tmp_path / "out"
    first = predict_files(ckpt, [str(src)], out, backend="torch-cpu", block=BLOCK, bf16=True)
    assert first.model.endswith("+bf16") and first.files[0].status == "computed"
    again = predict_files(ckpt, [str(src)], out, backend="torch-cpu", block=BLOCK)
    assert again.files[0].status == "failed" and "another model" in again.files[0].error
