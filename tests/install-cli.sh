#!/usr/bin/env bash
# Installs the pinned Copilot CLI from the npm registry into <repo>/.copilot-cli (git-ignored)
# and prints the path of its executable. Idempotent: a matching install is reused.
set -euo pipefail
VERSION="${COPILOT_CLI_VERSION:-1.0.102}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="$ROOT/.copilot-cli"
BIN="$DIR/node_modules/@github/copilot-linux-x64/copilot"
installed_version() {
  node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' \
    "$DIR/node_modules/@github/copilot/package.json" 2>/dev/null || true
}
if [ ! -x "$BIN" ] || [ "$(installed_version)" != "$VERSION" ]; then
  command -v npm >/dev/null || { echo "install-cli.sh: npm is required" >&2; exit 1; }
  mkdir -p "$DIR"
  [ -f "$DIR/package.json" ] || echo '{"name":"copilot-cli-pin","private":true}' > "$DIR/package.json"
  (cd "$DIR" && npm install --no-audit --no-fund --loglevel=error --save-exact "@github/copilot@$VERSION" >&2)
fi
[ -x "$BIN" ] || { echo "install-cli.sh: $BIN missing after install (is this linux-x64?)" >&2; exit 1; }
echo "$BIN"
