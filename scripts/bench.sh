#!/usr/bin/env bash
# Benchmark command: native micro-benchmarks, then the same scenarios in headless Chromium
# (tokenDynamics.bench, median of 5) plus slider-to-paint latency; prints one markdown table and sizes.
#   SKIP_BUILD=1 scripts/bench.sh   reuse the existing dist/ (otherwise a release build is made first)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
if [ "${SKIP_BUILD:-}" != "1" ] || [ ! -f dist/index.html ]; then
  trunk build --release --offline
fi

mkdir -p test-results
NATIVE_JSON=test-results/bench-native.json
status=0
echo "==> native: cargo run --release --bin bench -- --json"
if cargo run --release --quiet --bin bench -- --json > "$NATIVE_JSON.tmp"; then
  mv "$NATIVE_JSON.tmp" "$NATIVE_JSON"
else
  echo "native bench failed (is src/bin/bench.rs there?); its column will read n/a" >&2
  rm -f "$NATIVE_JSON.tmp" "$NATIVE_JSON"
  status=1
fi

echo "==> browser: headless chromium"
if [ -f "$NATIVE_JSON" ]; then
  node tests/browser/bench.mjs --native "$NATIVE_JSON" || status=1
else
  node tests/browser/bench.mjs || status=1
fi
exit "$status"
