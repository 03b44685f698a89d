#!/usr/bin/env bash
# The GPU check in one command, on a machine with CUDA: every CUDA path's test (tests/test_gpu.py,
# `pytest -m gpu`), then the benchmarks, which write bench/results/cyclegan-cuda.json,
# fast-*.json (CUDA when onnxruntime has it, else the CPU) and gatys-cuda.json (with its
# time-to-quality plots). About 6 minutes on an H200.
#   bash bench/gpu.sh                # everything
#   bash bench/gpu.sh --quick        # a smoke test of the scripts
#   bash bench/gpu.sh --sizes 512    # other options go to bench/gatys.py
# Without CUDA the tests skip and the benchmarks measure the CPU only.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick) && shift
status=0

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -m pytest -m gpu tests/test_gpu.py -q -p no:cacheprovider || status=1
python3 -m bench.cyclegan --device auto --threads "$(nproc)" "${quick[@]}" || status=1
python3 -m bench.fast --device auto --threads "$(nproc)" "${quick[@]}" || status=1
python3 -m bench.gatys --device auto --threads "$(nproc)" "${quick[@]}" "$@" || status=1
exit $status
