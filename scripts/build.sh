#!/usr/bin/env bash
# Builds the static site: one WebAssembly module per page (each page carries its own explorer
# only), then the pages around them (scripts/build-site.mjs).
#
#   scripts/build.sh            -> dist/        production pages
#   scripts/build.sh --bench    -> dist-bench/  the same pages with tokenDynamics.bench (scripts/bench.sh)
#
# Per page: cargo build (profile wasm-release: size-optimised, the transformer at opt-level 3;
# SIMD128 from .cargo/config.toml) -> wasm-bindgen (the CLI pinned to the crate's version)
# -> binaryen's wasm-opt -Oz from node_modules (NOT Debian's binaryen, which breaks the module).
# Expects scripts/setup.sh to have run (scripts/serve.sh and scripts/test.sh run it).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=dist
FEATURES=()
if [ "${1:-}" = "--bench" ]; then
  OUT=dist-bench
  FEATURES=(--features bench)
fi
PAGES=(next-token attention energy)
TARGET=wasm32-unknown-unknown
PROFILE=wasm-release
export PATH="$PWD/node_modules/.bin:$PATH"
WASM_OPT="$PWD/node_modules/.bin/wasm-opt"
[ -x "$WASM_OPT" ] || { echo "build: $WASM_OPT missing (run scripts/setup.sh)" >&2; exit 1; }
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps --offline \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"

rm -rf "$OUT"
mkdir -p "$OUT" "$TARGET_DIR/wasm-bindgen/$OUT" "$TARGET_DIR/wasm-opt/$OUT"
# One module through cargo -> wasm-bindgen -> wasm-opt into $OUT: build_module <crate> <out-name>.
build_module() {
  local crate="$1" name="$2" lib="${1//-/_}"
  # One cargo invocation per module: features are not unified across pages, so each module holds
  # its own explorer's hooks only.
  cargo build --offline --quiet --profile "$PROFILE" --target "$TARGET" -p "$crate" "${FEATURES[@]}"
  wasm-bindgen --target web --no-typescript --out-dir "$TARGET_DIR/wasm-bindgen/$OUT" \
    --out-name "$name" "$TARGET_DIR/$TARGET/$PROFILE/$lib.wasm"
  "$WASM_OPT" -Oz "$TARGET_DIR/wasm-bindgen/$OUT/${name}_bg.wasm" \
    -o "$TARGET_DIR/wasm-opt/$OUT/${name}_bg.wasm"
  # After wasm-opt (which would remove it): a SIMD instruction in every function that may inline
  # SIMD code, against a JavaScriptCore miscompilation (see the script).
  node scripts/simd-guard.mjs "$TARGET_DIR/wasm-opt/$OUT/${name}_bg.wasm"
  cp "$TARGET_DIR/wasm-opt/$OUT/${name}_bg.wasm" "$OUT/"
  cp "$TARGET_DIR/wasm-bindgen/$OUT/$name.js" "$OUT/"
  printf 'build: %-14s wasm %8d bytes (wasm-bindgen %d)\n' "$name" \
    "$(stat -c %s "$OUT/${name}_bg.wasm")" "$(stat -c %s "$TARGET_DIR/wasm-bindgen/$OUT/${name}_bg.wasm")"
}

for page in "${PAGES[@]}"; do
  build_module "td-page-$page" "td-$page"
done
# The real-model module (pages/real-model): loaded by the energy page's model worker only when a
# reader loads a checkpoint, so it is in no page's cold download. No bench feature.
FEATURES=()
build_module td-real-model td-real-model
node scripts/build-site.mjs "$OUT"
