#!/usr/bin/env bash
# Benchmark (not a test): @copilot-hub/node (bindings-node) against the official Node SDK
# (@github/copilot-sdk) on ONE real Copilot CLI server in the same run, the fake model as BYOK
# provider. Per turn of `SLOW <deltas> 0` with streaming on: deltas/s delivered into an
# `assistant.message_delta` callback, the stream tail (last delta callback -> sendAndWait
# resolved) and the client process's CPU (process.cpuUsage: every thread, so the addon's Rust
# threads count). Each SDK runs in its own Node processes, alternating; medians and ratios.
#   benches/node/compare.sh [--deltas N] [--turns N] [--rounds N] [--head]
# --head also measures the committed HEAD's @copilot-hub/node (built from `git archive HEAD`
# into target/node-bench, with its own cargo target dir: slow the first time).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/target/node-bench
OFFICIAL_VERSION=1.0.14 # protocol version 3, as the pinned CLI
HEAD_BUILD=0
ARGS=()
for a in "$@"; do
  if [ "$a" = --head ]; then HEAD_BUILD=1; else ARGS+=("$a"); fi
done
mkdir -p "$OUT"

COPILOT_CLI_PATH="${COPILOT_CLI_PATH:-$(tests/install-cli.sh)}"
export COPILOT_CLI_PATH
if [ -z "${FAKE_MODEL_BIN:-}" ]; then
  cargo build -q --release -p fake-model
  FAKE_MODEL_BIN=$ROOT/target/release/fake-model
fi
export FAKE_MODEL_BIN

echo "== the official SDK (@github/copilot-sdk@$OFFICIAL_VERSION) in $OUT/official" >&2
installed=$(node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch{}' \
  "$OUT/official/node_modules/@github/copilot-sdk/package.json")
if [ "$installed" != "$OFFICIAL_VERSION" ]; then
  mkdir -p "$OUT/official"
  echo '{"name":"official-sdk-bench","private":true}' > "$OUT/official/package.json"
  (cd "$OUT/official" && npm install --no-audit --no-fund --loglevel=error --save-exact "@github/copilot-sdk@$OFFICIAL_VERSION")
fi
export OFFICIAL_SDK=$OUT/official/node_modules/@github/copilot-sdk

echo "== @copilot-hub/node: building the addon (release)" >&2
(cd bindings-node && { [ -d node_modules/@napi-rs/cli ] || npm ci --no-audit --no-fund --loglevel=error; } \
  && npx napi build --platform --release --strip --no-js --dts native.d.ts >&2)
export HUB_SDK=$ROOT/bindings-node

if [ "$HEAD_BUILD" = 1 ]; then
  echo "== @copilot-hub/node at HEAD ($(git rev-parse --short HEAD)): building" >&2
  rm -rf "$OUT/head-src" && mkdir -p "$OUT/head-src"
  git archive HEAD | tar -x -C "$OUT/head-src"
  (cd "$OUT/head-src" && CARGO_TARGET_DIR="$OUT/head-target" cargo build -q --release -p copilot-node)
  cp "$OUT/head-target/release/libcopilot_node.so" "$OUT/head-src/bindings-node/copilot.linux-x64-gnu.node"
  export HEAD_SDK=$OUT/head-src/bindings-node
fi

exec node benches/node/compare.mjs "${ARGS[@]}"
