"""Shared fixtures and the CI guard that OpenCL and GUI tests really ran."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ISBI_DIR = SHARED_DATA / "isbi2012"


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
