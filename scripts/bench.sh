#!/usr/bin/env bash
# Benchmark command: native micro-benchmarks, the same scenarios written with NumPy
# (scripts/bench_numpy.py, checked against the native checksums), then the same scenarios in
# headless Chromium (tokenDynamics.bench on each explorer's own page, median of 5) plus
# slider-to-paint latency; prints one markdown table and the sizes.
#   SKIP_BUILD=1 scripts/bench.sh   reuse the existing dist-bench/ (otherwise it is built first)
# NumPy: when `python3 -c "import numpy"` fails, `python3 -m pip install --user --quiet numpy` is
# tried (and scipy likewise, optional: the attention hull and cluster diagnostics); if numpy still
# cannot be imported the NumPy column reads n/a and the output says why.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
if [ "${SKIP_BUILD:-}" != "1" ] || [ ! -f dist-bench/index.html ]; then
  bash scripts/build.sh --bench
fi

mkdir -p test-results
NATIVE_JSON=test-results/bench-native.json
NUMPY_JSON=test-results/bench-numpy.json
MODEL=test-results/bench-model.tdgpt
LOGITS=test-results/bench-forward128-logits.f64
status=0
echo "==> native: cargo run --release -p token-dynamics --bin bench -- --json --dump-model $MODEL --dump-logits $LOGITS"
rm -f "$MODEL" "$LOGITS"
if cargo run --release --quiet -p token-dynamics --bin bench -- --json \
  --dump-model "$MODEL" --dump-logits "$LOGITS" > "$NATIVE_JSON.tmp"; then
  mv "$NATIVE_JSON.tmp" "$NATIVE_JSON"
else
  echo "native bench failed; its column will read n/a" >&2
  rm -f "$NATIVE_JSON.tmp" "$NATIVE_JSON"
  status=1
fi

echo "==> NumPy: python3 scripts/bench_numpy.py --json --check $NATIVE_JSON"
rm -f "$NUMPY_JSON"
numpy_why=""
if ! command -v python3 >/dev/null 2>&1; then
  numpy_why="python3 not found"
elif ! python3 -c "import numpy" 2>/dev/null; then
  echo "numpy is not importable: trying python3 -m pip install --user --quiet numpy"
  if python3 -m pip install --user --quiet numpy && python3 -c "import numpy" 2>/dev/null; then
    echo "numpy installed"
  else
    numpy_why="numpy is not installed and 'python3 -m pip install --user --quiet numpy' failed"
  fi
fi
if [ -z "$numpy_why" ] && ! python3 -c "import scipy" 2>/dev/null; then
  echo "scipy is not importable (optional: the attention hull and cluster diagnostics): trying pip"
  python3 -m pip install --user --quiet scipy 2>/dev/null && python3 -c "import scipy" 2>/dev/null \
    || echo "scipy could not be installed: the NumPy attention scenarios skip the hull and cluster diagnostics"
fi
if [ -z "$numpy_why" ]; then
  check=()
  if [ -f "$NATIVE_JSON" ]; then
    check=(--check "$NATIVE_JSON" --logits "$LOGITS")
  else
    echo "no native results: the NumPy checksums are not checked" >&2
  fi
  numpy_rc=0
  python3 scripts/bench_numpy.py --json --model "$MODEL" "${check[@]}" > "$NUMPY_JSON.tmp" || numpy_rc=$?
  if [ "$numpy_rc" = 0 ]; then
    mv "$NUMPY_JSON.tmp" "$NUMPY_JSON"
  else
    if [ "$numpy_rc" = 3 ]; then
      numpy_why="the NumPy results disagree with the native checksums (see the check above), so they are not shown"
    else
      numpy_why="scripts/bench_numpy.py failed (exit $numpy_rc, see above)"
    fi
    mv "$NUMPY_JSON.tmp" "$NUMPY_JSON.rejected" 2>/dev/null || true
    echo "$numpy_why" >&2
    status=1
  fi
fi

[ -n "$numpy_why" ] && echo "NumPy column: n/a ($numpy_why)" >&2

echo "==> browser: headless chromium (bench build: dist-bench/)"
export DIST_DIR=dist-bench
args=()
[ -f "$NATIVE_JSON" ] && args+=(--native "$NATIVE_JSON")
if [ -f "$NUMPY_JSON" ]; then
  # The page and NumPy then alternate, scenario by scenario, for a few rounds (bench.mjs --rounds).
  args+=(--numpy "$NUMPY_JSON" --numpy-model "$MODEL")
else
  args+=(--numpy-unavailable "$numpy_why")
fi
node tests/browser/bench.mjs "${args[@]}" || status=1
exit "$status"
