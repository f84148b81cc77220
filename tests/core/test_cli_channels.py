"""``greentea train``/``predict`` with multi-channel inputs: RGB PNG, --channel-axis and
--channels, OME-Zarr ``c`` axes, TIFF hyperstacks, and the errors when channels do not fit."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_greentea.checkpoint import Checkpoint
from napari_greentea.cli import main
from napari_greentea.sample import synthetic_membranes

FAST = ["--arch", "usk", "--iterations", "2", "--patch", "16", "--backend", "torch-cpu"]


def _data(seed=0, shape=(64, 64)):
    img, gt = synthetic_membranes(shape, seed=seed)
    noise = np.random.default_rng(seed).random(img.shape)
    red = np.interp(img, (img.min(), img.max()), (0, 255))
    return red, noise * 255, gt.astype(np.uint8)


def _backends():
    from napari_greentea.backend.opencl import opencl_available

    return ["torch-cpu"] + (["opencl"] if opencl_available()[0] else [])


def test_rgb_png_trains_and_predicts(tmp_path, capsys):
    from skimage.io import imsave

    red, noise, gt = _data()
    rgb = np.stack([red, noise, 255 - red], -1).astype(np.uint8)
    imsave(tmp_path / "rgb.png", rgb, check_contrast=False)
    tifffile.imwrite(tmp_path / "gt.tif", gt)
    model = tmp_path / "m.npz"
    assert main(["train", str(tmp_path / "rgb.png"), str(tmp_path / "gt.tif"),
                 "--output", str(model), *FAST]) == 0
    ckpt = Checkpoint.load(model)
    assert ckpt.spec.in_channels == 3 and ckpt.preprocess.channels == (0, 1, 2)
    for backend in _backends():
        out = tmp_path / f"p-{backend}.tif"
        assert main(["predict", str(tmp_path / "rgb.png"), str(out), "--checkpoint",
                     str(model), "--block", "32", "--backend", backend,
                     "--preview", str(tmp_path / "p.png")]) == 0
        assert tifffile.imread(out).shape == (2, 64, 64)
    if len(_backends()) == 2:
        np.testing.assert_allclose(tifffile.imread(tmp_path / "p-opencl.tif"),
                                   tifffile.imread(tmp_path / "p-torch-cpu.tif"), atol=1e-4)
    # a grey image cannot feed the 3-channel model: both counts are named
    tifffile.imwrite(tmp_path / "grey.tif", red.astype(np.uint8))
    assert main(["predict", str(tmp_path / "grey.tif"), str(tmp_path / "g.tif"),
                 "--checkpoint", str(model)]) == 2
    assert "reads 3 channel(s) but the image gives 1" in capsys.readouterr().err


def test_channel_axis_and_chosen_channels(tmp_path, capsys):
    red, noise, gt = _data(1)
    stack = np.stack([red, noise, 255 - red]).astype(np.float32)  # (C, Y, X)
    np.save(tmp_path / "cyx.npy", stack)
    tifffile.imwrite(tmp_path / "gt.tif", gt)
    model = tmp_path / "m.npz"
    assert main(["train", str(tmp_path / "cyx.npy"), str(tmp_path / "gt.tif"), "--output",
                 str(model), "--channel-axis", "0", "--channels", "2,0", *FAST]) == 0
    ckpt = Checkpoint.load(model)
    assert ckpt.spec.in_channels == 2 and ckpt.preprocess.channels == (2, 0)
    # prediction reads the trained channels (2, 0) by default: equal to an explicit choice
    common = ["--checkpoint", str(model), "--block", "32", "--channel-axis", "0"]
    assert main(["predict", str(tmp_path / "cyx.npy"), str(tmp_path / "a.tif"), *common]) == 0
    assert main(["predict", str(tmp_path / "cyx.npy"), str(tmp_path / "b.tif"), *common,
                 "--channels", "2,0"]) == 0
    assert main(["predict", str(tmp_path / "cyx.npy"), str(tmp_path / "c.tif"), *common,
                 "--channels", "0,2"]) == 0
    a, b, c = (tifffile.imread(tmp_path / f"{n}.tif") for n in "abc")
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    capsys.readouterr()
    for extra, message in (
        (["--channel-axis", "5"], "channel axis 5 is out of range"),
        (["--channel-axis", "0", "--channels", "0,7"], "channel 7 is out of range"),
        (["--channel-axis", "0", "--channels", "1"], "reads 2 channel(s) but the image gives 1"),
        (["--channels", "x"], "--channels takes indices"),
    ):
        assert main(["predict", str(tmp_path / "cyx.npy"), str(tmp_path / "bad.tif"),
                     "--checkpoint", str(model), *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err


def test_ome_zarr_channel_axis_is_found(tmp_path):
    from napari_greentea.omezarr import write_ome_zarr

    red, noise, gt = _data(2)
    czyx = np.stack([np.stack([red, red[::-1]]), np.stack([noise, noise[::-1]])])
    write_ome_zarr(tmp_path / "in.ome.zarr", czyx.astype(np.uint8))
    labels = np.stack([gt, gt[::-1]])
    tifffile.imwrite(tmp_path / "gt.tif", labels)
    model = tmp_path / "m.npz"
    assert main(["train", str(tmp_path / "in.ome.zarr"), str(tmp_path / "gt.tif"),
                 "--output", str(model), *FAST]) == 0
    assert Checkpoint.load(model).spec.in_channels == 2
    out = tmp_path / "out.zarr"
    assert main(["predict", str(tmp_path / "in.ome.zarr"), str(out), "--checkpoint",
                 str(model), "--block", "32"]) == 0
    import zarr

    group = zarr.open_group(str(out), mode="r")
    assert group["prob"].shape == (2, 2, 64, 64)
    assert group.attrs["greentea"]["input"]["channels"] == [0, 1]
    assert not np.isnan(group["prob"][...]).any()


def test_tiff_stacks_stay_grey_without_channel_axis(tmp_path):
    """tifffile marks any ImageJ stack written without axes as channels (CYX), so TIFF
    metadata is not used; the same file with --channel-axis 1 has channels."""
    from napari_greentea.io import channel_axis_hint

    red, noise, gt = _data(3)
    zcyx = np.stack([np.stack([red, noise])] * 3).astype(np.uint8)
    tifffile.imwrite(tmp_path / "h.tif", zcyx, imagej=True, metadata={"axes": "ZCYX"})
    tifffile.imwrite(tmp_path / "z.tif", zcyx[:, 0], imagej=True)
    assert channel_axis_hint(tmp_path / "h.tif") is None
    assert channel_axis_hint(tmp_path / "z.tif") is None
    tifffile.imwrite(tmp_path / "gt.tif", np.stack([gt] * 3))
    assert main(["train", str(tmp_path / "h.tif"), str(tmp_path / "gt.tif"), "--output",
                 str(tmp_path / "m.npz"), "--channel-axis", "1", *FAST]) == 0
    assert Checkpoint.load(tmp_path / "m.npz").spec.in_channels == 2


def test_distributed_prediction_with_channels(tmp_path):
    pytest.importorskip("distributed")
    from napari_greentea.channels import as_channels
    from napari_greentea.distributed import connect, predict_distributed
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.predict import build_predictor, predict_image
    from napari_greentea.weights import init_weights

    spec = preset("usk", in_channels=2)
    ckpt = Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0))
    ckpt.preprocess = ckpt.preprocess.replace(channels=(2, 0))
    ckpt.save(tmp_path / "m.npz")
    red, noise, _ = _data(4)
    yxc = np.stack([red, noise, red[::-1]], -1).astype(np.float32)
    np.save(tmp_path / "in.npy", yxc)
    client = connect(workers=1)
    try:
        predict_distributed(client, tmp_path / "m.npz", tmp_path / "in.npy",
                            tmp_path / "out.zarr", block=32, channel_axis=-1)
    finally:
        client.close()
    import zarr

    got = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")["prob"][...]
    predictor = build_predictor(ckpt, "torch-cpu")
    want = predict_image(predictor, predictor.graph, as_channels(yxc, -1, (2, 0)), block=32)
    np.testing.assert_allclose(got, want, atol=1e-6)
