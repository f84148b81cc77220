"""Items 5, 7 and 8: truncated or damaged files are one clear error naming the file."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
import tifffile
import zarr

from napari_greentea.backend import get_backend
from napari_greentea.checkpoint import Checkpoint
from napari_greentea.io import read_image
from napari_greentea.models import dense_graph, preset
from napari_greentea.predict import PredictionJob
from napari_greentea.preprocess import ImageError
from napari_greentea.weights import init_weights

from .conftest import FAST, image_stack, run_cli


def test_truncated_tiff_stack_is_an_error_not_a_2d_image(stack_tif, tmp_path, capsys):
    data = stack_tif.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut\.tif is truncated or damaged"):
        read_image(cut)
    code, err = run_cli(capsys, "predict", cut, tmp_path / "o.tif", *FAST)
    assert code == 2 and "truncated" in err and str(cut) in err


def _damage_one_chunk(store) -> str:
    chunks = sorted(f for f in glob.glob(f"{store}/**/c/**", recursive=True) if os.path.isfile(f))
    with open(chunks[3], "r+b") as fh:
        fh.write(b"\x00garbage\xff" * 4)
    return chunks[3]


def test_damaged_input_chunk_names_file_and_chunk(tmp_path, capsys):
    src = tmp_path / "in.zarr"
    array = zarr.create_array(str(src), shape=(3, 64, 80), chunks=(1, 32, 32), dtype="uint8")
    array[...] = image_stack(0)
    damaged = _damage_one_chunk(src)
    index = tuple(int(p) for p in damaged.split("/c/")[1].split("/"))
    code, err = run_cli(capsys, "predict", src, tmp_path / "o.tif", *FAST)
    assert code == 2
    assert str(src) in err and f"chunk(s) {index}" in err and "damaged" in err


def test_damaged_output_chunk_is_computed_again_on_resume(tmp_path, capsys, stack_tif):
    out = tmp_path / "p.zarr"
    assert run_cli(capsys, "predict", stack_tif, out, *FAST)[0] == 0
    good = zarr.open_group(str(out))["prob"][...]
    _damage_one_chunk(out / "prob")
    code, err = run_cli(capsys, "predict", stack_tif, out, *FAST)
    assert code == 0, err
    assert "damaged" in err and "resuming" in err
    np.testing.assert_array_equal(zarr.open_group(str(out))["prob"][...], good)


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory) -> bytes:
    spec = preset("sk")
    path = tmp_path_factory.mktemp("ck") / "m.npz"
    Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0)).save(path)
    return path.read_bytes()


def test_truncated_checkpoint_is_a_message(tmp_path, capsys, checkpoint_bytes, stack_tif):
    path = tmp_path / "cut.npz"
    path.write_bytes(checkpoint_bytes[: len(checkpoint_bytes) * 2 // 3])
    with pytest.raises(ValueError, match=r"cut\.npz"):
        Checkpoint.load(path)
    code, err = run_cli(capsys, "predict", stack_tif, tmp_path / "o.tif", "--checkpoint", path)
    assert code == 2 and "cut.npz" in err and "Traceback" not in err


def test_random_bytes_checkpoint_gets_no_pickle_hint(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ValueError, match=r"not an \.npz archive") as info:
        Checkpoint.load(path)
    assert "pickle" not in str(info.value) and "unsafe" not in str(info.value)


def test_predict_api_with_damaged_input_names_chunk(tmp_path):
    src = tmp_path / "in.zarr"
    array = zarr.create_array(str(src), shape=(64, 80), chunks=(32, 32), dtype="uint8")
    array[...] = image_stack(0, (64, 80))
    _damage_one_chunk(src)
    graph = dense_graph(preset("sk"))
    predictor = get_backend("torch-cpu").build(graph, init_weights(graph, 0))
    with pytest.raises(ImageError, match="cannot read chunk"):
        job = PredictionJob(predictor, graph, read_image(src), block=32,
                            output=tmp_path / "o.zarr", source=src)
        list(job.run())
    assert not (tmp_path / "o.zarr").exists()


def test_isbi_labels_without_flag_point_to_the_flag(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "img.tif", image_stack(0, (64, 64)))
    tifffile.imwrite(tmp_path / "lab.tif", np.where(image_stack(1, (64, 64)) > 128, 255, 0)
                     .astype(np.uint8))
    code, err = run_cli(capsys, "train", tmp_path / "img.tif", tmp_path / "lab.tif",
                        "--output", tmp_path / "m.npz", "--iterations", 1)
    assert code == 2 and "--isbi-labels" in err and "num_classes" not in err
