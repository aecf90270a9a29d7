#!/usr/bin/env bash
# Quick start 2 (and CI: .ci/run): runs EVERYTHING and fails on the first failure.
#   setup -> fmt -> clippy (native + wasm32) -> rustdoc -> architecture check -> cargo test --workspace
#   -> build tools' tests -> site build (one wasm per page) -> wasm check -> headless-browser tests -> cross-engine tests
#   -> download budgets
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
START=$SECONDS

step "setup (installs only what is missing)"
bash scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (native: every crate, all targets)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo clippy (wasm32: each page with its own features, and the real-model module)"
for page in next-token attention energy; do
  cargo clippy --target wasm32-unknown-unknown -p "td-page-$page" -- -D warnings
done
cargo clippy --target wasm32-unknown-unknown -p td-real-model -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --quiet

step "cargo test"
if [ "${CI:-}" = "true" ]; then
  export PROPTEST_CASES="${PROPTEST_CASES:-64}"
  echo "CI=true: PROPTEST_CASES=$PROPTEST_CASES"
fi
cargo test --workspace

step "build tools' own tests (node --test tests/tools/: scripts/simd-guard.mjs)"
node --test --test-reporter=spec tests/tools/

step "build the site: one WebAssembly module per page (scripts/build.sh)"
export PATH="$PWD/node_modules/.bin:$PATH"
WASM_OPT_PATH="$(command -v wasm-opt || true)"
[ "$WASM_OPT_PATH" = "$PWD/node_modules/.bin/wasm-opt" ] \
  || fail "wasm-opt on PATH is '$WASM_OPT_PATH', expected npm binaryen's $PWD/node_modules/.bin/wasm-opt"
echo "wasm-opt: $WASM_OPT_PATH ($(wasm-opt --version))"
mkdir -p test-results
BUILD_LOG=test-results/build.log
if ! bash scripts/build.sh 2>&1 | tee "$BUILD_LOG"; then
  fail "site build (log: $BUILD_LOG)"
fi

step "check the built modules: binaryen-optimised, valid, one per page"
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps --offline | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
node scripts/check-wasm.mjs dist "$TARGET_DIR" || fail "wasm check"
echo "(loading in a real browser is covered by the browser tests below)"

step "native renderer (target/release/token-dynamics: the browser tests compare its SVG with the page's)"
cargo build --release -p token-dynamics --bin token-dynamics

step "headless-browser tests (node --test, chromium via playwright-core)"
node --test --test-concurrency=1 --test-reporter=spec tests/browser/

step "cross-engine tests: Chromium, Firefox and WebKit, readouts byte-identical (scripts/test-engines.sh)"
TD_SKIP_SETUP=1 bash scripts/test-engines.sh || fail "cross-engine tests"

step "download budgets: what opening each page cold transfers (wasm + JS, gzip -9)"
node scripts/budgets.mjs dist || fail "a page exceeds its download budget"

printf '\nALL CHECKS PASSED in %d s\n' "$((SECONDS - START))"
