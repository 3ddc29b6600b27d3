#!/usr/bin/env bash
# Fixture of the ONNX tests (ctest onnx_models): trains two small models on data/train.csv, one
# with a ReLU and one with a sigmoid hidden layer, and writes into WORK (emptied first):
#   {relu,sigmoid}.safetensors          the models
#   {relu,sigmoid}-{float32,uint8}.onnx  `mnistnn export`, both input variants
#   {relu,sigmoid}-predictions.csv      `mnistnn predict --out` on data/test.csv (ImageId,Label)
#   {relu,sigmoid}-probabilities.f32    mnistnn's float32 probabilities on data/test.csv
#                                       (onnx_reference: 10,000 × 10 little-endian float32)
# Usage: make_models.sh MNISTNN_BIN ONNX_REFERENCE_BIN DATA_DIR WORK
set -euo pipefail
bin=$1 reference=$2 data=$3 work=$4
for f in train.csv test.csv; do
  [[ -f $data/$f ]] || { echo "make_models.sh: $data/$f is missing: run scripts/fetch-mnist.sh" >&2; exit 1; }
done
rm -rf "$work"
mkdir -p "$work"
cd "$work"

# One epoch of mini-batch Adam: well trained (≈ 95 %) in a fraction of a second.
common=(--data "$data/train.csv" --init he --batch-size 128 --optimizer adam --epochs 1 -q)
"$bin" train "${common[@]}" --hidden 32 --activation relu --alpha 0.002 --model relu.safetensors
"$bin" train "${common[@]}" --hidden 24 --activation sigmoid --alpha 0.005 --model sigmoid.safetensors
for m in relu sigmoid; do
  "$bin" export --model "$m.safetensors" --onnx "$m-float32.onnx"
  "$bin" export --model "$m.safetensors" --onnx "$m-uint8.onnx" --input uint8
  "$bin" predict --model "$m.safetensors" --data "$data/test.csv" --out "$m-predictions.csv" >/dev/null
  "$reference" "$m.safetensors" "$data/test.csv" "$m-probabilities.f32"
done
ls -l "$work" >&2
