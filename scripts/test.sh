#!/usr/bin/env bash
# Quick start 2 (and CI: .ci/run): runs EVERYTHING and fails on the first failure.
#   setup -> fmt -> clippy (native + wasm32) -> cargo test -> trunk release build
#   -> wasm check (binaryen-optimised, valid) -> headless-browser tests -> sizes
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
START=$SECONDS

step "setup (installs only what is missing)"
bash scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (native, all targets)"
cargo clippy --all-targets -- -D warnings

step "cargo clippy (wasm32 lib)"
cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings

step "cargo test"
if [ "${CI:-}" = "true" ]; then
  export PROPTEST_CASES="${PROPTEST_CASES:-64}"
  echo "CI=true: PROPTEST_CASES=$PROPTEST_CASES"
fi
cargo test

step "trunk build --release --offline (binaryen's wasm-opt from node_modules/.bin)"
export PATH="$PWD/node_modules/.bin:$PATH"
WASM_OPT_PATH="$(command -v wasm-opt || true)"
[ "$WASM_OPT_PATH" = "$PWD/node_modules/.bin/wasm-opt" ] \
  || fail "wasm-opt on PATH is '$WASM_OPT_PATH', expected npm binaryen's $PWD/node_modules/.bin/wasm-opt"
echo "wasm-opt: $WASM_OPT_PATH ($(wasm-opt --version))"
mkdir -p test-results
BUILD_LOG=test-results/trunk-build.log
if ! trunk build --release --offline 2>&1 | tee "$BUILD_LOG"; then
  fail "trunk build (log: $BUILD_LOG)"
fi

step "check the built wasm: binaryen-optimised and a valid module"
shopt -s nullglob
WASMS=(dist/*.wasm)
JSS=(dist/*.js)
shopt -u nullglob
[ "${#WASMS[@]}" -eq 1 ] || fail "expected exactly one dist/*.wasm, found ${#WASMS[@]}: ${WASMS[*]:-none}"
[ "${#JSS[@]}" -ge 1 ] || fail "no dist/*.js"
WASM="${WASMS[0]}"
# Trunk keeps wasm-bindgen's output and wasm-opt's output under <target>/wasm-bindgen|wasm-opt/release/:
# the shipped module must be wasm-opt's output (data-wasm-opt="0" or a skipped step would ship the other).
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps --offline | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
node --input-type=module - "$WASM" "$TARGET_DIR" <<'EOF'
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
const [file, targetDir] = process.argv.slice(2);
const bytes = fs.readFileSync(file);
const base = path.basename(file);
const optOut = path.join(targetDir, "wasm-opt", "release", base);
const bindgenOut = path.join(targetDir, "wasm-bindgen", "release", base);
if (!fs.existsSync(optOut) || !fs.readFileSync(optOut).equals(bytes)) {
  console.error(`${file} is not wasm-opt's output (${optOut} ${fs.existsSync(optOut) ? "differs" : "missing"}): Trunk did not run wasm-opt`);
  process.exit(1);
}
if (fs.existsSync(bindgenOut)) {
  const before = fs.statSync(bindgenOut).size;
  console.log(`wasm-opt: ${before} -> ${bytes.length} bytes (${(100 * bytes.length / before).toFixed(1)}%)`);
  if (bytes.length >= before) { console.error("wasm-opt did not shrink the module"); process.exit(1); }
}
if (!WebAssembly.validate(bytes)) { console.error(`${file}: not a valid WebAssembly module`); process.exit(1); }
const mod = new WebAssembly.Module(bytes); // compiles: catches most engine-level breakage early
const exp = WebAssembly.Module.exports(mod).length;
const imp = WebAssembly.Module.imports(mod).length;
const custom = ["name", "producers", "target_features"].map((n) => `${n}:${WebAssembly.Module.customSections(mod, n).length}`);
console.log(`${file}: valid, compiles; ${exp} exports, ${imp} imports; custom sections ${custom.join(" ")}`);
// wasm-opt drops the debug "name" section unless asked to keep debug info; rustc + wasm-bindgen keep it.
if (WebAssembly.Module.customSections(mod, "name").length && !process.env.ALLOW_WASM_NAME_SECTION) {
  console.error(`${file} still has a "name" section: it looks unoptimised (set ALLOW_WASM_NAME_SECTION=1 if debug info is intended)`);
  process.exit(1);
}
// Re-optimising an optimised module gains little; an unoptimised one shrinks a lot.
const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "wasmopt-")), "re.wasm");
try {
  execFileSync("wasm-opt", ["-all", "-Oz", file, "-o", tmp], { stdio: ["ignore", "ignore", "pipe"] });
  const ratio = fs.statSync(tmp).size / bytes.length;
  console.log(`re-optimising with wasm-opt -Oz: ${(100 * ratio).toFixed(1)}% of the shipped size`);
  if (ratio < 0.9) { console.error("the shipped wasm shrinks by >10% under wasm-opt: it was not optimised"); process.exit(1); }
} finally {
  fs.rmSync(path.dirname(tmp), { recursive: true, force: true });
}
EOF
echo "(loading in a real browser is covered by the browser tests below)"

step "native renderer (target/release/token-dynamics: the browser tests compare its SVG with the page's)"
cargo build --release --bin token-dynamics

step "headless-browser tests (node --test, chromium via playwright-core)"
node --test --test-concurrency=1 --test-reporter=spec tests/browser/

step "sizes (dist)"
for f in "$WASM" "${JSS[@]}"; do
  raw=$(stat -c %s "$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  printf '  %-48s %9d bytes raw  %9d bytes gzip -9\n' "$(basename "$f")" "$raw" "$gz"
done

printf '\nALL CHECKS PASSED in %d s\n' "$((SECONDS - START))"
