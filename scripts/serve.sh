#!/usr/bin/env bash
# Quick start 1: install what is missing, build the site, serve it on http://127.0.0.1:8080 (PORT overrides).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# One WebAssembly module per page, then the pages (scripts/build.sh).
bash scripts/build.sh

PORT="${PORT:-8080}"
echo
echo "token-dynamics: open http://127.0.0.1:${PORT}/  (Ctrl+C to stop)"
exec node scripts/static-server.mjs --root dist --port "$PORT" "$@"
