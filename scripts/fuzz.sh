#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan + UBSan and runs each for a while.
#   scripts/fuzz.sh [seconds-per-target]   (default 60)
# Any crash, leak or sanitizer report fails the script; the reproducer is kept in
# build-fuzz/artifacts/ and should become a regression test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
build=${MNISTNN_FUZZ_BUILD_DIR:-build-fuzz}

if ! command -v clang++ >/dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "ok installed"; then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev
fi

CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMNISTNN_FUZZ=ON -DMNISTNN_SANITIZE=ON \
  -DMNISTNN_BUILD_TESTS=OFF -DMNISTNN_NATIVE=OFF >/dev/null
cmake --build "$build" --target fuzz_csv fuzz_model -j"$(nproc)"

mkdir -p "$build/artifacts"
status=0
for target in csv model; do
  corpus="$build/corpus-$target"
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/$target/* "$corpus"/ 2>/dev/null || true
  echo "== fuzz_$target for ${seconds}s"
  if ! "$build/fuzz_$target" "$corpus" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
        -timeout=10 -artifact_prefix="$build/artifacts/$target-" -print_final_stats=1 2>"$build/fuzz_$target.log"; then
    status=1
    echo "fuzz_$target FAILED; last lines of its log:" >&2
  fi
  grep -E "^(#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)" "$build/fuzz_$target.log" | tail -5
done
exit $status
