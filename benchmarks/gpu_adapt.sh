#!/usr/bin/env bash
# One prepared run on a lent GPU machine: explore_adapt.py's ways of adapting the
# shipped EM starter to the opened image, each with the iteration counts that
# 240 s of pretraining and 60 s of strokes reach on the 2-core CPU (PRE_IT,
# STROKE_IT), every variant and seed in its own process (the GPU loop is host-bound).
# A selection probe: the CPU run decides. Needs zarr's wheels in WHEELS and the
# ISBI stacks in GREENTEA_DATA_DIR (both carried). Results go to $OUT.
set -u
OUT=${OUT:-/tmp/gpu_adapt}
# shellcheck source=benchmarks/gpu_env.sh
source benchmarks/gpu_env.sh
PRE_IT=${PRE_IT:-4000}
STROKE_IT=${STROKE_IT:-0,1000}
SEEDS=${SEEDS:-0,1,2}
nvidia-smi -L >"$OUT/env.txt" 2>&1
cd benchmarks
run() {  # tag, then explore_adapt.py's arguments
  local tag=$1; shift
  timeout "${LIMIT:-420}" $PY explore_adapt.py --backend torch-cuda --threads 1 --seeds "$SEEDS" \
    --pretrain-iterations "$PRE_IT" --stroke-iterations "$STROKE_IT" --tag "$tag" "$@" \
    >"$OUT/$tag.log" 2>&1
  cp "results/scribbles_$tag.json" "$OUT/" 2>/dev/null
}
# VARIANTS: entries "name|explore_adapt.py arguments|stroke iterations", separated by ';'
VARIANTS=${VARIANTS:-"starter|--mode starter|$STROKE_IT;pull2|--mode pull --pull 1e-2|$STROKE_IT"}
IFS=';' read -ra ENTRIES <<<"$VARIANTS"
for e in "${ENTRIES[@]}"; do
  IFS='|' read -r name args points <<<"$e"
  for s in ${SEEDS//,/ }; do
    SEEDS=$s STROKE_IT=$points run "g_${name}_s$s" $args &
  done
done
wait
cd "$OUT" && for f in *.log; do echo "== $f"; grep -E "mean V_rand|Error|Traceback" "$f" | tail -4; done \
  | tee summary.txt
mkdir -p all && mv ./*.log ./*.json all/ 2>/dev/null; tar czf runs.tgz all && rm -rf all
