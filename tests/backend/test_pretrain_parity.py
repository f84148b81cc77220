"""Pretraining on OpenCL (host FeatureRegression gradient) follows torch step for step."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea.backend import available_backends


@pytest.mark.opencl
def test_opencl_pretraining_matches_torch_and_lowers_the_loss():
    if "opencl" not in available_backends():
        pytest.skip("opencl is not available here")
    from napari_greentea.config import PretrainConfig
    from napari_greentea.models import preset
    from napari_greentea.pretrain import Pretrainer
    from napari_greentea.sample import synthetic_membranes

    image = synthetic_membranes((48, 48), seed=5)[0]
    config = PretrainConfig(seconds=0, iterations=30, output_size=16, lr=1e-2)
    runs = {}
    for name in ("torch-cpu", "opencl"):
        trainer = Pretrainer([image], preset("u", depth=1, base_fmaps=4), config, backend=name)
        losses = [e.loss for e in trainer.run() if e.stage == "training"]
        runs[name] = (losses, trainer.result().weights)
    losses, weights = runs["opencl"]
    np.testing.assert_allclose(losses, runs["torch-cpu"][0], rtol=1e-3)
    assert losses[-1] < losses[0]
    for key, value in runs["torch-cpu"][1].items():
        np.testing.assert_allclose(weights[key], value, rtol=1e-2, atol=1e-4)
