#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang + ASan + UBSan and runs each for a while.
#   scripts/fuzz.sh [seconds-per-target]     (default 60)
# The three targets (fuzz_csv: CSV/IDX loader, fuzz_model: safetensors reader, fuzz_image: image
# decoders + digit normaliser) run at most two at a time, one per core, so the wall time is about
# 2 × `seconds` plus the build. Any crash, leak, timeout,
# out-of-memory or sanitizer report fails the script; the input that caused it is kept in
# $build/artifacts/ and must become a regression test: run
#   MNISTNN_FUZZ_DUMP=/tmp $build/fuzz_csv $build/artifacts/csv-crash-...
# to get the exact file the parser saw, put it in tests/fixtures/regress/ and add a test to
# tests/test_robustness.cpp.
# Environment: MNISTNN_FUZZ_BUILD_DIR (default build-fuzz), MNISTNN_FUZZ_JOBS (parallel
# targets, default: number of cores, at most 2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "usage: $0 [seconds-per-target]" >&2; exit 2; }
build=${MNISTNN_FUZZ_BUILD_DIR:-build-fuzz}
started=$SECONDS

# clang with libFuzzer's runtime (Debian ships it in libclang-rt-NN-dev). Probe by linking a
# trivial fuzz target rather than guessing package names from the clang version.
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
can_fuzz() {
  command -v clang++ >/dev/null &&
    printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' >"$probe_dir/p.cpp" &&
    clang++ -fsanitize=fuzzer,address,undefined "$probe_dir/p.cpp" -o "$probe_dir/p" 2>/dev/null
}
# The library's own build dependencies (as in scripts/bootstrap.sh, without the test-only ones).
missing=()
for p in cmake make pkg-config libeigen3-dev libcli11-dev libfccp-dev zlib1g-dev nlohmann-json3-dev libpng-dev libstb-dev \
         libspng-dev libjpeg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
can_fuzz || missing+=(clang libclang-rt-dev)
if ((${#missing[@]})); then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  echo "fuzz: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  can_fuzz || { echo "fuzz: clang cannot link -fsanitize=fuzzer even after installing clang and libclang-rt-dev" >&2; exit 1; }
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f $build/CMakeCache.txt ]]; then
  CXX=clang++ cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMNISTNN_FUZZ=ON -DMNISTNN_SANITIZE=ON -DMNISTNN_BUILD_TESTS=OFF >/dev/null
fi
jobs=${MNISTNN_FUZZ_JOBS:-$(nproc)}
((jobs > 2)) && jobs=2
((jobs < 1)) && jobs=1
cmake --build "$build" --target fuzz_csv fuzz_model fuzz_image -j"$(nproc)"
echo "fuzz: built in $((SECONDS - started)) s" >&2

mkdir -p "$build/artifacts"
# Each target writes what it finds to $build/corpus-<target> (kept between runs) and reads the
# seeds in tests/fuzz/corpus/<target>/ (read only).
run_target() {  # csv|model|image
  local target=$1
  local corpus="$build/corpus-$target"
  mkdir -p "$corpus"
  # rss_limit: far above what either parser needs (the CSV reader's line buffer is 48 MiB);
  # malloc_limit: any single allocation beyond it is a bug (memory not bounded by the input).
  # The CSV reader (fast-cpp-csv-parser's LineReader) allocates a 48 MiB buffer per file, and
  # ASan poisons its 6 MiB of shadow on every malloc and free; memset instead of re-mapping
  # (clear_shadow_mmap_threshold) and huge pages for the shadow make that 3-4x faster.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:no_huge_pages_for_shadow=0:clear_shadow_mmap_threshold=1000000000 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    nice "$build/fuzz_$target" "$corpus" "tests/fuzz/corpus/$target" \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
      -dict="tests/fuzz/$target.dict" -artifact_prefix="$build/artifacts/$target-" -print_final_stats=1 -close_fd_mask=1 \
      >"$build/fuzz_$target.log" 2>&1
}

targets=(csv model image)
declare -A pid
# At most $jobs targets at a time: before starting one, wait for the oldest still running.
for i in "${!targets[@]}"; do
  target=${targets[$i]}
  if ((i >= jobs)); then
    oldest=${targets[$((i - jobs))]}
    wait "${pid[$oldest]}" && pid[$oldest]=ok || pid[$oldest]=failed
  fi
  run_target "$target" &
  pid[$target]=$!
done

status=0
for target in "${targets[@]}"; do
  result=${pid[$target]}
  if [[ $result != ok && $result != failed ]]; then
    wait "$result" && result=ok || result=failed
  fi
  log="$build/fuzz_$target.log"
  # The last coverage line and the final statistics, on one line.
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  stat() { grep -E "^stat::$1:" "$log" | awk '{print $2}' || true; }
  printf 'fuzz_%s: %s | execs %s (%s/s), new units %s, peak RSS %s MB | %s\n' "$target" "$result" \
    "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" "$(stat new_units_added)" \
    "$(stat peak_rss_mb)" "$(sed -E 's/^#[0-9]+[[:space:]]+[A-Z]+[[:space:]]+//' <<<"$last")"
  if [[ $result == failed ]]; then
    status=1
    echo "fuzz_$target FAILED; from its log ($log):" >&2
    grep -E -A30 '==[0-9]+==(ERROR|WARNING)|runtime error|ALARM|out-of-memory|malloc\(|Test unit written' "$log" | head -60 >&2 || tail -40 "$log" >&2
  fi
done
ls "$build/artifacts" 2>/dev/null | sed 's/^/fuzz: artifact: /' >&2 || true
echo "fuzz: done in $((SECONDS - started)) s" >&2
exit $status
