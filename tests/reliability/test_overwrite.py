"""Items 2 and 3: --overwrite deletes only a prediction store this project wrote."""

from __future__ import annotations

import os

import numpy as np
import pytest
import zarr

from napari_greentea.store import remove_store

from .conftest import FAST, image_stack, run_cli


def test_output_equal_to_input_is_refused_and_input_kept(tmp_path, capsys):
    src = tmp_path / "a.zarr"
    zarr.create_array(str(src), shape=(3, 64, 80), dtype="uint8")[...] = image_stack(0)
    code, err = run_cli(capsys, "predict", src, src, *FAST, "--overwrite")
    assert code == 2 and "is the input" in err
    np.testing.assert_array_equal(zarr.open_array(str(src))[...], image_stack(0))


def test_output_containing_the_input_is_refused(tmp_path, capsys, stack_tif):
    folder = tmp_path / "work.zarr"
    folder.mkdir()
    inner = folder / "in.tif"
    os.replace(stack_tif, inner)
    code, err = run_cli(capsys, "predict", inner, folder, *FAST, "--overwrite")
    assert code == 2 and "contains the input" in err
    assert inner.exists()


def test_tiff_output_equal_to_input_is_refused(stack_tif, capsys):
    before = stack_tif.read_bytes()
    code, err = run_cli(capsys, "predict", stack_tif, stack_tif, *FAST, "--overwrite")
    assert code == 2 and "is the input" in err
    assert stack_tif.read_bytes() == before


def test_foreign_folder_named_zarr_is_never_deleted(tmp_path, capsys, stack_tif):
    out = tmp_path / "results.zarr"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "thesis.txt").write_text("years of work")
    code, err = run_cli(capsys, "predict", stack_tif, out, *FAST, "--overwrite")
    assert code == 2 and "not a prediction store written by napari-greentea" in err
    assert (out / "notes" / "thesis.txt").read_text() == "years of work"


def test_our_store_with_foreign_files_inside_is_kept(tmp_path, capsys, stack_tif):
    out = tmp_path / "p.zarr"
    assert run_cli(capsys, "predict", stack_tif, out, *FAST)[0] == 0
    (out / "analysis.csv").write_text("a,b\n")
    code, err = run_cli(capsys, "predict", stack_tif, out, *FAST, "--overwrite")
    assert code == 2 and "analysis.csv" in err and "did not write" in err
    assert (out / "analysis.csv").exists()


def test_foreign_zarr_store_and_symlink_are_refused(tmp_path):
    other = tmp_path / "other.zarr"
    zarr.create_array(str(other), shape=(4,), dtype="f4")
    with pytest.raises(ValueError, match="no greentea marker"):
        remove_store(other)
    link = tmp_path / "link.zarr"
    link.symlink_to(other)
    with pytest.raises(ValueError, match="symbolic link"):
        remove_store(link)
    assert (other / "zarr.json").exists()


def test_overwrite_replaces_our_own_store(tmp_path, capsys, stack_tif):
    out = tmp_path / "p.zarr"
    assert run_cli(capsys, "predict", stack_tif, out, *FAST, "--seed", "1")[0] == 0
    first = zarr.open_group(str(out))["prob"][...]
    code, err = run_cli(capsys, "predict", stack_tif, out, *FAST, "--seed", "2", "--overwrite")
    assert code == 0, err
    assert not np.array_equal(zarr.open_group(str(out))["prob"][...], first)
