#!/usr/bin/env bash
# One-time setup on Debian 12: installs missing packages, builds a Release binary into
# build/, and fetches the real MNIST data into data/. Safe to run again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

packages=(cmake make g++ libeigen3-dev libcli11-dev libfccp-dev libgtest-dev zlib1g-dev
          nlohmann-json3-dev libstb-dev)
packages+=(pkg-config libcairo2-dev fonts-dejavu-core)  # PNG plots and grid captions: cairo, text in DejaVu Sans
packages+=(libspng-dev libjpeg-dev libpng-dev)  # predict FILE / serve: PNG (libspng), JPEG (libjpeg-turbo); libpng writes interlaced PNGs in the tests
packages+=(libonnx-dev libprotobuf-dev python3-onnx)  # mnistnn export (ONNX library + protobuf); its checker test
packages+=(libboost-dev libsimdjson-dev chromium wrk nginx curl)  # serve: Boost.Beast/Asio (HTTP), simdjson (request JSON); its browser test (chromium + npm playwright-core); bench/serve_bench.sh (wrk, nginx, curl)
packages+=(libopenmpi-dev openmpi-bin)  # data-parallel training over MPI (mpirun -np P mnistnn train)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from Debian's npm package or bundled with a nodejs build; only ask apt if absent.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  echo "bootstrap: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMNISTNN_MPI=ON ${MNISTNN_CMAKE_ARGS:-}
cmake --build build -j"$(nproc)"
scripts/fetch-mnist.sh
tests/onnx/install.sh  # onnxruntime-node for the ONNX Runtime test (npm ci, pinned)
echo "bootstrap: ready. Try: build/mnistnn train --alpha 0.1 --iters 1000" >&2
