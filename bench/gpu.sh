#!/usr/bin/env bash
# The GPU check in one command, on a machine with CUDA: every CUDA path's test (tests/test_gpu.py,
# `pytest -m gpu`), then both benchmarks, which write bench/results/gatys-cuda.json and
# cyclegan-cuda.json. About 6 minutes on an H100 or H200. Pass --quick for a smoke test of the
# scripts. Without CUDA the tests skip and the benchmarks measure the CPU only.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
quick="${1:-}"
status=0

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -m pytest -m gpu tests/test_gpu.py -q -p no:cacheprovider || status=1
python3 -m bench.gatys --device auto --threads "$(nproc)" $quick || status=1
python3 -m bench.cyclegan --device auto --threads "$(nproc)" $quick || status=1
exit $status
