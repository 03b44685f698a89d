#!/usr/bin/env bash
# The GPU check in one command, on a machine with CUDA: every CUDA path's test (tests/test_gpu.py,
# `pytest -m gpu`), then the benchmarks, which write bench/results/cyclegan-gpu.json, fast-*.json
# (gpu when onnxruntime has CUDA, else cpu), gatys-gpu.json with its time-to-quality plots and
# large-gpu.json (peak memory and time against size, 512 to 4096 px).
# Each stage prints its seconds; the whole is meant to take under 8 minutes.
#   bash bench/gpu.sh                   # everything; bench/gatys.py at 512 and 1024 px
#   bash bench/gpu.sh --quick           # a smoke test of the scripts
#   bash bench/gpu.sh --sizes 256 512   # other options go to bench/gatys.py, after --sizes 512 1024
# Without CUDA the tests skip, and the benchmarks measure the CPU with all its threads into a
# temporary folder, so the committed 2-thread CPU results stay as they are.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick) && shift
out=bench/results
if ! python3 -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    out=$(mktemp -d)
    echo "no CUDA here: the results go to $out"
fi
status=0

stage() {  # stage NAME COMMAND...: run it, print how long it took, remember a failure
  local name=$1 start=$SECONDS
  shift
  "$@" || status=1
  echo "== $name: $((SECONDS - start)) s (total $SECONDS s)"
}

common=(--device auto --threads "$(nproc)" --out "$out" ${quick[@]+"${quick[@]}"})
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
stage "GPU tests" python3 -m pytest -m gpu tests/test_gpu.py -q -p no:cacheprovider
stage "bench.cyclegan" python3 -m bench.cyclegan "${common[@]}"
stage "bench.fast" python3 -m bench.fast "${common[@]}"
stage "bench.gatys" python3 -m bench.gatys "${common[@]}" --sizes 512 1024 "$@"
stage "bench.large" python3 -m bench.large "${common[@]}"
exit $status
