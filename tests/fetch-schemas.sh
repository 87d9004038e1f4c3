#!/usr/bin/env bash
# Fetches the Copilot CLI's protocol schemas (api.schema.json, session-events.schema.json) from
# the last npm package that ships them, checks their hashes, and extracts them into the
# git-ignored target/schemas/ (the schema files are never committed). Prints the folder.
# Idempotent: files with the right hashes are reused.
set -euo pipefail
PKG="@github/copilot-linux-x64"
VERSION="1.0.84-4"   # later packages (1.0.102 included) ship no schemas; protocol version 3 in both
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/target/schemas"
declare -A SHA=(
  [api.schema.json]=89399035ad73c37ff184513ba04b89c205fdb2bd733af28332ff033a72bc877e
  [session-events.schema.json]=ce6ea924e8bd3cb825046d7328a4b0922d787efa9868f9e7816df95e1ab2b545
)
ok() { [ -f "$OUT/$1" ] && [ "$(sha256sum "$OUT/$1" | cut -d' ' -f1)" = "${SHA[$1]}" ]; }
if ok api.schema.json && ok session-events.schema.json; then echo "$OUT"; exit 0; fi
command -v npm >/dev/null || { echo "fetch-schemas.sh: npm is required" >&2; exit 1; }
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --loglevel=error "$PKG@$VERSION" >/dev/null || { echo "fetch-schemas.sh: npm pack $PKG@$VERSION failed" >&2; exit 1; })
tar -xzf "$TMP"/*.tgz -C "$TMP" package/schemas/api.schema.json package/schemas/session-events.schema.json
mkdir -p "$OUT"
for f in api.schema.json session-events.schema.json; do
  got="$(sha256sum "$TMP/package/schemas/$f" | cut -d' ' -f1)"
  if [ "$got" != "${SHA[$f]}" ]; then
    echo "fetch-schemas.sh: $f from $PKG@$VERSION has sha256 $got, expected ${SHA[$f]}" >&2; exit 1
  fi
  cp "$TMP/package/schemas/$f" "$OUT/$f"
done
echo "$OUT"
