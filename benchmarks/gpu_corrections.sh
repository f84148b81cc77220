#!/usr/bin/env bash
# One prepared run on a lent GPU machine: explore_corrections.py (the rounds
# protocol bounded by iterations, so a GPU run takes the CPU's iteration counts)
# for SEEDS and CONFIGS, one process each (the GPU loop is host-bound), with VARIANTS.
# Needs zarr's wheels in WHEELS and the ISBI stacks in GREENTEA_DATA_DIR (both
# carried). A selection probe: the CPU's bench_scribbles.py --rounds decides.
# Results go to $OUT/corrections_<config>.log, all seeds of a configuration in one
# file (the device returns at most eight files).
set -u
OUT=${OUT:-/tmp/gpu_corrections}
# shellcheck source=benchmarks/gpu_env.sh
source benchmarks/gpu_env.sh
export OMP_NUM_THREADS=2
SEEDS=${SEEDS:-"0 1 2 3 4 5"}
VARIANTS=${VARIANTS:-"worst,regions,random,none"}
nvidia-smi -L >"$OUT/env.txt" 2>&1
$PY -c "import torch; print('torch', torch.__version__)" >>"$OUT/env.txt" 2>&1
# CONFIGS: "name|explore_corrections.py arguments" entries separated by ';'
CONFIGS=${CONFIGS:-"base|"}
IFS=';' read -ra configs <<<"$CONFIGS"
for config in "${configs[@]}"; do
  name=${config%%|*}
  for seed in $SEEDS; do
    # shellcheck disable=SC2086
    timeout "${LIMIT:-420}" $PY benchmarks/explore_corrections.py --backend torch-cuda \
      --seeds "$seed" --variants "$VARIANTS" ${config#*|} \
      >"$OUT/corrections_${name}_s$seed.log" 2>&1 &
  done
done
wait
for config in "${configs[@]}"; do
  name=${config%%|*}
  cat "$OUT"/corrections_"${name}"_s*.log >"$OUT/corrections_${name}.log"
  rm -f "$OUT"/corrections_"${name}"_s*.log
done
tail -n 3 "$OUT"/corrections_*.log | cut -c1-160
