#!/usr/bin/env bash
# One prepared run on a lent GPU machine: dense ISBI training (slices 0-19,
# scored on 20-29 with and without 8-fold test-time augmentation) for several
# recipes, each for the iteration count its network reaches in about 14 min on
# the 2-core CPU (D4_IT for depth 4, D3_IT for the depth-3 baseline). Every
# variant runs in its own process (the GPU loop is host-bound). A selection
# probe: the CPU run of the chosen recipe decides. Needs zarr's wheels in
# WHEELS and the ISBI stacks in GREENTEA_DATA_DIR (both carried). Results go to
# $OUT (and the checkpoints, with SAVE=1).
set -u
OUT=${OUT:-/tmp/gpu_dense}
# shellcheck source=benchmarks/gpu_env.sh
source benchmarks/gpu_env.sh
export OMP_NUM_THREADS=2
D4_IT=${D4_IT:-7500}
D3_IT=${D3_IT:-10000}
nvidia-smi -L >"$OUT/env.txt" 2>&1
cd benchmarks
run() {  # tag, then bench_isbi_quality.py's arguments
  local tag=$1; shift
  timeout "${LIMIT:-400}" $PY bench_isbi_quality.py --backend "${BACKEND:-torch-cuda}" --tta \
    ${SAVE:+--save "$OUT/$tag.npz"} --tag "gpu_dense_$tag" "$@" >"$OUT/$tag.log" 2>&1
  cp "results/isbi_gpu_dense_$tag.json" "$OUT/" 2>/dev/null
}
chain() {  # tag, first stage's arguments, second stage's (trained from the first's weights)
  local tag=$1 first=$2 then=$3
  # shellcheck disable=SC2086
  timeout "${LIMIT:-400}" $PY bench_isbi_quality.py --backend "${BACKEND:-torch-cuda}" \
    --save "$OUT/$tag.first.npz" --tag "gpu_dense_${tag}_first" $first >"$OUT/$tag.first.log" 2>&1
  # shellcheck disable=SC2086
  SAVE= run "$tag" --init-from "$OUT/$tag.first.npz" $then
  cp "results/isbi_gpu_dense_${tag}_first.json" "$OUT/" 2>/dev/null
  rm -f "$OUT/$tag.first.npz"
}
S="--init-from em-membranes --iterations $D4_IT"
# VARIANTS: entries "name|bench_isbi_quality.py arguments[|second stage's arguments]",
# separated by ';'
VARIANTS=${VARIANTS:-"s3w|$S --lr 3e-4 --balance weights;\
s1w|$S --lr 1e-3 --balance weights;\
s3n|$S --lr 3e-4 --balance none;\
s3w_ema|$S --lr 3e-4 --balance weights --train-extra {\"average\":0.998};\
s3w_inv|$S --lr 3e-4 --balance weights --train-extra {\"lr_policy\":\"inv\"};\
s3w_p256|--init-from em-membranes --iterations $((D4_IT / 2)) --lr 3e-4 --balance weights --patch 256 --batch 1;\
d4w|--depth 4 --iterations $D4_IT --lr 1e-3 --balance weights;\
d3w|--depth 3 --fmaps 16 --iterations $D3_IT --lr 1e-3 --balance weights"}
IFS=';' read -ra ENTRIES <<<"$VARIANTS"
for e in "${ENTRIES[@]}"; do
  IFS='|' read -r name args then <<<"$e"
  if [ -n "$then" ]; then
    chain "$name" "$args" "$then" &
  else
    # shellcheck disable=SC2086
    run "$name" $args &
  fi
done
wait
cd "$OUT" && for f in *.json; do
  $PY - "$f" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); t = d.get("tta", {})
print(f"{sys.argv[1]:34s} it {d['iterations']:6d}  {d['train_seconds']:6.0f} s  "
      f"V_rand {d.get('v_rand', 0):.4f}  TTA {t.get('v_rand', 0):.4f}  "
      f"ws {t.get('watershed_instances', {}).get('v_rand', 0):.4f}")
EOF
done | tee summary.txt
for f in *.log; do grep -l -E "Error|Traceback" "$f"; done >errors.txt
# the device tool returns only a few files: pack the rest
tar czf runs.tgz ./*.json ./*.log && rm -f ./*.json ./*.log
