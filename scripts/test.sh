#!/usr/bin/env bash
# The whole test suite: lint, import contract, pytest (GUI tests under Xvfb, OpenCL on PoCL).
# With CI=true, skipped OpenCL or GUI tests fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
.venv/bin/ruff check napari_greentea tests benchmarks scripts examples
.venv/bin/lint-imports
if [ "${CI:-}" = "true" ]; then export GREENTEA_REQUIRE="opencl,gui"; fi
export GREENTEA_DATA_DIR="${GREENTEA_DATA_DIR:-$(cd .. && pwd)/shared/data/isbi2012}"
if command -v xvfb-run >/dev/null && [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python -m pytest "$@"
