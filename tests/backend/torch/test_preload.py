"""torch's native library loaded with the GIL released, then the ordinary import."""

import subprocess
import sys

import pytest

SCRIPT = """
import sys, threading, time
from napari_greentea.backend.torch._preload import preload_torch_libraries
gaps, done = [], threading.Event()
def load():
    loaded.extend(preload_torch_libraries())
    done.set()
loaded = []
worker = threading.Thread(target=load)
last = time.perf_counter()
worker.start()
while not done.is_set():
    time.sleep(0.005)
    now = time.perf_counter()
    gaps.append(now - last)
    last = now
import torch
print(loaded, float(torch.ones(3).sum()), "torch" in sys.modules, max(gaps))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the preload is Linux-only")
def test_preload_then_import_torch_in_a_fresh_process():
    pytest.importorskip("torch")
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=300, check=True).stdout.split()
    assert out[0].startswith("['libtorch_cpu.so'")  # loaded, and torch still works after it
    assert float(out[-3]) == 3.0 and out[-2] == "True"


def test_nothing_to_do_once_torch_is_imported():
    pytest.importorskip("torch")
    import torch  # noqa: F401

    from napari_greentea.backend.torch._preload import preload_torch_libraries

    assert preload_torch_libraries() == []
