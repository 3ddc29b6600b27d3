#!/usr/bin/env bash
# ctest entry of the browser test: installs the pinned playwright-core if missing (npm ci; it
# never downloads a browser), then runs serve_page.test.js against Debian's /usr/bin/chromium.
#   tests/browser/run.sh path/to/mnistnn artifacts-dir
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -eq 2 ]] || { echo "usage: $0 MNISTNN_BINARY ARTIFACTS_DIR" >&2; exit 2; }
command -v node >/dev/null || { echo "browser test: node is not installed (scripts/bootstrap.sh installs it)" >&2; exit 1; }
[[ -x /usr/bin/chromium ]] || { echo "browser test: /usr/bin/chromium is missing (apt-get install chromium)" >&2; exit 1; }
if [[ ! -f $here/node_modules/playwright-core/package.json ]]; then
  echo "browser test: installing playwright-core (npm ci)" >&2
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
exec node "$here/serve_page.test.js" "$1" "$2"
