#!/usr/bin/env bash
# Create .venv and install napari-greentea with what the chosen target needs.
#   scripts/bootstrap.sh run   -> the app (napari, PyQt6, torch, OpenCL, distributed)
#   scripts/bootstrap.sh test  -> the app + test tools, and (as root on Debian/Ubuntu)
#                                 the system packages: PoCL OpenCL runtime, Xvfb, Qt libs
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-run}"
PY="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"   # CPU wheel available locally here; override freely

SYSTEM_PKGS="pocl-opencl-icd ocl-icd-libopencl1 xvfb xauth libgl1 libegl1 libxkbcommon-x11-0 \
libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 libdbus-1-3 libfontconfig1"

need_system=0
if [ "$target" = "test" ] || [ -z "${DISPLAY:-}" ] || [ "$target" = "run" ]; then need_system=1; fi
if [ "$need_system" = 1 ]; then
  missing=""
  for p in $SYSTEM_PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo ">> installing system packages:$missing"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
      echo ">> missing system packages:$missing"
      echo "   install them with: sudo apt-get install -y$missing"
      echo "   (OpenCL runtime, Xvfb and Qt libraries; tests needing them will be skipped)"
    fi
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo ">> creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "$TORCH_SPEC"
if [ "$target" = "test" ]; then
  .venv/bin/python -m pip install -q -e ".[testing,opencl,pyqt6,distributed]"
else
  .venv/bin/python -m pip install -q -e ".[opencl,pyqt6,distributed,formats]"
fi
