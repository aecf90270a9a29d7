#!/usr/bin/env bash
# Benchmark command: native micro-benchmarks, then the same scenarios in headless Chromium
# (tokenDynamics.bench on each explorer's own page, median of 5) plus slider-to-paint latency;
# prints one markdown table and the sizes.
#   SKIP_BUILD=1 scripts/bench.sh   reuse the existing dist-bench/ (otherwise it is built first)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
if [ "${SKIP_BUILD:-}" != "1" ] || [ ! -f dist-bench/index.html ]; then
  bash scripts/build.sh --bench
fi

mkdir -p test-results
NATIVE_JSON=test-results/bench-native.json
status=0
echo "==> native: cargo run --release -p token-dynamics --bin bench -- --json"
if cargo run --release --quiet -p token-dynamics --bin bench -- --json > "$NATIVE_JSON.tmp"; then
  mv "$NATIVE_JSON.tmp" "$NATIVE_JSON"
else
  echo "native bench failed; its column will read n/a" >&2
  rm -f "$NATIVE_JSON.tmp" "$NATIVE_JSON"
  status=1
fi

echo "==> browser: headless chromium (bench build: dist-bench/)"
export DIST_DIR=dist-bench
if [ -f "$NATIVE_JSON" ]; then
  node tests/browser/bench.mjs --native "$NATIVE_JSON" || status=1
else
  node tests/browser/bench.mjs || status=1
fi
exit "$status"
