#!/usr/bin/env bash
# ctest fixture: trains the two models the real-digit picture tests use, once per test run
# (test_digit_image_mnist's tests run in separate processes and would each train them again).
#   tests/train_real_digit_models.sh MNISTNN TRAIN_CSV OUT_DIR
set -euo pipefail
bin=$1 data=$2 out=$3
mkdir -p "$out"
"$bin" train -q --alpha 0.1 --iters 1000 --data "$data" --model "$out/default.safetensors"
# The README's 98 % recipe.
"$bin" train -q --hidden 256 --init he --batch-size 128 --optimizer adam --alpha 0.002 --lr-decay cosine \
  --l2 0.0001 --epochs 10 --log-every 461 --data "$data" --model "$out/best.safetensors"
