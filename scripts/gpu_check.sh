#!/usr/bin/env bash
# One call on a lent GPU machine (../shared/GPU.md): the gpu0 tests, then the gpu0
# benchmarks, logs and results under $OUT. Prepare here first, where a package index is
# reachable (the GPU machine has none), so that NumPy 2.4.6 travels with the tree:
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     -d .whl numpy==2.4.6
#   run(command="bash scripts/gpu_check.sh", carry=[".whl"], timeout_s=560)
#
# Then write benchmarks/RESULTS-gpu.md from $OUT/gpu.json (run.py --from-json).
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
exec > >(tee "$OUT/log.txt") 2>&1

if compgen -G ".whl/numpy-*.whl" > /dev/null; then  # NumPy 2.5 breaks numba-cuda 0.30
  python3 -m pip install -q --no-index --no-deps --no-compile --target .site .whl/numpy-*.whl
  export PYTHONPATH=$PWD/.site:$PWD
else
  export PYTHONPATH=$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import numpy, numba, cupar; print('numpy', numpy.__version__, 'numba',
numba.__version__); g = cupar.places.gpu0; print('gpu0 available:', g.available, g.missing())"

# the gpu0 tests (SIGINT at the limit: pytest still prints its summary)
CUPAR_COMPILED_PLACE=gpu0 timeout -s INT -k 20 240 python3 -m pytest -q -n 6 \
  -p no:cacheprovider tests/test_gpu.py tests/test_compiled_prims.py \
  tests/test_compiled_differential.py tests/test_out.py tests/test_lanes.py \
  tests/test_dispatch.py tests/test_reduce_by_index.py tests/test_fuzz_regressions.py \
  tests/test_cuda_codegen.py tests/test_places.py > "$OUT/tests.txt" 2>&1
tail -30 "$OUT/tests.txt"

# the benchmarks, one at a time on a quiet GPU
timeout -s INT -k 20 240 python3 benchmarks/run.py --place gpu0 --json "$OUT/gpu.json" \
  --markdown "$OUT/RESULTS-gpu.md"
echo "done: $OUT"
