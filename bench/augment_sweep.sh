#!/usr/bin/env bash
# Measures the augmentation settings behind the defaults of --augment (issue 13): the README's
# 784-800-10 recipe (Adam 0.001, cosine, batch 128) for EPOCHS epochs with each setting below and
# each seed, then the held-out accuracy (the 1,000 rows the run held out) and the accuracy on the
# official 10,000 test digits. Prints a markdown table of the medians over the seeds.
#   bench/augment_sweep.sh [EPOCHS (default 20)] [SEEDS (default "0 1")] [THREADS (default 2)]
# The settings run one after the other, the seeds interleaved (setting-major within a seed), so a
# change in the machine's load hits every setting alike. Choose by the held-out column; the test
# column is there to show whether the choice carries over, not to tune on.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-20}
SEEDS=${2:-"0 1"}
THREADS=${3:-2}
OUT=${OUT:-build/augment-sweep}
BIN=${BIN:-build/mnistnn}
[[ -x $BIN ]] || { echo "augment_sweep.sh: $BIN not built (cmake --build build)" >&2; exit 2; }
[[ -f data/train.csv && -f data/test.csv ]] || { echo "augment_sweep.sh: needs data/train.csv and data/test.csv (scripts/bootstrap.sh)" >&2; exit 2; }
mkdir -p "$OUT"

# name | options
SETTINGS=(
  "none|--augment none"
  "affine (defaults: ±10°, ±10 %, ±1 px)|--augment affine"
  "elastic σ 4, α 34 + affine defaults (Simard's field)|--augment elastic --elastic-sigma 4 --elastic-alpha 34"
  "elastic σ 6, α 38 + affine defaults (the defaults)|--augment elastic --elastic-sigma 6 --elastic-alpha 38"
  "elastic σ 4, α 34 + wider affine (±15°, ±15 %, ±2 px)|--augment elastic --elastic-sigma 4 --elastic-alpha 34 --rotate 15 --scale 0.15 --translate 2"
)

for seed in $SEEDS; do
  for i in "${!SETTINGS[@]}"; do
    IFS='|' read -r name opts <<<"${SETTINGS[$i]}"
    tag="s${seed}-$i"
    # shellcheck disable=SC2086  # opts is a list of options
    "$BIN" train --hidden 800 --init he --batch-size 128 --optimizer adam --alpha 0.001 --lr-decay cosine \
      --epochs "$EPOCHS" $opts --seed "$seed" --threads "$THREADS" --log-every 100000 \
      --model "$OUT/$tag.safetensors" --json -q > "$OUT/$tag.json"
    "$BIN" eval --model "$OUT/$tag.safetensors" --data data/test.csv --json > "$OUT/$tag.test.json"
    echo "augment_sweep.sh: seed $seed, $name done" >&2
  done
done

python3 - "$OUT" "$EPOCHS" "$SEEDS" "${SETTINGS[@]}" <<'PY'
import json, statistics, sys
out, epochs, seeds, settings = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
print(f"| augmentation ({epochs} epochs, H = 800) | seeds | held-out (1,000), median | test (10,000), median | test per seed | training s (median) |")
print("|---|---:|---:|---:|---|---:|")
for i, setting in enumerate(settings):
    name = setting.split("|")[0]
    held, test, secs = [], [], []
    for s in seeds:
        train = json.load(open(f"{out}/s{s}-{i}.json"))
        held.append(100 * train["holdout_accuracy"])
        test.append(100 * json.load(open(f"{out}/s{s}-{i}.test.json"))["accuracy"])
        secs.append(train["seconds"])
    per_seed = " / ".join(f"{t:.2f}" for t in test)
    print(f"| {name} | {len(seeds)} | {statistics.median(held):.2f} % | {statistics.median(test):.2f} % | {per_seed} | {statistics.median(secs):.1f} |")
PY
