#!/usr/bin/env bash
# Installs what building and testing token-dynamics needs, skipping what is already there.
# Safe to run repeatedly. Versions are pinned where a mismatch silently breaks the build:
# the wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock, and wasm-opt must be
# binaryen's from npm (Debian's binaryen 108 produces modules that fail to load in Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130   # keep equal to the `=` pin in Cargo.toml

say() { printf '[setup] %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # no --locked: its lockfile names a dependency version the registry lacks
  cargo install --quiet wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  # wait for a concurrent apt/dpkg instead of failing on its lock
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium fonts-dejavu-core >/dev/null
fi

# The native PNG export (`token-dynamics render --png`) draws text with a system sans-serif font;
# DejaVu Sans is what it prefers (and what headless Chromium on Debian falls back to).
if ! { command -v fc-list >/dev/null && fc-list 2>/dev/null | grep -q 'DejaVu Sans'; } \
   && [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  say "installing Debian's fonts-dejavu-core (text in native PNG renders)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq fonts-dejavu-core fontconfig >/dev/null
fi

# The cross-engine suite (scripts/test-engines.sh) runs the pages in Firefox and WebKit too, all from
# Debian: firefox-esr (puppeteer-core drives it over WebDriver BiDi, no separate driver), WebKitGTK's
# WebDriver (webkit2gtk-driver) and its MiniBrowser (libwebkit2gtk-4.1-0), and Xvfb, because MiniBrowser
# has no headless mode.
ENGINE_PKGS=()
[ -x /usr/bin/firefox-esr ] || ENGINE_PKGS+=(firefox-esr)
[ -x /usr/bin/WebKitWebDriver ] || ENGINE_PKGS+=(webkit2gtk-driver)
compgen -G '/usr/lib/*/webkit2gtk-4.1/MiniBrowser' >/dev/null || ENGINE_PKGS+=(libwebkit2gtk-4.1-0)
[ -x /usr/bin/Xvfb ] || ENGINE_PKGS+=(xvfb)
if [ "${#ENGINE_PKGS[@]}" -gt 0 ]; then
  say "installing Debian's ${ENGINE_PKGS[*]} (Firefox and WebKit for the cross-engine tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${ENGINE_PKGS[@]}" >/dev/null
fi

# puppeteer-core never downloads a browser; say so anyway (the suite uses Debian's firefox-esr).
export PUPPETEER_SKIP_DOWNLOAD=1
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] \
   || [ ! -d node_modules/puppeteer-core ] || [ ! -d node_modules/selenium-webdriver ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (binaryen's wasm-opt, playwright-core, puppeteer-core, selenium-webdriver, gpt-3-encoder)"
  npm ci --no-audit --no-fund --loglevel=error
fi

case "$(node_modules/.bin/wasm-opt --version 2>/dev/null || true)" in
  *"version 132"*) ;;
  *) echo "[setup] node_modules/.bin/wasm-opt is not binaryen 132 (see package.json)" >&2; exit 1 ;;
esac

cargo fetch --quiet
say "ready"
