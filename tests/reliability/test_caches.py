"""Item 7: an unwritable HOME sends caches to a temporary folder with one warning."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import cli_env, greentea_run


@pytest.fixture
def unwritable_home(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    return str(blocker / "home")  # nothing can be created below a regular file (even as root)


@pytest.mark.opencl
@pytest.mark.parametrize("pocl_cache", [False, True])
def test_info_finds_opencl_with_unwritable_home(unwritable_home, tmp_path, pocl_cache):
    pytest.importorskip("pyopencl")
    env = cli_env(HOME=unwritable_home)
    env.pop("XDG_CACHE_HOME", None)
    env.pop("GREENTEA_CACHE_DIR", None)
    if pocl_cache:
        env["POCL_CACHE_DIR"] = str(tmp_path / "pocl")
    done = subprocess.run([sys.executable, "-m", "napari_greentea.cli", "info"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Traceback" not in done.stderr
    assert "no OpenCL platform/ICD found" not in out
    assert "OpenCL devices:\n  [0]" in out
    assert "note: cache folder" in out and "not writable" in out


@pytest.mark.opencl
def test_opencl_prediction_with_unwritable_home_and_pocl_cache(unwritable_home, tmp_path):
    pytest.importorskip("pyopencl")
    import tifffile

    from .conftest import image_stack

    tifffile.imwrite(tmp_path / "in.tif", image_stack(0, (64, 64)))
    env = cli_env(HOME=unwritable_home, POCL_CACHE_DIR=str(tmp_path / "pocl"))
    env.pop("XDG_CACHE_HOME", None)
    code, err = greentea_run("predict", tmp_path / "in.tif", tmp_path / "o.tif", "--arch", "sk",
                             "--backend", "opencl", env=env, timeout=900)
    assert code == 0, err
    assert "Traceback" not in err
    assert err.count("not writable") == 1  # one warning
