#!/usr/bin/env bash
# Cross-engine browser tests: a chosen set of links in Chromium, Firefox and WebKit (tests/engines/),
# each page ready with no error and its canvases drawn, and every link's readout byte-identical across
# the three engines. scripts/test.sh runs it after the Chromium tests.
#
#   scripts/test-engines.sh                      all three engines; one that cannot start FAILS the run
#   ENGINES=chromium,firefox scripts/test-engines.sh    only these (the only way to leave an engine out)
#
# Runs scripts/setup.sh first (skip with TD_SKIP_SETUP=1) and builds dist/ if it is missing.
# Results: test-results/engines/ (summary.json with the timings; the readouts of a link the engines
# disagree on).
set -euo pipefail
cd "$(dirname "$0")/.."
START=$SECONDS

if [ "${TD_SKIP_SETUP:-}" != "1" ]; then
  bash scripts/setup.sh
fi
if [ ! -f "${DIST_DIR:-dist}/index.html" ]; then
  echo "[engines] ${DIST_DIR:-dist}/index.html missing: building the site (scripts/build.sh)"
  bash scripts/build.sh
fi

if [ -n "${ENGINES:-}" ]; then
  echo "[engines] ENGINES=$ENGINES: running only these engines"
else
  echo "[engines] engines: chromium, firefox, webkit (restrict with ENGINES=...)"
fi

rc=0
node --test --test-concurrency=1 --test-reporter=spec tests/engines/ || rc=$?
# One retry, loudly. Two intermittent failures had been known (issue 11), and both now have a fix:
# - WebKitGTK 2.50.6 now and then computed something impossible in the page's wasm (a NaN in an
#   attention series, a panic in next-token's drawing code): JavaScriptCore's inlining of SIMD
#   code into non-SIMD functions (https://bugs.webkit.org/show_bug.cgi?id=316918, fixed upstream in
#   August 2026). The build now guards every module against it (scripts/simd-guard.mjs): the
#   compare top-p link failed in 4 of 1,125 loads before, in 0 of 2,000 after.
# - Firefox reported "ResizeObserver loop completed with undelivered notifications" from the embed
#   example (8 of 100 loads); the embed now re-lays itself out in the next frame (0 of 100).
# One is left: WebKit, rarely, "Out of bounds memory access" in the module's start function (1 in
# 300 loads of the attention compare link with the guard, 1 in 1,000 next-token loads without it,
# each time after hundreds of loads in one MiniBrowser); its cause is not known.
# A failure that repeats still fails the suite.
if [ "$rc" != 0 ]; then
  echo "[engines] FAILED once (exit $rc, the failures are printed above): retrying the whole suite"
  rc=0
  node --test --test-concurrency=1 --test-reporter=spec tests/engines/ || rc=$?
fi
echo "[engines] cross-engine suite: $((SECONDS - START)) s, exit $rc"
exit "$rc"
