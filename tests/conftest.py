"""Shared fixtures and the CI guard that OpenCL and GUI tests really ran."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ISBI_DIR = SHARED_DATA / "isbi2012"


@pytest.fixture(autouse=True)
def no_background_pretraining(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Train widget pretrains on its image, or starts from the shipped EM starter, by
    default; tests opt in (test_pretrain.py, test_starter.py).

    ``widgets/_pretrain.py`` imports nothing of Qt or napari at module level.
    """
    from napari_greentea.widgets import _pretrain

    monkeypatch.setattr(_pretrain, "ON_BY_DEFAULT", False)
    monkeypatch.setattr(_pretrain, "STARTER_ON_BY_DEFAULT", False)


@pytest.fixture(autouse=True)
def no_gc_freeze(monkeypatch: pytest.MonkeyPatch) -> None:
    """The widgets freeze the GC's long-lived objects (``widgets/_gc.py``); in one pytest
    process that would keep every earlier test's viewer alive. tests/widgets/test_gc.py
    opts in."""
    monkeypatch.setenv("GREENTEA_GC_FREEZE", "0")


def pytest_configure(config: pytest.Config) -> None:
    config._greentea_skipped = {"opencl": [], "gui": []}  # type: ignore[attr-defined]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        for marker in ("opencl", "gui"):
            if marker in report.keywords:
                pytest_runtest_logreport.config._greentea_skipped[marker].append(  # type: ignore[attr-defined]
                    report.nodeid
                )


def pytest_sessionstart(session: pytest.Session) -> None:
    pytest_runtest_logreport.config = session.config  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With GREENTEA_REQUIRE=opencl,gui (set by CI), skipped tests of those kinds fail the run."""
    required = [r for r in os.environ.get("GREENTEA_REQUIRE", "").split(",") if r]
    skipped = session.config._greentea_skipped  # type: ignore[attr-defined]
    bad = {k: v for k, v in skipped.items() if k in required and v}
    if bad:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for kind, ids in bad.items():
            msg = f"GREENTEA_REQUIRE={kind}: {len(ids)} {kind} test(s) were skipped, e.g. {ids[0]}"
            if reporter:
                reporter.write_line(msg, red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def synthetic_pair() -> tuple[np.ndarray, np.ndarray]:
    from napari_greentea.sample import synthetic_membranes

    return synthetic_membranes((96, 112), seed=3)


@pytest.fixture
def tmp_zarr(tmp_path: Path) -> Path:
    return tmp_path / "out.zarr"


@pytest.fixture(scope="session")
def isbi_dir() -> Path:
    if not (ISBI_DIR / "train-volume.tif").exists():
        pytest.skip(f"ISBI 2012 data not found at {ISBI_DIR} (shared/data/isbi2012)")
    return ISBI_DIR


@pytest.fixture
def toy_registry():
    """Register a toy architecture and a toy loss the way a contributor would
    (one object each, one registry line each); unregister them afterwards."""
    from napari_greentea.losses import LOSSES, Loss, register_loss
    from napari_greentea.models import ARCHITECTURES, Architecture, Knob, register_architecture
    from napari_greentea.models._blocks import GraphBuilder

    def build_toy(spec):
        builder = GraphBuilder(spec.in_channels, spec.init)
        x = builder.conv("conv1", "data", spec.base_fmaps, spec.unet_kernel)
        return builder.classify("ip1", x, spec.num_classes, f"toy, {spec.base_fmaps} fmaps")

    class ToySquaredError(Loss):
        """Squared error between softmax and one-hot labels, weighted by the image
        brightness (it reads every LossBatch field)."""

        @classmethod
        def from_config(cls, config):
            return cls()

        def torch(self, logits, batch):
            import torch

            prob = torch.softmax(logits, 1)
            target = torch.as_tensor(batch.target, device=logits.device)
            onehot = torch.nn.functional.one_hot(target, logits.shape[1] + 1)[..., 1:]
            labeled = (target != batch.ignore_label).to(prob.dtype)
            image = torch.as_tensor(batch.image, device=logits.device)
            weight = labeled * (1.0 + image.abs().mean(1))
            err = ((prob - onehot.permute(0, 3, 1, 2).to(prob.dtype)) ** 2).sum(1)
            return (weight * err).sum() / weight.sum().clamp_min(1.0)

    toy = Architecture(
        kind="toy",
        display_name="Toy-Net",
        builder=build_toy,
        presets={"interactive": dict(base_fmaps=4, unet_kernel=3)},
        knobs=(Knob.spec_field("base_fmaps", "fmaps", 1, 64),),
    )
    register_architecture(toy)
    register_loss("toy_se", "toy squared error", ToySquaredError.from_config)
    yield "toy", "toy_se"
    ARCHITECTURES.pop("toy")
    LOSSES.pop("toy_se")


@pytest.fixture(autouse=True)
def _workers_done():
    """Let every worker a test started (backend probe, segment, training) finish before the
    next test and before Qt is torn down: a worker that outlives the QApplication aborts the
    interpreter when it emits ``finished`` on deleted signals."""
    yield
    if "qtpy" not in sys.modules:  # no Qt in this test: nothing can be running
        return
    from qtpy.QtCore import QThreadPool
    from qtpy.QtWidgets import QApplication

    pool = QThreadPool.globalInstance()
    for _ in range(600):  # up to 60 s, delivering the workers' queued signals meanwhile
        if pool.waitForDone(100):
            break
        app = QApplication.instance()
        if app is not None:
            app.processEvents()
    app = QApplication.instance()
    if app is not None:
        app.processEvents()
