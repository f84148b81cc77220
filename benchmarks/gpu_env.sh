# Sourced by the gpu_*.sh scripts (repo root as working directory, OUT set): puts
# zarr's carried wheels (WHEELS) on the path of the device machine's Python, which
# has torch with CUDA but no zarr and no way to download it.
mkdir -p "$OUT"
PY=${PY:-python3}
if [ -n "${WHEELS:-}" ] && ! $PY -c "import zarr" 2>/dev/null; then
  # WHEELS may hold binary wheels for several Pythons: take the pure ones and this one's
  tag=$($PY -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site \
    "$WHEELS"/*-py3-none-any.whl "$WHEELS"/*-"$tag"-*.whl >"$OUT/pip.log" 2>&1
fi
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1
