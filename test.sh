#!/usr/bin/env bash
# Runs every test of the project, in every language that has landed so far.
# Sets up what it needs on a fresh machine: the pinned Copilot CLI (from npm) and Rust crates.
set -euo pipefail
cd "$(dirname "$0")"
echo "== installing the pinned Copilot CLI"
CLI="$(tests/install-cli.sh)"
export COPILOT_CLI_PATH="$CLI"
"$CLI" --version | head -n 1

echo "== checking the core's dependency boundary (no binding types in copilot-core)"
if cargo tree -p copilot-core -e normal --prefix none | grep -Ei '^(pyo3|napi|cbindgen)'; then
  echo "copilot-core must not depend on binding crates" >&2; exit 1
fi

echo "== Rust: core, fake model, examples, binding crates"
cargo test --workspace --all-targets
cargo test --workspace --doc
cargo build -p fake-model
export FAKE_MODEL_BIN="$PWD/target/debug/fake-model"

# Each language binding owns a test script; run every one that exists, in order.
for b in bindings-python bindings-node bindings-c; do
  if [ -x "$b/test.sh" ]; then
    echo "== $b"
    "$b/test.sh"
  fi
done
echo "== all tests passed"
