#!/usr/bin/env bash
# Quick start 1: install what is missing, build the site, serve it on http://127.0.0.1:8080 (PORT overrides).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# binaryen's wasm-opt from npm must win over any other wasm-opt on PATH (Debian's breaks the module).
PATH="$PWD/node_modules/.bin:$PATH" trunk build --release --offline

PORT="${PORT:-8080}"
echo
echo "token-dynamics: open http://127.0.0.1:${PORT}/  (Ctrl+C to stop)"
exec node scripts/static-server.mjs --root dist --port "$PORT" "$@"
