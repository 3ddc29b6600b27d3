#!/usr/bin/env bash
# Data-parallel training through mpirun and the real binary (issue 15), on 3,000 real digits:
#   - models trained with -np 2 and -np 3 equal the one-process model byte for byte, apart from
#     the recorded wall-clock training time: the default full-batch run, a mini-batch Adam run, an
#     augmented wide run with dropout, and a --resume of an -np 2 model;
#   - a rank killed mid-run, or one that cannot read its data, ends the job non-zero with a
#     message naming the rank, and the model file stays untouched.
#   tests/mpi_equivalence.sh MNISTNN_BINARY TRAIN_CSV
set -euo pipefail
bin=$(realpath "$1")
data=$2
[[ -f $data ]] || { echo "mpi_equivalence: $data not found (run scripts/fetch-mnist.sh)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpi_equivalence: mpirun not found (apt-get install openmpi-bin)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -n 3001 "$data" > "$work/digits.csv"
cd "$work"

# Shared memory only (the ranks run on this machine); no ptrace-based single copy in containers.
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi() { timeout 300 mpirun --oversubscribe --allow-run-as-root --bind-to none -np "$@"; }

# Byte-for-byte equal safetensors files, apart from the train_seconds metadata value.
same_model() {
  python3 - "$1" "$2" <<'PY'
import json, struct, sys
def parts(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header["__metadata__"].pop("train_seconds")
    return header, raw[8 + n:]
a, b = parts(sys.argv[1]), parts(sys.argv[2])
if a[0] != b[0]:
    keys = sorted(k for k in set(a[0]["__metadata__"]) | set(b[0]["__metadata__"])
                  if a[0]["__metadata__"].get(k) != b[0]["__metadata__"].get(k))
    sys.exit(f"headers differ: {keys or 'tensor layout'}")
if a[1] != b[1]:
    sys.exit("tensor bytes differ")
PY
}

fail() { echo "mpi_equivalence: FAIL: $*" >&2; exit 1; }

# One configuration: one process with 2 threads, then -np 2 and -np 3 with 1 thread per rank.
check() {
  local name=$1; shift
  "$bin" train --data digits.csv --holdout 200 --model "$name.1.safetensors" --threads 2 -q "$@" 2> "$name.1.err" \
    || { cat "$name.1.err" >&2; fail "$name: one process failed"; }
  for np in 2 3; do
    mpi "$np" "$bin" train --data digits.csv --holdout 200 --model "$name.$np.safetensors" --threads 1 -q "$@" \
      2> "$name.$np.err" || { cat "$name.$np.err" >&2; fail "$name: -np $np failed"; }
    same_model "$name.1.safetensors" "$name.$np.safetensors" || fail "$name: -np $np model differs"
  done
  echo "ok: $name: -np 2 and -np 3 models equal the one-process model"
}

check full-batch --iters 40
check minibatch-adam --hidden 64 --batch-size 256 --optimizer adam --alpha 0.002 --epochs 2
check augmented-wide --hidden 512 --init he --batch-size 512 --optimizer adam --alpha 0.001 --augment elastic \
  --dropout 0.2 --label-smoothing 0.1 --iters 6

# --resume of an -np 2 model, on 3 ranks and in one process.
cp minibatch-adam.2.safetensors resumed.1.safetensors
cp minibatch-adam.2.safetensors resumed.3.safetensors
"$bin" train --resume --model resumed.1.safetensors --epochs 1 -q 2> resume.err || { cat resume.err >&2; fail "resume"; }
mpi 3 "$bin" train --resume --model resumed.3.safetensors --epochs 1 -q 2> resume3.err \
  || { cat resume3.err >&2; fail "resume -np 3"; }
same_model resumed.1.safetensors resumed.3.safetensors || fail "resume on -np 3 differs from one process"
echo "ok: --resume of an -np 2 model on -np 3 equals one process"

# A rank killed mid-run: every rank ends, mpirun exits non-zero naming the rank, the model stays.
cp full-batch.1.safetensors kept.safetensors
before=$(sha256sum kept.safetensors)
cat > rank.sh <<EOF
#!/bin/sh
echo \$\$ > "pid.\$OMPI_COMM_WORLD_RANK"
exec "$bin" train --data digits.csv --holdout 200 --model kept.safetensors --iters 10000000 --threads 1 -q
EOF
chmod +x rank.sh
rm -f pid.*
mpi 2 ./rank.sh > killed.out 2> killed.err &
job=$!
for _ in $(seq 100); do [[ -s pid.1 ]] && break; sleep 0.1; done
[[ -s pid.1 ]] || fail "rank 1 never started"
sleep 2
kill -9 "$(cat pid.1)"
status=0
wait "$job" || status=$?
[[ $status -ne 0 && $status -ne 124 ]] || { cat killed.err >&2; fail "killed rank: mpirun exited $status"; }
grep -qi "rank 1" killed.err || { cat killed.err >&2; fail "killed rank: no message names rank 1"; }
[[ $(sha256sum kept.safetensors) == "$before" ]] || fail "killed rank: the model file changed"
echo "ok: a killed rank ends the job (exit $status) naming rank 1; the model is unchanged"

# A rank that cannot read its data.
cat > badrank.sh <<EOF
#!/bin/sh
data=digits.csv
[ "\$OMPI_COMM_WORLD_RANK" = 1 ] && data=missing.csv
exec "$bin" train --data "\$data" --holdout 200 --model kept.safetensors --iters 50 --threads 1 -q
EOF
chmod +x badrank.sh
status=0
mpi 3 ./badrank.sh > bad.out 2> bad.err || status=$?
[[ $status -ne 0 && $status -ne 124 ]] || { cat bad.err >&2; fail "unreadable data: mpirun exited $status"; }
grep -q "rank 1: error: .*missing.csv" bad.err || { cat bad.err >&2; fail "unreadable data: no message naming rank 1 and the file"; }
[[ $(sha256sum kept.safetensors) == "$before" ]] || fail "unreadable data: the model file changed"
echo "ok: a rank that cannot read its data ends the job (exit $status) naming rank 1 and the file; the model is unchanged"
