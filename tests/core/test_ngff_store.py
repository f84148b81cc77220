"""Prediction stores are OME-Zarr images: axes, scales, persisted levels, labels/."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ome_zarr")

from napari_greentea.models import preset
from napari_greentea.predict import PredictionJob, build_predictor


def _nodes(path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    return list(Reader(parse_url(str(path)))())


@pytest.fixture(scope="module")
def predictor():
    return build_predictor(preset("u"), "torch-cpu")


def _image(shape, seed=0):
    return (np.random.default_rng(seed).random(shape) * 255).astype(np.uint8)


def test_complete_store_reads_as_multiscale_ome_zarr(predictor, tmp_path):
    out = tmp_path / "p.zarr"
    job = PredictionJob(predictor, predictor.graph, _image((2, 300, 260)), block=64,
                        output=out, scale=(40.0, 4.0, 4.0), units=("nanometer",) * 3)
    list(job.run())
    image = _nodes(out)[0]
    assert [a["name"] for a in image.metadata["axes"]] == ["c", "z", "y", "x"]
    assert [a.get("unit") for a in image.metadata["axes"]] == [None] + ["nanometer"] * 3
    assert [d.shape for d in image.data] == [(2, 2, 300, 260), (2, 2, 150, 130),
                                             (2, 2, 75, 65)]
    scales = [t[0]["scale"] for t in image.metadata["coordinateTransformations"]]
    assert scales == [[1, 40, 4, 4], [1, 40, 8, 8], [1, 40, 16, 16]]
    level0 = np.asarray(job.prob[...])
    expected = level0[..., :300, :260].reshape(2, 2, 150, 2, 130, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(np.asarray(image.data[1]), expected, rtol=1e-6, atol=1e-6)


def test_incomplete_store_lists_level_zero_until_resumed(predictor, tmp_path):
    out = tmp_path / "p.zarr"
    image = _image((128, 192))
    job = PredictionJob(predictor, predictor.graph, image, block=64, output=out)
    list(job.run(job.blocks[:2]))  # interrupted after two of six blocks
    assert [d.shape for d in _nodes(out)[0].data] == [(2, 128, 192)]
    resumed = PredictionJob(predictor, predictor.graph, image, block=64, output=out)
    assert resumed.reused == 2
    list(resumed.run())
    assert [d.shape for d in _nodes(out)[0].data] == [(2, 128, 192), (2, 64, 96)]


def test_uint8_store_keeps_uint8_levels(predictor, tmp_path):
    out = tmp_path / "p.zarr"
    job = PredictionJob(predictor, predictor.graph, _image((128, 128)), block=64, output=out,
                        dtype="uint8")
    list(job.run())
    levels = _nodes(out)[0].data
    assert [np.dtype(d.dtype) for d in levels] == [np.uint8, np.uint8]


def test_segment_into_the_store_as_ngff_labels(predictor, tmp_path, capsys):
    from napari_greentea.cli import main
    from napari_greentea.io import read_image

    out = tmp_path / "p.zarr"
    job = PredictionJob(predictor, predictor.graph, _image((2, 160, 160)), block=64,
                        output=out, scale=(30.0, 5.0, 5.0))
    list(job.run())
    tif = tmp_path / "seg.tif"
    assert main(["segment", str(out), str(tif), "--method", "threshold"]) == 0
    target = out / "labels" / "cells"
    assert main(["segment", str(out), str(target), "--method", "threshold"]) == 0
    from ome_zarr.reader import Label

    label = next(n for n in _nodes(target) if any(isinstance(s, Label) for s in n.specs))
    np.testing.assert_array_equal(np.asarray(label.data[0]), np.asarray(read_image(tif)))
    scales = [t[0]["scale"] for t in label.metadata["coordinateTransformations"]]
    assert scales[0] == [30.0, 5.0, 5.0]
    capsys.readouterr()
    assert main(["segment", str(out), str(target), "--method", "threshold"]) != 0
    assert "exists" in capsys.readouterr().err


def test_an_ome_zarr_input_passes_its_scale_to_the_prediction(tmp_path):
    from napari_greentea.cli import main
    from napari_greentea.omezarr import write_ome_zarr

    src = write_ome_zarr(tmp_path / "in.ome.zarr", _image((2, 160, 140)),
                         scale=(50.0, 8.0, 8.0), units=("nanometer",) * 3)
    out = tmp_path / "p.zarr"
    assert main(["predict", str(src), str(out), "--arch", "u", "--backend", "torch-cpu",
                 "--block", "64"]) == 0
    image = _nodes(out)[0]
    assert image.metadata["coordinateTransformations"][0][0]["scale"] == [1, 50, 8, 8]
    assert [a.get("unit") for a in image.metadata["axes"]][1:] == ["nanometer"] * 3


def test_an_ome_zarr_input_opens_at_a_chosen_level_with_that_level_scale(tmp_path):
    """``--key 1`` (or ``in.ome.zarr:1``) predicts the half-resolution level, and the
    prediction carries that level's scale, so it overlays the image in NGFF viewers."""
    from napari_greentea.cli import main
    from napari_greentea.io import read_image
    from napari_greentea.omezarr import write_ome_zarr

    src = write_ome_zarr(tmp_path / "in.ome.zarr", _image((2, 260, 280)),
                         scale=(50.0, 8.0, 8.0), units=("nanometer",) * 3)
    assert read_image(src).shape == (2, 260, 280)  # level 0 by default
    common = ["--arch", "u", "--backend", "torch-cpu", "--block", "64"]
    for out, where in ((tmp_path / "a.zarr", [str(src), "--key", "1"]),
                       (tmp_path / "b.zarr", [f"{src}:1"])):
        args = [where[0], str(out), *common, *where[1:]]
        assert main(["predict", *args]) == 0
        image = _nodes(out)[0]
        assert image.data[0].shape == (2, 2, 130, 140)
        assert image.metadata["coordinateTransformations"][0][0]["scale"] == [1, 50, 16, 16]
    np.testing.assert_array_equal(np.asarray(_nodes(tmp_path / "a.zarr")[0].data[0]),
                                  np.asarray(_nodes(tmp_path / "b.zarr")[0].data[0]))
