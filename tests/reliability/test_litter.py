"""Item 9: a failed run leaves the output as it was: no NaN store, no .partial file."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import tifffile

from napari_greentea.checkpoint import Checkpoint, partial_path
from napari_greentea.cli import predict as cli_predict
from napari_greentea.io import write_tiff
from napari_greentea.models import dense_graph, preset
from napari_greentea.train import LabeledImage, Trainer
from napari_greentea.weights import init_weights

from .conftest import FAST, run_cli


def test_failed_predict_leaves_no_store(tmp_path, capsys):
    src, out = tmp_path / "flat.tif", tmp_path / "p.zarr"
    tifffile.imwrite(src, np.full((64, 80), 7, np.uint8))
    code, err = run_cli(capsys, "predict", src, out, *FAST)
    assert code == 2 and "constant" in err
    assert not out.exists()


def test_full_disk_during_tiff_write_leaves_no_partial(tmp_path, monkeypatch):
    def full_disk(path, data, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"II*\x00" + b"\x00" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tifffile, "imwrite", full_disk)
    final = tmp_path / "out.tif"
    with pytest.raises(OSError, match="No space left") as info:
        write_tiff(final, np.zeros((2, 8, 8), np.float32))
    assert str(final) in str(info.value) and ".partial" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_tiff_folder_is_found_before_predicting(stack_tif, tmp_path, capsys,
                                                           monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("predicted although the output cannot be written")

    monkeypatch.setattr(cli_predict, "_predict_to", never)
    (tmp_path / "a_file").write_text("")
    target = tmp_path / "a_file" / "out.tif"  # a folder that cannot exist
    code, err = run_cli(capsys, "predict", stack_tif, target, *FAST)
    assert code == 2 and str(target) in err and ".partial" not in err


def test_stale_checkpoint_partial_is_removed_when_training_starts(tmp_path, synthetic_pair):
    final = tmp_path / "m.npz"
    stale = partial_path(final)
    stale.write_bytes(b"PK\x03\x04 half a checkpoint")
    from napari_greentea.config import TrainConfig

    Trainer(preset("sk"), [LabeledImage(*synthetic_pair)], backend="torch-cpu",
            train=TrainConfig(iterations=1, output=str(final), output_size=16))
    assert not stale.exists()


def test_stale_partial_is_removed_by_the_next_save(tmp_path):
    final = tmp_path / "m.npz"
    partial_path(final).write_bytes(b"junk")
    spec = preset("sk")
    Checkpoint(spec=spec, weights=init_weights(dense_graph(spec), 0)).save(final)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
