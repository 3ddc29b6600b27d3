#!/usr/bin/env bash
# mnistnn against its references, interleaved in one session on one CSV, as a markdown table
# plus PASS/FAIL lines for the speed and memory targets. See bench/README.md.
#
#   bench/compare.sh [--data data/train.csv] [--iters 200] [--rounds 3] [--full] [options]
#
# Each round runs, in this order: mnistnn train, reference_numpy float64, reference_numpy
# float32, reference_torch (when torch imports). Every run is wrapped in /usr/bin/time for
# end-to-end wall time and peak RSS; per-iteration times come from each program's JSON.
# Exit status: 0 when everything ran (even if a target FAILs: this is a report), 1 when a
# run could not complete, 2 for a usage or setup error.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=""
ITERS=200
ROUNDS=3
REF_ITERS=""
THREADS=2
HIDDEN=10
ALPHA=0.1
FULL=0
FULL_RUNS=2
FULL_ITERS=1000
PY=/usr/bin/python3
BIN="$ROOT/build/mnistnn"
BLAS_DIR=""
TORCH=1
OUT=""
KEEP=0

usage() {
    cat <<EOF
usage: bench/compare.sh [options]
  --data FILE        labelled CSV (default: data/train.csv, else /tmp/mnist-csv/train.csv)
  --iters N          mnistnn iterations per run (default 200)
  --rounds N         interleaved rounds; every figure is the median over rounds (default 3)
  --ref-iters N      iterations per reference run (default: min(--iters, 10); their ms/iter is the
                     median of per-iteration times, so a few iterations suffice and keep the run short)
  --threads N        threads for every program (default 2 = all cores)
  --hidden N         hidden units (default 10)
  --alpha A          learning rate (default 0.1)
  --full             also run 'mnistnn train --alpha A --iters 1000' ${FULL_RUNS}x for the end-to-end target
  --full-runs N      how many --full runs (default ${FULL_RUNS})
  --bin PATH         mnistnn binary (default build/mnistnn; built with cmake --build build if missing)
  --python PATH      Python for the references (default /usr/bin/python3)
  --blas-dir DIR     prepend DIR to LD_LIBRARY_PATH for the references (e.g. an OpenBLAS libblas.so.3)
  --no-torch         skip the PyTorch reference
  --out FILE         also write the report (table + verdicts) to FILE
  --keep             keep the per-run logs (printed path) instead of deleting them
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --data) DATA=$2; shift 2 ;;
        --iters) ITERS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --ref-iters) REF_ITERS=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --hidden) HIDDEN=$2; shift 2 ;;
        --alpha) ALPHA=$2; shift 2 ;;
        --full) FULL=1; shift ;;
        --full-runs) FULL_RUNS=$2; shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        --python) PY=$2; shift 2 ;;
        --blas-dir) BLAS_DIR=$2; shift 2 ;;
        --no-torch) TORCH=0; shift ;;
        --out) OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "compare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
for n in ITERS ROUNDS THREADS HIDDEN FULL_RUNS; do
    [[ ${!n} =~ ^[0-9]+$ && ${!n} -gt 0 ]] || { echo "compare.sh: --${n,,} must be a positive integer" >&2; exit 2; }
done
[[ -z $REF_ITERS ]] && REF_ITERS=$(( ITERS < 10 ? ITERS : 10 ))
[[ $REF_ITERS =~ ^[0-9]+$ && $REF_ITERS -gt 0 ]] || { echo "compare.sh: --ref-iters must be a positive integer" >&2; exit 2; }

if [[ -z $DATA ]]; then
    if [[ -f $ROOT/data/train.csv ]]; then DATA=$ROOT/data/train.csv
    elif [[ -f /tmp/mnist-csv/train.csv ]]; then DATA=/tmp/mnist-csv/train.csv
    else echo "compare.sh: no data: run scripts/fetch-mnist.sh or pass --data FILE" >&2; exit 2
    fi
fi
[[ -f $DATA ]] || { echo "compare.sh: '$DATA' does not exist" >&2; exit 2; }
DATA=$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")

TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "compare.sh: $TIME is missing (apt-get install time)" >&2; exit 2; }
if [[ ! -x $BIN ]]; then
    echo "compare.sh: $BIN is missing; building it (cmake --build build --target mnistnn)" >&2
    if [[ ! -f $ROOT/build/CMakeCache.txt ]]; then
        echo "compare.sh: $ROOT/build is not configured; run cmake -S . -B build -DCMAKE_BUILD_TYPE=Release first" >&2
        exit 2
    fi
    cmake --build "$ROOT/build" --target mnistnn -j2 >&2 || { echo "compare.sh: building mnistnn failed" >&2; exit 2; }
    [[ -x $BIN ]] || { echo "compare.sh: the build did not produce $BIN" >&2; exit 2; }
fi
[[ -x $PY ]] || { echo "compare.sh: $PY not found" >&2; exit 2; }

REF_ENV=()
[[ -n $BLAS_DIR ]] && REF_ENV=(env "LD_LIBRARY_PATH=$BLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
if ! "${REF_ENV[@]}" "$PY" -c 'import numpy, pandas' 2>/dev/null; then
    echo "compare.sh: $PY cannot import numpy and pandas (apt-get install python3-numpy python3-pandas)" >&2
    exit 2
fi
NOTES=()
if [[ $TORCH == 1 ]] && ! "${REF_ENV[@]}" "$PY" -c 'import torch' 2>/dev/null; then
    TORCH=0
    NOTES+=("torch is not importable by $PY: the PyTorch reference was skipped (apt-get install python3-torch)")
elif [[ $TORCH == 0 ]]; then
    NOTES+=("the PyTorch reference was skipped (--no-torch)")
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mnistnn-compare.XXXXXX")
if [[ $KEEP == 1 ]]; then echo "compare.sh: logs in $WORK" >&2; else trap 'rm -rf "$WORK"' EXIT; fi

# The floor's FLOP rate: one core's measured FMA peak (bench/fma_peak.c, built for this CPU) times
# the cores the runs use. Without a C compiler or off x86-64, the old fixed figures stand in.
CORE_GFLOPS=""
if cc -O2 -march=native "$ROOT/bench/fma_peak.c" -o "$WORK/fma_peak" 2>"$WORK/fma_peak.err"; then
    CORE_GFLOPS=$("$WORK/fma_peak")
else
    NOTES+=("the FMA peak could not be measured (cc -march=native bench/fma_peak.c failed); the floor uses 535 GFLOP/s with AVX-512, 202 without")
fi
CORES=$(( THREADS < $(nproc) ? THREADS : $(nproc) ))

FAILED=0
# run NAME ROUND TOTAL COMMAND...: time one run; its stdout (JSON last) and stderr go to $WORK.
run() {
    local name=$1 round=$2 total=$3; shift 3
    local base="$WORK/$name.$round"
    local start=$SECONDS
    printf '[%s/%s] %-14s ' "$round" "$total" "$name" >&2
    if "$TIME" -f '%e %M %U %S' -o "$base.time" "$@" >"$base.out" 2>"$base.err"; then
        echo "ok ($(( SECONDS - start )) s)" >&2
    else
        echo "FAILED (exit $?; see below)" >&2
        tail -n 5 "$base.err" | sed 's/^/    /' >&2
        FAILED=1
        rm -f "$base.out"
    fi
}

MNISTNN=("$BIN" train --data "$DATA" --alpha "$ALPHA" --hidden "$HIDDEN" --threads "$THREADS" --json -q
         --model "$WORK/model.safetensors")
REF_ARGS=("$DATA" --iters "$REF_ITERS" --alpha "$ALPHA" --hidden "$HIDDEN" --threads "$THREADS" --log-every 0)

echo "compare.sh: $DATA; mnistnn $ITERS iterations, references $REF_ITERS; $ROUNDS rounds; threads $THREADS" >&2
for (( r = 1; r <= ROUNDS; r++ )); do
    run mnistnn "$r" "$ROUNDS" "${MNISTNN[@]}" --iters "$ITERS"
    run numpy-f64 "$r" "$ROUNDS" "${REF_ENV[@]}" "$PY" "$ROOT/bench/reference_numpy.py" "${REF_ARGS[@]}" --dtype float64
    run numpy-f32 "$r" "$ROUNDS" "${REF_ENV[@]}" "$PY" "$ROOT/bench/reference_numpy.py" "${REF_ARGS[@]}" --dtype float32
    [[ $TORCH == 1 ]] && run torch-f32 "$r" "$ROUNDS" "${REF_ENV[@]}" "$PY" "$ROOT/bench/reference_torch.py" "${REF_ARGS[@]}"
done
if [[ $FULL == 1 ]]; then
    for (( r = 1; r <= FULL_RUNS; r++ )); do
        run mnistnn-full "$r" "$FULL_RUNS" "${MNISTNN[@]}" --iters "$FULL_ITERS"
    done
fi

REPORT="$WORK/report.md"
NOTES_TEXT=$(printf '%s\n' "${NOTES[@]+"${NOTES[@]}"}")
WORK="$WORK" HIDDEN="$HIDDEN" ITERS="$ITERS" REF_ITERS="$REF_ITERS" FULL="$FULL" FULL_ITERS="$FULL_ITERS" \
THREADS="$THREADS" DATA="$DATA" NOTES_TEXT="$NOTES_TEXT" BLAS_DIR="$BLAS_DIR" CORE_GFLOPS="$CORE_GFLOPS" CORES="$CORES" \
"$PY" - >"$REPORT" <<'PYEOF'
import glob, json, os, statistics, subprocess, datetime

work = os.environ["WORK"]
H = int(os.environ["HIDDEN"])
# fp32 FMA peak of the cores used: one core's measured peak (bench/fma_peak.c: twelve chains of
# the widest FMA, by thread CPU time) × cores. Fallback without a measurement: 535 GFLOP/s for 2
# Zen 5 cores with AVX-512 (2 pipes × 16 lanes × 2 flop × ~4.2 GHz), 202 for 2 Zen 3 cores (AVX2).
# A Zen 4 (AVX-512 run as two 256-bit halves) measures 117–141 per core, depending on its clock.
if os.environ.get("CORE_GFLOPS"):
    PEAK = float(os.environ["CORE_GFLOPS"]) * 1e9 * int(os.environ["CORES"])
    PEAK_SOURCE = f"measured: {float(os.environ['CORE_GFLOPS']):.0f} GFLOP/s per core (bench/fma_peak.c) × {os.environ['CORES']} cores"
else:
    AVX512 = "avx512f" in open("/proc/cpuinfo").read()
    PEAK = 535e9 if AVX512 else 202e9
    PEAK_SOURCE = "assumed (not measured)"
STREAM = 45e9   # stream bandwidth for X
TARGET_MS, TARGET_F64, TARGET_F32 = 6.0, 10.0, 5.0
TARGET_E2E, TARGET_LOAD, TARGET_RSS = 8.0, 0.25, 150.0

def flops(m):
    # forward 2m(784H + 10H); backward 2m(10H) dW2 + 2m(10H) dZ1 + 2m(784H) dW1 = 3196·m·H
    return 2*m*(784*H + H*10) + 2*m*(H*10) + 2*m*(10*H) + 2*m*(H*784)

def floor_ms(m):
    return max(flops(m) / PEAK, 784 * m / STREAM) * 1000

def read_runs(name):
    runs = []
    for out in sorted(glob.glob(f"{work}/{name}.*.out")):
        base = out[:-4]
        lines = [l for l in open(out).read().splitlines() if l.strip().startswith("{")]
        if not lines:
            continue
        j = json.loads(lines[-1])
        tl = [l.split() for l in open(base + ".time").read().splitlines() if l.strip()]
        wall, rss_kb, cpu = float(tl[-1][0]), float(tl[-1][1]), float(tl[-1][2]) + float(tl[-1][3])
        if name.startswith("mnistnn"):
            r = dict(ms=j["ms_per_iter"], load=j["load_seconds"], m=j["train_rows"], iters=j["iters"],
                     train_acc=j["train_accuracy"], holdout_acc=j["holdout_accuracy"], blas="")
        else:
            r = dict(ms=j["ms_per_iter"], load=j["load_s"], m=j["train_rows"], iters=j["iters"],
                     train_acc=j["train_acc"], holdout_acc=j["holdout_acc"], blas=j.get("blas", ""))
        r.update(wall=wall, rss_mb=rss_kb * 1024 / 1e6, cpu=cpu)
        runs.append(r)
    return runs

configs = [("mnistnn", "mnistnn (float32, uint8 X)"), ("numpy-f64", "numpy float64"),
           ("numpy-f32", "numpy float32"), ("torch-f32", "torch float32 (CPU)"),
           ("mnistnn-full", f"mnistnn, {os.environ['FULL_ITERS']} iters (--full)")]
med = lambda xs: statistics.median(xs) if xs else float("nan")
summary = {}
for key, label in configs:
    runs = read_runs(key)
    if runs:
        summary[key] = dict(label=label, n=len(runs), **{k: med([r[k] for r in runs]) for k in
                            ("ms", "load", "wall", "cpu", "rss_mb", "train_acc", "holdout_acc", "m")},
                            iters=runs[0]["iters"], blas=runs[0]["blas"])

base = summary.get("mnistnn")
print(f"### mnistnn vs references — {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}")
print()
try:
    cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
    print(f"Data `{os.environ['DATA']}`; H = {H}; threads = {os.environ['THREADS']}; CPU: {len(cpu)}× {cpu[0] if cpu else '?'}; "
          f"load average {os.getloadavg()[0]:.2f} at the end.")
except Exception:
    pass
print()
print("| configuration | runs | iters | ms/iter | ref ÷ mnistnn | GFLOP/s | % of floor | load s | end-to-end s | CPU s | peak RSS MB | train acc | holdout acc |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for key, _ in configs:
    s = summary.get(key)
    if not s:
        continue
    ratio = "1.00×" if key.startswith("mnistnn") else (f"{s['ms'] / base['ms']:.1f}×" if base else "—")
    gf = flops(s["m"]) / (s["ms"] / 1000) / 1e9
    fl = 100 * floor_ms(s["m"]) / s["ms"]
    print(f"| {s['label']} | {s['n']} | {s['iters']} | {s['ms']:.2f} | {ratio} | {gf:.1f} | {fl:.1f}% | {s['load']:.3f} | "
          f"{s['wall']:.2f} | {s['cpu']:.2f} | {s['rss_mb']:.0f} | {s['train_acc']:.4f} | {s['holdout_acc']:.4f} |")
print()
if base:
    m = int(base["m"])
    print(f"Every figure is the median over runs. ms/iter: mnistnn's is its training loop time ÷ iterations "
          f"(ms_per_iter of --json); a reference's is the median of its per-iteration times. ")
    print(f"FLOPs per iteration = 3196·m·H = {flops(m)/1e9:.3f} GFLOP for m = {m}, H = {H}. "
          f"Floor = max({flops(m)/1e9:.3f} GFLOP at {PEAK/1e9:.0f} GFLOP/s ({PEAK_SOURCE}) = {flops(m)/PEAK*1000:.2f} ms, "
          f"{784*m/1e6:.1f} MB of uint8 X at 45 GB/s = {784*m/STREAM*1000:.2f} ms) = {floor_ms(m):.2f} ms; "
          f"'% of floor' = floor ÷ ms/iter. CPU s = user + system seconds of the whole run (≈ threads × end-to-end on an idle machine; much less means the run waited for a core). Peak RSS in MB of 10^6 bytes. "
          f"Accuracies are after each run's own iteration count, so they only compare at equal iters.")
    print()
blas = next((s["blas"] for k, s in summary.items() if s.get("blas")), "")
if blas:
    kind = ("OpenBLAS" if "openblas" in blas.lower() else
            "Netlib reference BLAS (unoptimised, single-threaded)" if "/blas/libblas" in blas else "?")
    print(f"References' BLAS: {kind} — `{blas.split(',')[0]}`"
          + (f" (via --blas-dir {os.environ['BLAS_DIR']})" if os.environ.get("BLAS_DIR") else "") + ".")
    if "Netlib" in kind:
        print("Ratios against the Netlib BLAS overstate mnistnn's lead; rerun with --blas-dir pointing at an "
              "OpenBLAS libblas.so.3 (bench/README.md) for the fair yardstick.")
    print()
for note in os.environ.get("NOTES_TEXT", "").splitlines():
    if note.strip():
        print(f"Note: {note}")
        print()

def verdict(ok, text):
    print(f"{'PASS' if ok else 'FAIL'}  {text}")

print("```")
if base:
    verdict(base["ms"] <= TARGET_MS, f"mnistnn ms/iter {base['ms']:.2f} ≤ {TARGET_MS:g}")
    for key, target in (("numpy-f64", TARGET_F64), ("numpy-f32", TARGET_F32)):
        s = summary.get(key)
        if s:
            verdict(s["ms"] / base["ms"] >= target, f"{s['label']} ÷ mnistnn = {s['ms'] / base['ms']:.1f}× ≥ {target:g}×")
        else:
            print(f"MISSING {key}: no successful run")
    full = summary.get("mnistnn-full")
    if full:
        verdict(full["wall"] <= TARGET_E2E, f"end-to-end train --alpha 0.1 --iters {full['iters']} {full['wall']:.2f} s ≤ {TARGET_E2E:g} s "
                f"(median of {full['n']})")
    else:
        print(f"SKIP  end-to-end --iters {os.environ['FULL_ITERS']} ≤ {TARGET_E2E:g} s (run with --full)")
    verdict(base["load"] <= TARGET_LOAD, f"mnistnn load {base['load']:.3f} s ≤ {TARGET_LOAD:g} s")
    rss = max([base["rss_mb"]] + ([full["rss_mb"]] if full else []))
    verdict(rss <= TARGET_RSS, f"mnistnn peak RSS {rss:.0f} MB ≤ {TARGET_RSS:g} MB")
else:
    print("MISSING mnistnn: no successful run")
print("```")
PYEOF
py_rc=$?
if [[ $py_rc -ne 0 ]]; then echo "compare.sh: summarising failed" >&2; exit 1; fi
cat "$REPORT"
[[ -n $OUT ]] && cp "$REPORT" "$OUT"
exit $FAILED
