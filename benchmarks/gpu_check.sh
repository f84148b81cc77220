#!/usr/bin/env bash
# One prepared run on a lent GPU machine (the `device` tool): the backend
# conformance and loss-parity tests on torch-cuda, forward and training speed
# on torch-cuda, and the scribble protocol trained far longer than a CPU can in
# a minute (an upper-bound probe, not the CPU quality bar).
#
# The machine has torch with CUDA, numpy, scipy, scikit-image and tifffile but
# not napari or zarr. The core imports neither at module level, but
# prediction writes into a zarr store: WHEELS names a folder of zarr's wheels
# (zarr, numcodecs, donfig, google-crc32c for that Python) to install first.
# The ISBI stacks travel in an ignored folder named by GREENTEA_DATA_DIR (copy
# train-volume.tif and train-labels.tif there and `carry` it). SECTIONS picks
# the parts. Results go to $OUT.
#
# Usage (repo root, on the device): WHEELS=.gpu_data/wheels bash benchmarks/gpu_check.sh
set -u
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
PY=${PY:-python3}
SECTIONS=${SECTIONS:-"tests forward speed scribbles"}
SCRIBBLE_S=${SCRIBBLE_S:-300}
has() { [[ " $SECTIONS " == *" $1 "* ]]; }

if [ -n "${WHEELS:-}" ] && ! $PY -c "import zarr" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps "$WHEELS"/*.whl >"$OUT/pip.log" 2>&1
fi
{ nvidia-smi; $PY -c "import torch; print('torch', torch.__version__,
  torch.cuda.get_device_name(0)); import os; print(os.cpu_count(), 'CPUs')"; } \
  >"$OUT/env.txt" 2>&1
if has tests; then
  echo "== tests" && timeout 100 $PY -m pytest -q -p no:cacheprovider -W ignore -rs \
    tests/backend/test_conformance.py tests/backend/test_loss_parity.py tests/backend/torch \
    >"$OUT/tests.txt" 2>&1; tail -3 "$OUT/tests.txt"
fi
if has forward; then
  echo "== forward" && timeout 80 $PY benchmarks/bench_forward.py --backends torch-cuda \
    --runs 10 >"$OUT/forward.log" 2>&1; cp benchmarks/results/forward.md "$OUT/forward_cuda.md"
fi
if has speed; then
  echo "== train speed" && timeout 100 $PY benchmarks/bench_train_speed.py \
    --backends torch-cuda --loads idle --seconds 4 >"$OUT/train_speed.log" 2>&1
  tail -4 "$OUT/train_speed.log"
fi
if has scribbles; then
  echo "== scribbles" && (cd benchmarks && timeout "$SCRIBBLE_S" $PY bench_scribbles.py \
    --backend torch-cuda --threads 8 --methods pre-both --seeds 0,1 --times 15,40,90 \
    --pretrain-seconds 20 --tta-methods "" --tag cuda_long >"$OUT/scribbles.log" 2>&1)
  cp benchmarks/results/scribbles_cuda_long.json "$OUT/" 2>/dev/null
  tail -c 1500 "$OUT/scribbles.log"
fi
ls -la "$OUT"
