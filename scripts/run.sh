#!/usr/bin/env bash
# The main job: napari with the Greentea widgets and a sample when there is a screen;
# otherwise the same annotate -> train -> predict loop headless on the synthetic sample.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh run
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/greentea gui
fi
echo ">> no display: running the headless loop (scribbles -> train -> predict) into greentea-demo/"
exec .venv/bin/greentea demo --out greentea-demo --seconds "${GREENTEA_DEMO_SECONDS:-60}"
