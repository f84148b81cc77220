"""The OpenCL ops of the default device, shared by the kernel tests (each test
module skips itself where OpenCL is unavailable)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def ops():
    from napari_greentea.backend.opencl._device import context_for, select_device
    from napari_greentea.backend.opencl._ops import Ops

    return Ops(context_for(select_device(None).index))
