"""dask.distributed prediction: equals one process, resumes, survives a dead worker."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading

import numpy as np
import pytest
import tifffile

distributed = pytest.importorskip("distributed", reason="pip install distributed")

from napari_greentea.backend import get_backend  # noqa: E402
from napari_greentea.checkpoint import Checkpoint  # noqa: E402
from napari_greentea.distributed import connect, predict_distributed  # noqa: E402
from napari_greentea.models import dense_graph, preset  # noqa: E402
from napari_greentea.predict import predict_image  # noqa: E402
from napari_greentea.weights import init_weights  # noqa: E402

BLOCK = 32


@pytest.fixture(scope="module")
def client():
    c = connect(workers=2)
    yield c
    c.close()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dist")
    spec = preset("usk")
    graph = dense_graph(spec)
    weights = init_weights(graph, 0)
    ckpt = Checkpoint(spec=spec, weights=weights).save(folder / "m.npz")
    image = (np.random.default_rng(0).random((3, 80, 90)) * 255).astype(np.uint8)
    tifffile.imwrite(folder / "in.tif", image)
    reference = predict_image(get_backend("torch-cpu").build(graph, weights), graph, image,
                              block=BLOCK)
    return folder, str(ckpt), reference


def _read(path):
    import zarr

    return zarr.open_group(str(path), mode="r")["prob"][...]


def test_equals_single_process_and_resumes(client, model, tmp_path):
    folder, ckpt, reference = model
    out = tmp_path / "out.zarr"
    summary = predict_distributed(client, ckpt, folder / "in.tif", out, block=BLOCK)
    assert summary.blocks_total == 3 * 3 * 3 and summary.blocks_computed == 27
    np.testing.assert_allclose(_read(out), reference, atol=1e-6)
    # delete three blocks (their chunks, all classes): only those are recomputed
    for z, gy, gx in [(0, 0, 0), (1, 2, 1), (2, 1, 2)]:
        for c in range(2):
            os.remove(out / "prob" / "c" / str(c) / str(z) / str(gy) / str(gx))
    again = predict_distributed(client, ckpt, folder / "in.tif", out, block=BLOCK)
    assert again.blocks_computed == 3 and again.blocks_skipped == 24
    np.testing.assert_allclose(_read(out), reference, atol=1e-6)


def test_killed_worker_still_completes(model, tmp_path):
    """A worker process dies mid-run: dask reschedules its block, the run completes."""
    folder, ckpt, reference = model
    c = connect(workers=2)
    try:
        out = tmp_path / "out.zarr"
        killed = []

        def kill_after_some_blocks(done, total):
            if done == 4 and not killed:
                victim = next(iter(c.scheduler_info()["workers"]))
                killed.append(victim)
                threading.Thread(target=_kill, args=(c, victim), daemon=True).start()

        summary = predict_distributed(c, ckpt, folder / "in.tif", out, block=BLOCK,
                                      on_block=kill_after_some_blocks)
        assert killed
        assert summary.blocks_computed == 27
        np.testing.assert_allclose(_read(out), reference, atol=1e-6)
    finally:
        c.close()


def _kill(client, worker):
    # the connection dies with the worker, as intended
    with contextlib.suppress(Exception):
        client.run(os._exit, 1, workers=[worker])


def test_unreachable_scheduler():
    with pytest.raises(ConnectionError, match="cannot reach the dask scheduler"):
        connect("tcp://127.0.0.1:9", timeout=2)


def test_existing_output_with_other_shape(client, model, tmp_path):
    folder, ckpt, _ = model
    out = tmp_path / "other.zarr"
    tifffile.imwrite(tmp_path / "small.tif", np.arange(400, dtype=np.uint8).reshape(20, 20))
    predict_distributed(client, ckpt, tmp_path / "small.tif", out, block=BLOCK)
    with pytest.raises(ValueError, match="exists with different settings"):
        predict_distributed(client, ckpt, folder / "in.tif", out, block=BLOCK)
    assert _read(out).shape == (2, 20, 20)  # nothing overwritten


def test_read_only_output(client, model, tmp_path):
    folder, ckpt, _ = model
    locked = tmp_path / "ro"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(PermissionError, match="not writable"):
            predict_distributed(client, ckpt, folder / "in.tif", locked / "o.zarr", block=BLOCK)
    finally:
        os.chmod(locked, 0o700)
        shutil.rmtree(locked)


def test_zarr_v2_and_url_inputs(client, model, tmp_path):
    import zarr

    folder, ckpt, reference = model
    image = tifffile.imread(folder / "in.tif")
    v2 = zarr.create_array(str(tmp_path / "in_v2.zarr"), shape=image.shape, chunks=(1, 40, 40),
                           dtype=image.dtype, zarr_format=2)
    v2[...] = image
    out = tmp_path / "out.zarr"
    predict_distributed(client, ckpt, f"file://{tmp_path / 'in_v2.zarr'}", out, block=BLOCK)
    np.testing.assert_allclose(_read(out), reference, atol=1e-6)


def test_hdf5_input_with_key_on_workers(client, model, tmp_path):
    h5py = pytest.importorskip("h5py")
    folder, ckpt, reference = model
    with h5py.File(tmp_path / "in.h5", "w") as fh:
        fh.create_dataset("volumes/raw", data=tifffile.imread(folder / "in.tif"), chunks=True)
    out = tmp_path / "out.zarr"
    summary = predict_distributed(client, ckpt, f"{tmp_path / 'in.h5'}:/volumes/raw", out,
                                  block=BLOCK)
    assert summary.blocks_computed == 27
    np.testing.assert_allclose(_read(out), reference, atol=1e-6)


def test_ome_zarr_input_keeps_its_scale_on_workers(client, model, tmp_path):
    """The store of a distributed run has the input level's scale and units, as in one process."""
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    from napari_greentea.omezarr import write_ome_zarr

    folder, ckpt, reference = model
    src = write_ome_zarr(tmp_path / "in.ome.zarr", tifffile.imread(folder / "in.tif"),
                         scale=(40.0, 4.0, 4.0), units=("nanometer",) * 3)
    out = tmp_path / "out.zarr"
    summary = predict_distributed(client, ckpt, src, out, block=BLOCK)
    assert summary.blocks_left == 0
    np.testing.assert_allclose(_read(out), reference, atol=1e-6)
    [image] = list(Reader(parse_url(str(out)))())
    assert image.metadata["coordinateTransformations"][0][0]["scale"] == [1, 40, 4, 4]
    assert [a.get("unit") for a in image.metadata["axes"]][1:] == ["nanometer"] * 3
