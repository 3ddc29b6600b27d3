#!/usr/bin/env bash
# Installs the npm packages of the ONNX Runtime test (onnxruntime-node, pinned by
# package-lock.json) into tests/onnx/node_modules, unless that exact lockfile is installed already.
# onnxruntime-node ships its CPU binaries inside the package (bin/napi-v*/linux/x64/); its install
# script would only download extra (CUDA) binaries, so it is turned off twice: no scripts, and
# ONNXRUNTIME_NODE_INSTALL=skip. Fails (non-zero) when the packages cannot be installed: the tests
# that need them must never be skipped silently. Run by scripts/bootstrap.sh and by ctest (fixture
# test onnx_node_modules).
set -euo pipefail
cd "$(dirname "$0")"
say() { echo "onnx/install.sh: $*" >&2; }

binding_ok() {
  compgen -G "node_modules/onnxruntime-node/bin/napi-v*/linux/x64/onnxruntime_binding.node" >/dev/null &&
    node -e "require('onnxruntime-node')" 2>/dev/null
}

command -v node >/dev/null || { say "error: node not found (install nodejs 18 or newer)"; exit 1; }
want=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.mnistnn-lock-sha256
if [[ -f $stamp && $(cat "$stamp") == "$want" ]] && binding_ok; then
  say "onnxruntime-node is installed (package-lock.json unchanged)"
  exit 0
fi
command -v npm >/dev/null || { say "error: npm not found (apt-get install npm)"; exit 1; }
say "installing onnxruntime-node (npm ci, pinned by package-lock.json)"
ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund
binding_ok || { say "error: onnxruntime-node installed but its CPU binary for linux/x64 does not load"; exit 1; }
echo "$want" >"$stamp"
say "done"
