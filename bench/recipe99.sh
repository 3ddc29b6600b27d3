#!/usr/bin/env bash
# The README's augmented wide-network recipe (issue 13): trains seeds 0–2 and evaluates each model
# on the official 10,000 test digits. Prints one line per seed: seed, test accuracy, training-loop
# seconds (wall), and the process's CPU seconds; writes the models and --log-csv files to $OUT.
#   bench/recipe99.sh [EPOCHS (default 30)] [THREADS (default 2)]
# Runs the seeds one after the other; each run's wall time depends on what else the machine runs,
# so the CPU seconds are quoted too.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-30}
THREADS=${2:-2}
OUT=${OUT:-build/recipe}
BIN=${BIN:-build/mnistnn}
mkdir -p "$OUT"
for seed in 0 1 2; do
  /usr/bin/time -f "%U %S" -o "$OUT/s$seed.time" "$BIN" train --hidden 800 --init he --batch-size 128 \
    --optimizer adam --alpha 0.001 --lr-decay cosine --epochs "$EPOCHS" --augment elastic --seed "$seed" \
    --threads "$THREADS" --log-every 461 --log-csv "$OUT/s$seed.csv" --model "$OUT/s$seed.safetensors" \
    --json -q > "$OUT/s$seed.json"
  "$BIN" eval --model "$OUT/s$seed.safetensors" --data data/test.csv --json > "$OUT/s$seed.test.json"
  python3 - "$OUT" "$seed" <<'PY'
import json, sys
out, seed = sys.argv[1], sys.argv[2]
train = json.load(open(f"{out}/s{seed}.json"))
test = json.load(open(f"{out}/s{seed}.test.json"))
user, system = map(float, open(f"{out}/s{seed}.time").read().split())
print(f"seed {seed}: test accuracy {100 * test['accuracy']:.2f} %, training {train['seconds']:.1f} s wall, "
      f"{user + system:.1f} s CPU")
PY
done
