"""Fuzzing the readers with truncated and garbled files of each format.

Every outcome must be either the correct result or one clear error: an
exception of the kinds the CLI turns into a one-line message (``ValueError``
including ``ImageError``, ``OSError``) that names the file. Truncation must
never yield a different image (a silently shorter stack was the bug);
garbled bytes may yield other pixel values, since most formats carry no
checksum, but never an unexpected exception type.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from napari_greentea.checkpoint import Checkpoint  # noqa: E402
from napari_greentea.io import read_image  # noqa: E402
from napari_greentea.models import dense_graph, preset  # noqa: E402
from napari_greentea.weights import init_weights  # noqa: E402

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
IMAGE = (np.random.default_rng(0).random((4, 24, 20)) * 255).astype(np.uint8)


def _write(fmt: str, path: Path) -> np.ndarray:
    """Write the reference image in ``fmt``; return what reading it must give."""
    if fmt == "tif":
        tifffile.imwrite(path, IMAGE, imagej=True)
        return IMAGE
    if fmt == "png":
        from skimage.io import imsave

        imsave(path, IMAGE[0], check_contrast=False)
        return IMAGE[0]
    if fmt == "npy":
        np.save(path, IMAGE)
        return IMAGE
    import zarr

    zarr.create_array(str(path), shape=IMAGE.shape, chunks=(1, 12, 10), dtype="uint8")[...] = (
        IMAGE)
    return IMAGE


def _target(fmt: str, path: Path) -> Path:
    """The file to damage: the image itself, or one chunk / the metadata of a store."""
    if fmt != "zarr":
        return path
    return path / "c" / "2" / "1" / "0"


mutation = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("garble"), st.lists(st.tuples(st.floats(0, 1, exclude_max=True),
                                                    st.integers(0, 255)), min_size=1, max_size=8)),
)


def _damage(file: Path, how: tuple) -> None:
    data = bytearray(file.read_bytes())
    kind, arg = how
    if kind == "truncate":
        file.write_bytes(bytes(data[: int(arg * len(data))]))
        return
    for where, value in arg:
        data[int(where * len(data))] = value
    file.write_bytes(bytes(data))


def _check_outcome(read, path: Path, expected: np.ndarray | None, truncated: bool) -> None:
    try:
        result = read()
    except (ValueError, OSError) as err:  # one clear error, naming the file
        assert path.name in str(err), f"{type(err).__name__} does not name the file: {err}"
        return
    if expected is None:
        return
    if truncated:
        np.testing.assert_array_equal(result, expected)
    else:
        assert np.asarray(result).dtype.kind in "uifb"


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, tuple[Path, np.ndarray]]:
    folder = tmp_path_factory.mktemp("originals")
    found = {}
    for fmt in ("tif", "png", "npy", "zarr"):
        path = folder / f"image.{fmt}"
        found[fmt] = (path, _write(fmt, path))
    return found


@pytest.mark.parametrize("fmt", ["tif", "png", "npy", "zarr", "zarr-metadata"])
def test_damaged_images_read_correctly_or_fail_clearly(fmt, originals, tmp_path):
    base = fmt.split("-")[0]
    source, expected = originals[base]

    @FUZZ
    @given(how=mutation)
    def check(how):
        path = tmp_path / source.name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        if source.is_dir():
            shutil.copytree(source, path)
        else:
            shutil.copyfile(source, path)
        target = path / "zarr.json" if fmt == "zarr-metadata" else _target(base, path)
        _damage(target, how)
        _check_outcome(lambda: np.asarray(read_image(path)), path, expected,
                       truncated=how[0] == "truncate" and base != "zarr")

    check()


def test_damaged_checkpoints_load_correctly_or_fail_clearly(tmp_path):
    spec = preset("sk")
    reference = Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0))
    source = reference.save(tmp_path / "reference.npz")

    @FUZZ
    @given(how=mutation)
    def check(how):
        path = tmp_path / "model.npz"
        shutil.copyfile(source, path)
        _damage(path, how)

        def load():
            loaded = Checkpoint.load(path)
            for key, value in reference.weights.items():  # zip CRCs: nothing silently wrong
                np.testing.assert_array_equal(loaded.weights[key], value)
            assert loaded.spec == reference.spec
            return np.zeros(1)

        _check_outcome(load, path, None, truncated=False)

    check()
