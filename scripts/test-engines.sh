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
# One retry, loudly: two intermittent failures are known and open (issue 11). WebKitGTK 2.50.6 now
# and then computes something impossible in the page's wasm: one NaN (null) in an attention series
# that Chromium and Firefox never give, or (measured: 1 of 75 loads of the compare top-p link) a
# panic at next-token draw.rs `points[0]` on a Vec just collected from a slice of length >= 2.
# Both are consistent with JavaScriptCore's OMG tier losing the upper lanes of SIMD values when it
# inlines a SIMD callee into a non-SIMD caller (https://bugs.webkit.org/show_bug.cgi?id=316918,
# fixed upstream in August 2026, WebKit PR 72164 and its cherry-pick 72488). And Firefox sometimes
# reports "ResizeObserver loop completed with undelivered notifications" from the embed example.
# A failure that repeats still fails the suite.
if [ "$rc" != 0 ]; then
  echo "[engines] FAILED once (exit $rc, the failures are printed above): retrying the whole suite"
  rc=0
  node --test --test-concurrency=1 --test-reporter=spec tests/engines/ || rc=$?
fi
echo "[engines] cross-engine suite: $((SECONDS - START)) s, exit $rc"
exit "$rc"
