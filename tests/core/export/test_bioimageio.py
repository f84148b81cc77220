"""bioimage.io export: validator, bioimageio.core's test, format agreement, re-import."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import tifffile
import yaml

pytest.importorskip("bioimageio.spec")
pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from napari_greentea.checkpoint import Checkpoint  # noqa: E402
from napari_greentea.cli import main  # noqa: E402
from napari_greentea.config import PreprocessConfig  # noqa: E402
from napari_greentea.export.bioimageio import (  # noqa: E402
    ExportError,
    ExportOptions,
    export_bioimageio,
)
from napari_greentea.export.package import load_package  # noqa: E402
from napari_greentea.models import build_graph, dense_graph, preset  # noqa: E402
from napari_greentea.preprocess import preprocess_image  # noqa: E402
from napari_greentea.sample import synthetic_membranes  # noqa: E402
from napari_greentea.weights import init_weights  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def no_network():
    """Export, validation and bioimageio.core's test must work offline."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access attempted during an offline test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        yield


def _checkpoint(kind: str = "u", **preprocess) -> Checkpoint:
    """A model with non-trivial outputs: initial weights plus noise."""
    spec = preset(kind, "interactive")
    rng = np.random.default_rng(1)
    weights = {
        k: v + (0.05 * rng.standard_normal(v.shape)).astype(np.float32)
        for k, v in init_weights(build_graph(spec), 1).items()
    }
    return Checkpoint(spec=spec, weights=weights, class_names=("membrane", "cell"),
                      preprocess=PreprocessConfig(**preprocess), iteration=7)


def _torch_reference(ckpt: Checkpoint, raw: np.ndarray) -> np.ndarray:
    from napari_greentea.backend.torch import TorchBackend

    x = preprocess_image(raw, ckpt.preprocess)[None, None]
    return TorchBackend("cpu").build(dense_graph(ckpt.spec), ckpt.weights)(x)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bioimageio")
    ckpt = _checkpoint(normalize="percentile")
    sample = synthetic_membranes((160, 170), seed=5)[0]
    report = export_bioimageio(ckpt, folder / "model.zip", sample=sample)
    unpacked = folder / "unpacked"
    with zipfile.ZipFile(report.path) as zf:
        zf.extractall(unpacked)
    rdf = yaml.safe_load((unpacked / "rdf.yaml").read_text())
    return ckpt, report, unpacked, rdf


def test_package_passes_the_validator_and_bioimageio_core_test(exported):
    from bioimageio.core import test_model

    _, report, _, _ = exported
    assert report.status == "valid-format"
    summary = test_model(report.path)
    assert summary.status == "passed", summary.display()
    reproduced = [d.name for d in summary.details if d.name.startswith("Reproduce test outputs")]
    assert len(reproduced) == 3, reproduced  # torchscript, onnx, pytorch_state_dict


def test_torchscript_and_onnx_equal_our_torch_output(exported):
    from napari_greentea.export.torch_formats import run_onnx, run_torchscript

    ckpt, report, unpacked, rdf = exported
    raw = np.load(unpacked / "test_input.npy")
    reference = _torch_reference(ckpt, raw[0, 0])
    np.testing.assert_allclose(np.load(unpacked / "test_output.npy"), reference, atol=1e-6)
    graph = dense_graph(ckpt.spec)
    other = graph.smallest_valid_input() + 3 * graph.stride_factor  # not the traced size
    crop = synthetic_membranes((other, other + graph.stride_factor), seed=8)[0]
    other_ref = _torch_reference(ckpt, crop)
    other_in = preprocess_image(crop, ckpt.preprocess)[None, None]
    weights = rdf["weights"]
    for run, name in ((run_torchscript, "torchscript"), (run_onnx, "onnx")):
        path = unpacked / weights[name]["source"]
        x = preprocess_image(raw[0, 0], ckpt.preprocess)[None, None]
        assert np.abs(run(path, x) - reference).max() <= 1e-4, name
        assert np.abs(run(path, other_in) - other_ref).max() <= 1e-4, name
    assert max(report.errors.values()) <= 1e-4


def test_rdf_axes_halo_preprocessing_citations(exported):
    ckpt, _report, unpacked, rdf = exported
    graph = dense_graph(ckpt.spec)
    inp, out = rdf["inputs"][0], rdf["outputs"][0]
    assert [a["type"] for a in inp["axes"]] == ["batch", "channel", "space", "space"]
    y = inp["axes"][2]["size"]
    assert (y["min"], y["step"]) == (graph.smallest_valid_input(), graph.stride_factor)
    assert all(graph.is_valid_input(y["min"] + n * y["step"]) for n in range(6))
    assert out["axes"][2]["size"]["offset"] == -graph.context
    assert out["axes"][1]["channel_names"] == ["membrane", "cell"]
    pre = inp["preprocessing"]
    assert [p["id"] for p in pre][:3] == ["ensure_dtype", "scale_range", "scale_linear"]
    assert (pre[1]["kwargs"]["min_percentile"], pre[1]["kwargs"]["max_percentile"]) == (1.0, 99.8)
    assert (pre[2]["kwargs"]["gain"], pre[2]["kwargs"]["offset"]) == (2.0, -1.0)
    dois = {c.get("doi") for c in rdf["cite"]}
    assert {"10.48550/arXiv.1509.03371", "10.3389/fnana.2015.00142"} <= dois
    assert (unpacked / rdf["covers"][0]["source"]).read_bytes()[:4] == b"\x89PNG"
    assert set(rdf["weights"]) == {"pytorch_state_dict", "torchscript", "onnx"}


def test_reimported_package_predicts_the_same(exported, tmp_path):
    from napari_greentea.backend.torch import TorchBackend
    from napari_greentea.predict import predict_image

    ckpt, report, _, _ = exported
    loaded = load_package(report.path)
    assert loaded.spec == ckpt.spec and loaded.preprocess == ckpt.preprocess
    assert loaded.class_names == ckpt.class_names
    image = synthetic_membranes((2, 70, 90), seed=4)[0]
    graph = dense_graph(ckpt.spec)
    results = [
        predict_image(TorchBackend("cpu").build(graph, c.weights), graph, image, block=32,
                      preprocess=c.preprocess)
        for c in (ckpt, loaded)
    ]
    np.testing.assert_array_equal(results[0], results[1])

    tifffile.imwrite(tmp_path / "in.tif", image)
    ckpt.save(tmp_path / "model.npz")
    for flag, model, out in (("--model", report.path, "a.tif"),
                             ("--checkpoint", tmp_path / "model.npz", "b.tif")):
        assert main(["predict", str(tmp_path / "in.tif"), str(tmp_path / out), flag,
                     str(model), "--block", "32", "--backend", "torch-cpu"]) == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "a.tif"),
                                  tifffile.imread(tmp_path / "b.tif"))
    np.testing.assert_allclose(tifffile.imread(tmp_path / "a.tif"), results[0], atol=1e-5)


def test_clahe_is_refused_unless_allowed_and_then_documented(tmp_path):
    ckpt = _checkpoint("usk", clahe=True)
    with pytest.raises(ExportError, match="CLAHE"):
        export_bioimageio(ckpt, tmp_path / "m.zip")
    report = export_bioimageio(ckpt, tmp_path / "m.zip",
                               options=ExportOptions(allow_missing_preprocessing=True))
    with zipfile.ZipFile(report.path) as zf:
        rdf = yaml.safe_load(zf.read("rdf.yaml"))
    assert "NOT INCLUDED" in rdf["description"] and "CLAHE" in rdf["description"]


def test_foreign_or_broken_packages_are_refused(tmp_path):
    foreign = tmp_path / "other.zip"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("rdf.yaml", yaml.safe_dump({"type": "model", "name": "UNet2D"}))
    with pytest.raises(ValueError, match="not exported by napari-greentea"):
        load_package(foreign)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a zip"):
        load_package(tmp_path / "junk.zip")


def test_cli_export_and_refusals(tmp_path, capsys):
    model = _checkpoint("usk").save(tmp_path / "m.npz")
    out = tmp_path / "pkg.zip"
    assert main(["export", str(model), str(out), "--author", "Ada Lovelace"]) == 0
    assert "valid-format" in capsys.readouterr().out
    with zipfile.ZipFile(out) as zf:
        assert yaml.safe_load(zf.read("rdf.yaml"))["authors"] == [{"name": "Ada Lovelace"}]
    assert main(["export", str(model), str(out)]) == 2  # exists, no --overwrite
    assert main(["export", str(model), str(tmp_path / "pkg.tar")]) == 2
    assert "zip" in capsys.readouterr().err


@pytest.mark.opencl
def test_opencl_trained_checkpoint_exports(tmp_path):
    from napari_greentea.backend.opencl import OpenCLBackend, opencl_available
    from napari_greentea.config import TrainConfig
    from napari_greentea.export.torch_formats import run_onnx
    from napari_greentea.train import LabeledImage, Trainer

    ok, why = opencl_available()
    if not ok:
        pytest.skip(f"OpenCL unavailable: {why}")
    image, truth = synthetic_membranes((64, 64), seed=2)
    trainer = Trainer(preset("usk", "interactive"), [LabeledImage(image, truth)],
                      train=TrainConfig(iterations=3, output_size=16), backend="opencl")
    assert trainer.backend.name == "opencl"
    for _ in trainer.run():
        pass
    ckpt = trainer.checkpoint()
    report = export_bioimageio(ckpt, tmp_path / "ocl.zip", sample=image)
    assert report.status == "valid-format"
    with zipfile.ZipFile(report.path) as zf:
        zf.extractall(tmp_path / "u")
    raw = np.load(tmp_path / "u" / "test_input.npy")
    x = preprocess_image(raw[0, 0], ckpt.preprocess)[None, None]
    graph = dense_graph(ckpt.spec)
    opencl_out = OpenCLBackend().build(graph, ckpt.weights)(x)
    assert np.abs(run_onnx(tmp_path / "u" / "weights.onnx", x) - opencl_out).max() <= 1e-4


def test_two_channel_model_exports_with_a_two_channel_input(tmp_path):
    """The input's channel axis has the model's channels; the test tensor has both."""
    from bioimageio.core import test_model

    from napari_greentea.channels import as_channels

    spec = preset("u", "interactive", in_channels=2)
    weights = init_weights(build_graph(spec), 2)
    ckpt = Checkpoint(spec=spec, weights=weights, class_names=("membrane", "cell"),
                      preprocess=PreprocessConfig(channels=(1, 0)))
    img = synthetic_membranes((160, 160), seed=6)[0].astype(np.float32)
    sample = np.stack([np.random.default_rng(6).random(img.shape), img], -1)  # (Y, X, 2)
    report = export_bioimageio(ckpt, tmp_path / "two.zip", sample=as_channels(sample, -1))
    assert report.status == "valid-format"
    assert test_model(report.path).status == "passed"
    with zipfile.ZipFile(report.path) as zf:
        zf.extractall(tmp_path / "unpacked")
    rdf = yaml.safe_load((tmp_path / "unpacked" / "rdf.yaml").read_text())
    assert rdf["inputs"][0]["axes"][1]["channel_names"] == ["channel1", "channel0"]
    raw = np.load(tmp_path / "unpacked" / "test_input.npy")
    assert raw.shape[:2] == (1, 2)
    np.testing.assert_array_equal(raw[0, 0], sample[..., 1][tuple(
        slice((160 - raw.shape[-1]) // 2, (160 - raw.shape[-1]) // 2 + raw.shape[-1])
        for _ in range(2))])
    assert load_package(report.path).preprocess.channels == (1, 0)
