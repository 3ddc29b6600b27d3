#!/usr/bin/env bash
# Runs the whole test suite (needs scripts/bootstrap.sh first: the end-to-end tests use data/train.csv).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build_dir=${MNISTNN_BUILD_DIR:-build}
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" "$@"
