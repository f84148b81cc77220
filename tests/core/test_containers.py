"""HDF5 and N5 inputs with dataset keys: lazy reads, predict and train from them."""

from __future__ import annotations

import itertools
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile

h5py = pytest.importorskip("h5py")
pytest.importorskip("tensorstore")

from napari_greentea.cli import main  # noqa: E402
from napari_greentea.containers import split_dataset_path  # noqa: E402
from napari_greentea.io import read_image  # noqa: E402
from napari_greentea.sample import synthetic_membranes  # noqa: E402


def write_n5_by_hand(root: Path, key: str, data: np.ndarray, block: tuple[int, ...]) -> None:
    """An N5 dataset written from the format description, independent of tensorstore.

    N5 lists dimensions fastest first, so a (z, y, x) array has dimensions
    [x, y, z]; each block file starts with a big-endian header (mode 0,
    ndim, block size) followed by the block's big-endian data, x fastest.
    """
    folder = root / key
    folder.mkdir(parents=True)
    (root / "attributes.json").write_text(json.dumps({"n5": "2.0.0"}))
    dims = list(data.shape[::-1])
    block_f = list(block[::-1])
    (folder / "attributes.json").write_text(json.dumps({
        "dimensions": dims, "blockSize": block_f, "dataType": data.dtype.name,
        "compression": {"type": "raw"},
    }))
    grid = [range(0, n, b) for n, b in zip(data.shape, block)]
    for origin in itertools.product(*grid):
        region = tuple(slice(o, o + b) for o, b in zip(origin, block))
        chunk = data[region]
        index = [o // b for o, b in zip(origin, block)][::-1]  # path is x/y/z
        path = folder.joinpath(*map(str, index))
        path.parent.mkdir(parents=True, exist_ok=True)
        header = struct.pack(">HH", 0, chunk.ndim) + struct.pack(
            f">{chunk.ndim}I", *chunk.shape[::-1]
        )
        path.write_bytes(header + chunk.astype(chunk.dtype.newbyteorder(">")).tobytes())


@pytest.fixture
def stack() -> np.ndarray:
    return (np.random.default_rng(0).random((3, 40, 52)) * 4000).astype(np.uint16)


def test_split_dataset_path():
    assert split_dataset_path("a/b.h5:/volumes/raw") == ("a/b.h5", "volumes/raw")
    assert split_dataset_path("c.N5:raw/s0") == ("c.N5", "raw/s0")
    assert split_dataset_path("d.zarr:/prob") == ("d.zarr", "prob")
    assert split_dataset_path("plain.tif") == ("plain.tif", None)
    assert split_dataset_path("e.h5") == ("e.h5", None)


def test_hdf5_with_key_in_path_or_argument(tmp_path, stack):
    path = tmp_path / "vol.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("volumes/raw", data=stack, chunks=(1, 16, 16))
        fh.create_dataset("volumes/labels", data=stack > 2000)
    for array in (read_image(f"{path}:/volumes/raw"), read_image(path, key="volumes/raw")):
        assert array.shape == stack.shape and array.dtype == np.uint16
        np.testing.assert_array_equal(array[1, 5:17, 30:52], stack[1, 5:17, 30:52])
        np.testing.assert_array_equal(np.asarray(array), stack)
    with pytest.raises(ValueError, match="volumes/labels"):
        read_image(path)  # two datasets: the message lists them
    with pytest.raises(ValueError, match="no dataset 'nope'"):
        read_image(f"{path}:nope")
    with pytest.raises(ValueError, match="two dataset keys"):
        read_image(f"{path}:/volumes/raw", key="volumes/labels")
    revived = pickle.loads(pickle.dumps(read_image(path, key="volumes/raw")))
    np.testing.assert_array_equal(revived[2], stack[2])


def test_n5_written_by_hand_reads_as_zyx(tmp_path, stack):
    root = tmp_path / "vol.n5"
    write_n5_by_hand(root, "raw/s0", stack, (1, 16, 16))
    array = read_image(f"{root}:raw/s0")
    assert array.shape == stack.shape and array.dtype == np.uint16
    np.testing.assert_array_equal(np.asarray(array), stack)
    assert read_image(root).shape == stack.shape  # the only dataset
    revived = pickle.loads(pickle.dumps(array))
    np.testing.assert_array_equal(revived[0, :3, :4], stack[0, :3, :4])


def test_n5_reads_only_the_blocks_it_needs(tmp_path, stack):
    root = tmp_path / "vol.n5"
    write_n5_by_hand(root, "raw", stack, (1, 16, 16))
    (root / "raw" / "3" / "2" / "2").write_bytes(b"corrupt")  # x-block 3, y-block 2, z 2
    array = read_image(root, key="raw")
    np.testing.assert_array_equal(array[2, :32, :48], stack[2, :32, :48])
    np.testing.assert_array_equal(array[0], stack[0])
    with pytest.raises(ValueError):
        array[2]


@pytest.mark.parametrize("container", ["h5", "n5"])
def test_predict_from_container_equals_predict_from_tiff(tmp_path, stack, container):
    tifffile.imwrite(tmp_path / "in.tif", stack)
    if container == "h5":
        with h5py.File(tmp_path / "in.h5", "w") as fh:
            fh.create_dataset("volumes/raw", data=stack, chunks=(1, 16, 16))
        source, extra = str(tmp_path / "in.h5"), ["--key", "/volumes/raw"]
    else:
        write_n5_by_hand(tmp_path / "in.n5", "raw", stack, (1, 16, 16))
        source, extra = f"{tmp_path / 'in.n5'}:raw", []
    common = ["--arch", "usk", "--block", "16", "--backend", "torch-cpu"]
    assert main(["predict", str(tmp_path / "in.tif"), str(tmp_path / "a.tif"), *common]) == 0
    assert main(["predict", source, str(tmp_path / "b.zarr"), *common, *extra]) == 0
    import zarr

    expected = tifffile.imread(tmp_path / "a.tif")
    np.testing.assert_array_equal(np.asarray(zarr.open_group(tmp_path / "b.zarr")["prob"]),
                                  expected)


def test_train_from_hdf5_keys(tmp_path, capsys):
    image, truth = synthetic_membranes((2, 64, 64), seed=2)
    with h5py.File(tmp_path / "data.h5", "w") as fh:
        fh["raw"] = image
        fh["gt/classes"] = truth
    model = tmp_path / "m.npz"
    assert main(["train", f"{tmp_path / 'data.h5'}:/raw", str(tmp_path / "data.h5"),
                 "--labels-key", "gt/classes", "--output", str(model), "--arch", "usk",
                 "--iterations", "2", "--patch", "16"]) == 0
    assert model.exists()
    assert main(["train", str(tmp_path / "data.h5"), str(tmp_path / "data.h5"),
                 "--output", str(model)]) == 2
    assert "choose one" in capsys.readouterr().err


def test_train_from_n5_keys(tmp_path):
    """N5 image and labels (one container, two keys) train like HDF5 and TIFF."""
    image, truth = synthetic_membranes((2, 64, 64), seed=2)
    root = tmp_path / "data.n5"
    write_n5_by_hand(root, "raw", image.astype(np.uint8), (1, 32, 32))
    write_n5_by_hand(root, "gt/classes", truth.astype(np.uint8), (1, 32, 32))
    tifffile.imwrite(tmp_path / "raw.tif", image.astype(np.uint8))
    tifffile.imwrite(tmp_path / "gt.tif", truth.astype(np.uint8))
    common = ["--arch", "usk", "--iterations", "2", "--patch", "16", "--seed", "3",
              "--holdout", "0", "--average", "0"]
    assert main(["train", str(root), str(root), "--image-key", "raw", "--labels-key",
                 "/gt/classes", "--output", str(tmp_path / "n5.npz"), *common]) == 0
    assert main(["train", str(tmp_path / "raw.tif"), str(tmp_path / "gt.tif"),
                 "--output", str(tmp_path / "tif.npz"), *common]) == 0
    from napari_greentea.checkpoint import Checkpoint

    a, b = (Checkpoint.load(tmp_path / n) for n in ("n5.npz", "tif.npz"))
    assert a.iteration == b.iteration == 2
    for key, value in b.weights.items():
        np.testing.assert_allclose(a.weights[key], value, atol=1e-6)  # same pixels, same seed
