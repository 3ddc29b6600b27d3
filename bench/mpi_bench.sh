#!/usr/bin/env bash
# Data-parallel overhead on one machine (issue 15): `mpirun -np 2 … --threads 1` against one
# process with `--threads 2`, the same cores doing the same arithmetic, so the difference is what
# the MPI exchange costs. Interleaved rounds; prints the median ms per step of each and the ratio,
# plus the bytes each step moves.
#   bench/mpi_bench.sh [ROUNDS (default 5)]
# Needs an MPI build (scripts/bootstrap.sh makes one) and data/train.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
BIN=${BIN:-build/mnistnn}
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# name | hidden units | train arguments (each run is short: the per-step figure is what counts)
configs=(
  "full-batch default (H=10, 59,000 rows)|10|--alpha 0.1 --iters 200"
  "H=800 batch 512, Adam, elastic|800|--hidden 800 --init he --batch-size 512 --optimizer adam --alpha 0.001 --augment elastic --iters 300"
  "H=800 batch 128 (the 99% recipe)|800|--hidden 800 --init he --batch-size 128 --optimizer adam --alpha 0.001 --augment elastic --iters 600"
)

ms_per_step() {  # ms_per_iter of a train --json result on stdin
  python3 -c 'import json, sys; print(json.load(sys.stdin)["ms_per_iter"])'
}

for ((round = 1; round <= ROUNDS; ++round)); do
  for i in "${!configs[@]}"; do
    IFS='|' read -r _ _ args <<< "${configs[$i]}"
    # shellcheck disable=SC2086
    "$BIN" train $args --log-every 0 -q --json --threads 2 --model "$out/one.safetensors" 2>/dev/null \
      | ms_per_step >> "$out/$i.one"
    # shellcheck disable=SC2086
    mpirun --oversubscribe --allow-run-as-root --bind-to none -np 2 "$BIN" train $args --log-every 0 -q --json \
      --threads 1 --model "$out/two.safetensors" 2>/dev/null | ms_per_step >> "$out/$i.two"
  done
  echo "round $round of $ROUNDS done" >&2
done

python3 - "$out" "${configs[@]}" <<'PY'
import statistics, sys
out, configs = sys.argv[1], sys.argv[2:]
print(f"{'configuration':44} {'1 proc x 2 thr':>15} {'2 ranks x 1 thr':>16} {'ratio':>6} {'bytes/step':>11}")
for i, config in enumerate(configs):
    name, hidden, _ = config.split("|")
    one = statistics.median(float(x) for x in open(f"{out}/{i}.one"))
    two = statistics.median(float(x) for x in open(f"{out}/{i}.two"))
    h = int(hidden)
    # The chain with P = 2: one hop of the gradient sums (H·794 + 10 floats) and three doubles of
    # totals, then the broadcast of the same from rank 1 to rank 0, and the 4-byte stop vote.
    floats = h * 794 + 10
    moved = 2 * (4 * floats + 24) + 8
    print(f"{name:44} {one:12.2f} ms {two:13.2f} ms {two / one:6.3f} {moved:11,d}")
PY
