#!/usr/bin/env bash
# mnistnn's 98 % recipe (or, with --recipe 99, the augmented 99 % recipe) against the same recipe
# in PyTorch (bench/recipe_torch.py), interleaved in one session, as markdown tables: training time,
# s/epoch, time to first reach the target test accuracy (98 %, or 99 % for --recipe 99),
# final test accuracy; and s/epoch at 1 thread and at --threads threads. See bench/README.md.
#
#   bench/recipe_compare.sh [--rounds 3] [--threads 2] [--epochs 10] [--seed 0] [options]
#
# Round r (seed = --seed + r - 1) runs, in this order:
#   1. mnistnn, curve run (not timed): the recipe on a 69,000-row IDX file built so that mnistnn's
#      own seeded split holds out exactly the 10,000 test rows and trains on exactly the 59,000
#      rows, in the same order, that the normal run trains on. The training is then bit-identical
#      to the normal run (checked: the tensors of both models must be equal) and its logged
#      "holdout" accuracy every --eval-every steps is the test accuracy during the normal run.
#   2. mnistnn, timed run: the recipe on --data with --log-csv every --eval-every steps (its clock
#      per step), then `mnistnn eval --data TEST` for the final test accuracy.
#   3. torch, timed run: bench/recipe_torch.py, evaluating held-out and test rows at the same steps
#      (evaluation excluded from its clock).
#   4. mnistnn --threads 1 and 5. torch --threads 1, each --sweep-epochs epochs, for s/epoch only.
# Exit status: 0 when every run succeeded, 1 when one failed, 2 for usage or setup errors.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=$ROOT/data/train.csv
TEST=$ROOT/data/test.csv
ROUNDS=3
THREADS=2
TORCH_THREADS=""
EPOCHS=10
SEED=0
EVAL_EVERY=231
SWEEP_EPOCHS=3
SWEEP=1
RECIPE_NAME=98
PY=/usr/bin/python3
BIN=$ROOT/build/mnistnn
OUT=""
KEEP=0

usage() {
    cat <<EOF
usage: bench/recipe_compare.sh [options]
  --rounds N         interleaved rounds (default $ROUNDS); round r uses seed --seed + r - 1
  --threads N        threads of the main runs of both tools (default $THREADS)
  --torch-threads N  threads of PyTorch's main runs instead (e.g. 1, its best setting on 2 cores)
  --epochs N         epochs of the main runs (default $EPOCHS, the recipe)
  --seed S           seed of round 1 (default $SEED)
  --eval-every N     steps between accuracy measurements (default $EVAL_EVERY ≈ half an epoch at batch 128)
  --sweep-epochs N   epochs of the 1-thread runs (default $SWEEP_EPOCHS; they only measure s/epoch)
  --no-sweep         skip the 1-thread runs
  --recipe 98|99     98 (default): H=256, Adam 0.002, cosine, L2 1e-4; 99: H=800, Adam 0.001, cosine,
                     elastic augmentation (mnistnn's defaults; torch: affine_grid/grid_sample), target 99 %
  --data FILE        training CSV (default data/train.csv)
  --test FILE        test CSV (default data/test.csv)
  --bin PATH         mnistnn binary (default build/mnistnn)
  --python PATH      Python with numpy, pandas and torch (default /usr/bin/python3)
  --out FILE         also write the report to FILE
  --keep             keep the work directory (models, logs) and print its path
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --torch-threads) TORCH_THREADS=$2; shift 2 ;;
        --epochs) EPOCHS=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        --eval-every) EVAL_EVERY=$2; shift 2 ;;
        --sweep-epochs) SWEEP_EPOCHS=$2; shift 2 ;;
        --no-sweep) SWEEP=0; shift ;;
        --recipe) RECIPE_NAME=$2; shift 2 ;;
        --data) DATA=$2; shift 2 ;;
        --test) TEST=$2; shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        --python) PY=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "recipe_compare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
TORCH_THREADS=${TORCH_THREADS:-$THREADS}
for n in ROUNDS THREADS TORCH_THREADS EPOCHS EVAL_EVERY SWEEP_EPOCHS; do
    opt=${n,,}
    [[ ${!n} =~ ^[0-9]+$ && ${!n} -gt 0 ]] || { echo "recipe_compare.sh: --${opt//_/-} must be a positive integer" >&2; exit 2; }
done
[[ $SEED =~ ^[0-9]+$ ]] || { echo "recipe_compare.sh: --seed must be a non-negative integer" >&2; exit 2; }
for f in "$DATA" "$TEST"; do
    [[ -f $f ]] || { echo "recipe_compare.sh: '$f' does not exist (scripts/fetch-mnist.sh fetches MNIST)" >&2; exit 2; }
done
DATA=$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")
TEST=$(cd "$(dirname "$TEST")" && pwd)/$(basename "$TEST")
[[ -x $BIN ]] || { echo "recipe_compare.sh: $BIN is missing (cmake --build build)" >&2; exit 2; }
[[ -x $PY ]] || { echo "recipe_compare.sh: $PY not found" >&2; exit 2; }
if ! "$PY" -c 'import numpy, pandas, torch' 2>/dev/null; then
    echo "recipe_compare.sh: $PY cannot import numpy, pandas and torch (apt-get install python3-pandas python3-torch)" >&2
    exit 2
fi
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "recipe_compare.sh: $TIME is missing (apt-get install time)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mnistnn-recipe.XXXXXX")
if [[ $KEEP == 1 ]]; then echo "recipe_compare.sh: work directory $WORK" >&2; else trap 'rm -rf "$WORK"' EXIT; fi

# Time a private copy of the binary: a rebuild of build/ during the run must not change it midway.
cp "$BIN" "$WORK/mnistnn" || { echo "recipe_compare.sh: cannot copy $BIN" >&2; exit 2; }
BIN_INFO="$(sha256sum "$WORK/mnistnn" | cut -c1-12), built $(date -r "$BIN" '+%Y-%m-%d %H:%M')"
if git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
    BIN_INFO+="; source tree at $(git -C "$ROOT" rev-parse --short HEAD)"
    dirty=$(git -C "$ROOT" status --porcelain -- src include CMakeLists.txt cmake 2>/dev/null | wc -l)
    [[ $dirty -gt 0 ]] && BIN_INFO+=" with $dirty uncommitted source changes (the binary may include some)"
fi
BIN=$WORK/mnistnn

case $RECIPE_NAME in
    98) RECIPE=(--hidden 256 --init he --batch-size 128 --optimizer adam --alpha 0.002 --lr-decay cosine --l2 0.0001)
        TORCH_RECIPE=(--hidden 256 --alpha 0.002 --l2 0.0001 --target 0.98) ;;
    99) RECIPE=(--hidden 800 --init he --batch-size 128 --optimizer adam --alpha 0.001 --lr-decay cosine --augment elastic)
        TORCH_RECIPE=(--hidden 800 --alpha 0.001 --l2 0 --augment elastic --target 0.99) ;;
    *) echo "recipe_compare.sh: --recipe must be 98 or 99" >&2; exit 2 ;;
esac
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
START_TIME=$(date '+%Y-%m-%d %H:%M %Z')
STARTED=$SECONDS
FAILED=0

# run NAME COMMAND...: stdout to $WORK/NAME.out, stderr to $WORK/NAME.err, /usr/bin/time to NAME.time.
run() {
    local name=$1; shift
    local start=$SECONDS
    printf '  %-22s ' "$name" >&2
    if "$TIME" -f '%e %M %U %S' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        echo "ok ($(( SECONDS - start )) s)" >&2
    else
        echo "FAILED (see below)" >&2
        tail -n 5 "$WORK/$name.err" | sed 's/^/    /' >&2
        FAILED=1
        rm -f "$WORK/$name.out"
        return 1
    fi
}

echo "recipe_compare.sh: $ROUNDS rounds, $EPOCHS epochs, threads $THREADS, seeds $SEED..$(( SEED + ROUNDS - 1 )); load average $LOAD_START" >&2
for (( r = 1; r <= ROUNDS; r++ )); do
    seed=$(( SEED + r - 1 ))
    echo "round $r/$ROUNDS (seed $seed), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    # 1. The test-as-holdout IDX pair for this seed, then the (untimed) curve run on it.
    printf '  %-22s ' "build test-holdout IDX" >&2
    if ! test_rows=$("$PY" - "$DATA" "$TEST" "$seed" "$WORK/testcurve-$seed" "$ROOT/bench" 2>"$WORK/idx.$r.err" <<'PYEOF'
import struct, sys
data, test, seed, prefix, bench = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
sys.path.insert(0, bench)
import numpy as np, pandas as pd
from recipe_torch import mnistnn_split
tr = pd.read_csv(data).to_numpy(dtype=np.uint8)
te = pd.read_csv(test).to_numpy(dtype=np.uint8)
_, train_rows = mnistnn_split(tr.shape[0], seed, 1000)          # the normal run's training rows, in order
n = len(train_rows) + te.shape[0]
hold_pos, train_pos = mnistnn_split(n, seed, te.shape[0])       # where the combined file's split looks
out = np.empty((n, 785), np.uint8)
out[np.array(hold_pos)] = te
out[np.array(train_pos)] = tr[np.array(train_rows)]
with open(prefix + "-images-idx3-ubyte", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, n, 28, 28)); f.write(out[:, 1:].tobytes())
with open(prefix + "-labels-idx1-ubyte", "wb") as f:
    f.write(struct.pack(">II", 0x801, n)); f.write(out[:, 0].tobytes())
print(te.shape[0])
PYEOF
)
    then
        echo "FAILED" >&2; sed 's/^/    /' "$WORK/idx.$r.err" >&2; FAILED=1; continue
    fi
    echo "ok" >&2
    run "mnistnn-curve.$r" "$BIN" train "${RECIPE[@]}" --epochs "$EPOCHS" --seed "$seed" --threads "$THREADS" \
        --data "$WORK/testcurve-$seed-images-idx3-ubyte" --labels "$WORK/testcurve-$seed-labels-idx1-ubyte" \
        --holdout "$test_rows" --log-every "$EVAL_EVERY" --log-csv "$WORK/mnistnn-curve.$r.csv" --json -q \
        --model "$WORK/mnistnn-curve.$r.safetensors"
    rm -f "$WORK/testcurve-$seed-"*
    # 2. mnistnn timed, then its final test accuracy.
    run "mnistnn.$r" "$BIN" train "${RECIPE[@]}" --epochs "$EPOCHS" --seed "$seed" --threads "$THREADS" --data "$DATA" \
        --log-every "$EVAL_EVERY" --log-csv "$WORK/mnistnn.$r.csv" --json -q --model "$WORK/mnistnn.$r.safetensors" &&
    run "mnistnn-eval.$r" "$BIN" eval --model "$WORK/mnistnn.$r.safetensors" --data "$TEST" --threads "$THREADS" --json
    # 3. torch timed.
    run "torch.$r" "$PY" "$ROOT/bench/recipe_torch.py" --data "$DATA" --test "$TEST" --threads "$TORCH_THREADS" \
        "${TORCH_RECIPE[@]}" --epochs "$EPOCHS" --seed "$seed" --eval-every "$EVAL_EVERY" -q
    # 4./5. one thread, s/epoch only.
    if [[ $SWEEP == 1 ]]; then
        run "mnistnn-1t.$r" "$BIN" train "${RECIPE[@]}" --epochs "$SWEEP_EPOCHS" --seed "$seed" --threads 1 \
            --data "$DATA" --json -q --model "$WORK/mnistnn-1t.$r.safetensors"
        run "torch-1t.$r" "$PY" "$ROOT/bench/recipe_torch.py" --data "$DATA" --test "$TEST" --threads 1 \
            "${TORCH_RECIPE[@]}" --epochs "$SWEEP_EPOCHS" --seed "$seed" --no-eval -q
    fi
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

REPORT=$WORK/report.md
WORK="$WORK" ROUNDS="$ROUNDS" THREADS="$THREADS" TORCH_THREADS="$TORCH_THREADS" EPOCHS="$EPOCHS" SEED="$SEED" EVAL_EVERY="$EVAL_EVERY" \
BIN_INFO="$BIN_INFO" SWEEP="$SWEEP" TARGET="${TORCH_RECIPE[-1]}" SWEEP_EPOCHS="$SWEEP_EPOCHS" LOAD_START="$LOAD_START" LOAD_END="$LOAD_END" START_TIME="$START_TIME" \
ELAPSED=$(( SECONDS - STARTED )) "$PY" - >"$REPORT" <<'PYEOF'
import csv, json, os, statistics, struct

E = os.environ
work, rounds, threads, epochs = E["WORK"], int(E["ROUNDS"]), int(E["THREADS"]), int(E["EPOCHS"])
torch_threads = int(E["TORCH_THREADS"])
TARGET = float(E["TARGET"])
PCT = f"{100 * TARGET:.1f} %"


def path(name):
    return os.path.join(work, name)


def last_json(name):
    try:
        lines = [l for l in open(path(name + ".out")).read().splitlines() if l.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except OSError:
        return None


def log_csv(name):
    try:
        return [{k: float(v) if v else None for k, v in row.items()} for row in csv.DictReader(open(path(name)))]
    except OSError:
        return None


def tensors(file):
    with open(file, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in header.items() if k != "__metadata__"}


def first_reach(rows, col):
    for row in rows:
        if row[col] is not None and row[col] >= TARGET:
            return row
    return None


mn, tc, mn1, tc1, notes = [], [], [], [], []
for r in range(1, rounds + 1):
    seed = int(E["SEED"]) + r - 1
    j, ev = last_json(f"mnistnn.{r}"), last_json(f"mnistnn-eval.{r}")
    log, curve = log_csv(f"mnistnn.{r}.csv"), log_csv(f"mnistnn-curve.{r}.csv")
    cj = last_json(f"mnistnn-curve.{r}")
    if j and ev and log:
        train_s = j["ms_per_iter"] * j["iters"] / 1000.0
        # The log has the steps before each update; add the finished model, as recipe_torch.py does.
        end = dict(step=float(j["total_steps"]), epoch=float(j["epochs"]), seconds=train_s)
        log.append(dict(end, holdout_accuracy=j["holdout_accuracy"]))
        if curve and cj:
            curve.append(dict(end, holdout_accuracy=cj["holdout_accuracy"]))
        rec = dict(train_s=train_s, s_epoch=train_s / j["epochs"], test_acc=ev["accuracy"], hold_acc=j["holdout_accuracy"])
        clock = {int(row["step"]): row["seconds"] for row in log}
        h = first_reach(log, "holdout_accuracy")
        rec["hold98"] = (h["seconds"], h["epoch"]) if h else None
        rec["test98"] = None
        if curve:
            same = tensors(path(f"mnistnn.{r}.safetensors")) == tensors(path(f"mnistnn-curve.{r}.safetensors"))
            if not same:
                notes.append(f"round {r}: the curve run's tensors differ from the timed run's; mnistnn's test curve is not usable")
            else:
                t = first_reach(curve, "holdout_accuracy")
                if t and int(t["step"]) in clock:
                    rec["test98"] = (clock[int(t["step"])], t["epoch"])
                elif t is None:
                    rec["test98"] = "not reached"
        mn.append(rec)
    tj = last_json(f"torch.{r}")
    if tj:
        steps_to_epoch = lambda s: s / tj["steps_per_epoch"] if s is not None else None
        tc.append(dict(train_s=tj["train_s"], s_epoch=tj["s_per_epoch"], test_acc=tj["test_accuracy"],
                       hold_acc=tj["holdout_accuracy"],
                       test98=(tj["to_target_test_s"], steps_to_epoch(tj["to_target_test_step"])) if tj["to_target_test_s"] is not None else "not reached",
                       hold98=(tj["to_target_holdout_s"], steps_to_epoch(tj["to_target_holdout_step"])) if tj["to_target_holdout_s"] is not None else None,
                       version=tj["version"], blas=tj["blas"]))
    j1, t1 = last_json(f"mnistnn-1t.{r}"), last_json(f"torch-1t.{r}")
    if j1:
        mn1.append(j1["ms_per_iter"] * j1["iters"] / 1000.0 / j1["epochs"])
    if t1:
        tc1.append(t1["s_per_epoch"])


def med(xs):
    return statistics.median(xs) if xs else None


def cell(xs, fmt, pct=False):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "—"
    f = (lambda v: fmt.format(100 * v)) if pct else (lambda v: fmt.format(v))
    return f"{f(med(xs))} ({f(min(xs))}–{f(max(xs))})" if len(xs) > 1 else f(xs[0])


def reach_cell(recs, key):
    vals = [r[key] for r in recs]
    hit = [v for v in vals if isinstance(v, tuple)]
    missing = len(vals) - len(hit)
    if not hit:
        return "not reached" if vals else "—"
    text = cell([v[0] for v in hit], "{:.2f}") + " s at epoch " + cell([v[1] for v in hit], "{:.1f}")
    return text + (f"; not reached in {missing} of {len(vals)}" if missing else "")


tv = tc[0]["version"] if tc else "?"
print(f"Run {E['START_TIME']}, {rounds} rounds (seeds {E['SEED']}–{int(E['SEED']) + rounds - 1}), {epochs} epochs, "
      f"{threads} threads" + (f" (PyTorch: {torch_threads})" if torch_threads != threads else "") + f", accuracy measured every {E['EVAL_EVERY']} steps (≈ half an epoch); "
      f"load average {E['LOAD_START']} at the start, {E['LOAD_END']} at the end; {int(E['ELAPSED']) // 60} min {int(E['ELAPSED']) % 60} s in all.")
print()
print(f"| tool (threads) | runs | training s | s/epoch | to ≥ {PCT} **test** accuracy | to ≥ {PCT} held-out accuracy (1,000 rows) | final **test** accuracy (10,000 rows) | final held-out accuracy |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name, recs in ((f"mnistnn ({threads})", mn), (f"PyTorch {tv} (Debian) ({torch_threads})", tc)):
    if not recs:
        print(f"| {name} | 0 | — | — | — | — | — | — |")
        continue
    print(f"| {name} | {len(recs)} | {cell([r['train_s'] for r in recs], '{:.2f}')} | {cell([r['s_epoch'] for r in recs], '{:.3f}')} | "
          f"{reach_cell(recs, 'test98')} | {reach_cell(recs, 'hold98')} | {cell([r['test_acc'] for r in recs], '{:.2f} %', True)} | "
          f"{cell([r['hold_acc'] for r in recs], '{:.1f} %', True)} |")
print()
if E["SWEEP"] == "1":
    print(f"s/epoch by thread count (median (min–max) over rounds; 1 thread: {E['SWEEP_EPOCHS']}-epoch runs without evaluation; "
          f"{threads} threads: the runs above):")
    print()
    print("| threads | mnistnn s/epoch | PyTorch s/epoch | PyTorch ÷ mnistnn |")
    print("|---:|---:|---:|---:|")
    main_tc = [r["s_epoch"] for r in tc] if torch_threads == threads else []
    for t, a, b in ((1, mn1, tc1), (threads, [r["s_epoch"] for r in mn], main_tc)):
        ratio = f"{med(b) / med(a):.2f}×" if a and b else "—"
        print(f"| {t} | {cell(a, '{:.3f}')} | {cell(b, '{:.3f}')} | {ratio} |")
    print()
print("Cells: median (min–max) over the rounds. *Training s*: the training loop's time, without loading the data and "
      "without the final evaluation (mnistnn: `ms_per_iter` × steps of `--json`; PyTorch: the summed time of its steps). "
      f"*To ≥ {PCT}*: training time until the accuracy, measured every "
      f"{E['EVAL_EVERY']} steps, was first ≥ {PCT}, and the epoch of that measurement. mnistnn's clock is the `seconds` "
      "column of its `--log-csv` (which includes its held-out evaluations, ~1 ms each); PyTorch's excludes evaluation. "
      "mnistnn's test-accuracy curve comes from a second, untimed run whose training is bit-identical to the timed one "
      "(a data file arranged so that its held-out rows are the test set; the script checks the tensors are equal).")
print()
print(f"mnistnn binary: sha256 {E['BIN_INFO']}.", end=" ")
if tc:
    print("PyTorch's libraries: " + ", ".join(f"`{b}`" for b in tc[0]["blas"].split(",")) + ".", end="")
print()
for n in notes:
    print()
    print(f"Note: {n}")
PYEOF
[[ $? -eq 0 ]] || { echo "recipe_compare.sh: summarising failed" >&2; exit 1; }
cat "$REPORT"
[[ -n $OUT ]] && cp "$REPORT" "$OUT"
exit $FAILED
