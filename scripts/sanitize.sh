#!/usr/bin/env bash
# Builds the whole GoogleTest suite (and the mnistnn binary the end-to-end tests run) with
# AddressSanitizer + UndefinedBehaviorSanitizer (gcc, -DMNISTNN_SANITIZE=ON) into build-asan/
# and runs it with ctest. Any sanitizer report fails the test that triggered it.
#   scripts/sanitize.sh [ctest arguments...]     e.g. scripts/sanitize.sh -R Robust
# Works from a clean clone: installs missing packages through scripts/bootstrap.sh, and fetches
# the real MNIST data (some end-to-end tests train on data/train.csv) if it is missing.
# Environment: MNISTNN_SANITIZE_BUILD_DIR (default build-asan).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${MNISTNN_SANITIZE_BUILD_DIR:-build-asan}
started=$SECONDS

# Build dependencies: bootstrap installs them (and builds build/, fetches data/) when absent.
if ! dpkg-query -W -f='${Status}' libgtest-dev 2>/dev/null | grep -q "install ok installed" || ! command -v g++ >/dev/null; then
  scripts/bootstrap.sh
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f $build/CMakeCache.txt ]]; then
  CXX=g++ cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMNISTNN_SANITIZE=ON \
    -DMNISTNN_BUILD_TESTS=ON >/dev/null
fi
cmake --build "$build" -j"$(nproc)"
echo "sanitize: built in $((SECONDS - started)) s" >&2

if [[ ! -f data/train.csv ]]; then
  MNISTNN_BIN="$root/$build/mnistnn" scripts/fetch-mnist.sh
fi

# halt_on_error/abort_on_error: the first report ends the process (non-zero exit, so the test
# fails); detect_leaks: leaks fail too. The end-to-end tests run the sanitized binary, whose
# reports go to its stderr, which the tests check is a single line.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
# The real-digit picture agreement tests measure model quality on two models trained from all of
# MNIST (minutes of training, 3-5x more under ASan); the code they run is the decoder and the
# normaliser, which test_digit_image and the image fuzzer cover under the sanitizers. Likewise the
# Node-driven checks (the page in Chromium, the exported models in ONNX Runtime) exercise the same
# server and exporter that test_server, test_server_handlers and test_onnx_export run here. All of
# them run in the normal suite (scripts/test.sh).
skip='^(RealDigits\.|real_digit_models$|browser\.|onnx_(node_modules|models|runtime|python_checker)$)'
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -E "$skip" "$@" || status=$?
echo "sanitize: done in $((SECONDS - started)) s" >&2
exit $status
