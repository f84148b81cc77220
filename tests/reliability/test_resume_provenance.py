"""Item 1: resuming checks that the store is a prediction of the same model and image."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import zarr

from napari_greentea.backend import get_backend
from napari_greentea.config import PreprocessConfig
from napari_greentea.models import dense_graph, preset
from napari_greentea.predict import PredictionJob
from napari_greentea.store import StoreMismatch, model_fingerprint
from napari_greentea.weights import init_weights

from .conftest import FAST, greentea_run, image_stack, run_cli


def _job(image, out, seed, **kwargs):
    spec = preset("sk")
    graph = dense_graph(spec)
    weights = init_weights(graph, seed)
    predictor = get_backend("torch-cpu").build(graph, weights)
    return PredictionJob(predictor, graph, image, block=32, output=out,
                         model_fingerprint=model_fingerprint(spec, weights, PreprocessConfig()),
                         **kwargs)


def test_resume_with_another_model_is_refused(tmp_path):
    image, out = image_stack(0), tmp_path / "p.zarr"
    first = _job(image, out, seed=1)
    for _ in first.run(order=first.blocks[:5]):  # an interrupted run: 5 blocks of model 1
        pass
    before = zarr.open_group(str(out))["prob"][...]
    with pytest.raises(StoreMismatch, match=r"another model.*overwrite"):
        _job(image, out, seed=2)
    np.testing.assert_array_equal(zarr.open_group(str(out))["prob"][...], before)
    again = _job(image, out, seed=1)  # the same model resumes
    assert again.reused == 5 and len(again.pending()) == len(again.blocks) - 5


def test_cli_resume_with_another_image_is_refused(tmp_path, capsys):
    a, b, out = tmp_path / "a.tif", tmp_path / "b.tif", tmp_path / "p.zarr"
    tifffile.imwrite(a, image_stack(0), imagej=True)
    tifffile.imwrite(b, image_stack(1), imagej=True)  # same shape and dtype, other pixels
    assert run_cli(capsys, "predict", a, out, *FAST)[0] == 0
    code, err = run_cli(capsys, "predict", b, out, *FAST)
    assert code == 2
    assert "another image" in err and "content" in err and "--overwrite" in err
    code, err = run_cli(capsys, "predict", b, out, *FAST, "--overwrite")
    assert code == 0, err
    assert zarr.open_group(str(out)).attrs["greentea"]["input"]["path"] == str(b)


def test_bf16_fingerprint_differs_like_tta():
    spec = preset("sk")
    weights, pre = init_weights(dense_graph(spec), 0), PreprocessConfig()
    plain = model_fingerprint(spec, weights, pre)
    assert model_fingerprint(spec, weights, pre, bf16=True) == plain + "+bf16"
    assert len({model_fingerprint(spec, weights, pre, tta=t, bf16=b)
                for t in (False, True) for b in (False, True)}) == 4


def test_cli_bf16_store_is_not_resumed_in_float32_or_back(stack_tif, tmp_path, capsys):
    bf16, fp32 = tmp_path / "bf16.zarr", tmp_path / "fp32.zarr"
    cpu = ("--backend", "torch-cpu")
    assert run_cli(capsys, "predict", stack_tif, bf16, *FAST, *cpu, "--bf16")[0] == 0
    stored = zarr.open_group(str(bf16)).attrs["greentea"]
    assert stored["model"].endswith("+bf16") and stored["bf16"] is True
    code, err = run_cli(capsys, "predict", stack_tif, bf16, *FAST, *cpu)
    assert code == 2 and "another model" in err
    assert run_cli(capsys, "predict", stack_tif, fp32, *FAST, *cpu)[0] == 0
    code, err = run_cli(capsys, "predict", stack_tif, fp32, *FAST, *cpu, "--bf16")
    assert code == 2 and "another model" in err
    assert zarr.open_group(str(fp32)).attrs["greentea"]["bf16"] is False


def test_store_without_provenance_is_not_resumed(tmp_path):
    image, out = image_stack(0), tmp_path / "p.zarr"
    _job(image, out, seed=1)
    group = zarr.open_group(str(out), mode="r+")
    meta = dict(group.attrs["greentea"])
    del meta["model"], meta["input"]  # as written by an older version
    group.attrs["greentea"] = meta
    with pytest.raises(StoreMismatch, match="does not record which model"):
        _job(image, out, seed=1)


@pytest.mark.slow
def test_distributed_refuses_another_model_and_honours_overwrite(stack_tif, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "d.zarr"
    args = ("predict", stack_tif, out, *FAST, "--workers", "1")
    code, err = greentea_run(*args, "--seed", "1", timeout=600)
    assert code == 0, err
    assert " INFO " not in err and "distributed." not in err  # no dask chatter
    stored = zarr.open_group(str(out)).attrs["greentea"]["model"]
    code, err = greentea_run(*args, "--seed", "2", timeout=600)
    assert code == 2 and "another model" in err and "Traceback" not in err
    code, err = greentea_run(*args, "--seed", "2", "--overwrite", timeout=600)
    assert code == 0, err
    assert zarr.open_group(str(out)).attrs["greentea"]["model"] != stored
