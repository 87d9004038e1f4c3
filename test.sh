#!/usr/bin/env bash
# Runs every test of the project, in every language.
# Sets up what it needs on a fresh machine: the pinned Copilot CLI (from npm) and Rust crates;
# each binding's test.sh installs its own tools. Each stage prints how long it took.
set -euo pipefail
cd "$(dirname "$0")"
T0=$SECONDS
STAGE_START=$SECONDS
STAGE=""
stage() {
  if [ -n "$STAGE" ]; then echo "== [$((SECONDS - STAGE_START)) s] $STAGE"; fi
  STAGE="$1"; STAGE_START=$SECONDS
  echo "== $1"
}

stage "installing the pinned Copilot CLI"
CLI="$(tests/install-cli.sh)"
export COPILOT_CLI_PATH="$CLI"
# The CLI unpacks ~235 MB into $XDG_CACHE_HOME/copilot (default: $HOME/.cache) on its first run;
# the tests give every CLI its own HOME, so without a shared cache each test process would unpack
# (and leave behind) its own copy. One cache for the run, filled here before the tests start.
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$PWD/target/cli-cache}"
"$CLI" --version | head -n 1

stage "installing test services (Debian's redis-server and nginx, when missing)"
tests/install-services.sh

stage "deployment files (deploy/check.sh: systemd-analyze, Compose schema, kubeconform, nginx -t)"
deploy/check.sh

stage "checking the core's dependency boundary (no binding types in copilot-core)"
if cargo tree -p copilot-core -e normal --prefix none | grep -Ei '^(pyo3|napi|cbindgen)'; then
  echo "copilot-core must not depend on binding crates" >&2; exit 1
fi

stage "format and lints (cargo fmt --check, clippy -D warnings)"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

stage "generated files (error tables, request kinds, the typed protocol of every language) match their sources"
cargo run --quiet -p xtask -- codegen --check

stage "Rust: core, fake model, examples, binding crates"
cargo test --workspace --all-targets
cargo test --workspace --doc
cargo build -p fake-model -p copilot-chaos
export FAKE_MODEL_BIN="$PWD/target/debug/fake-model"
export COPILOT_CHAOS_PATH="$PWD/target/debug/copilot-chaos"

# Each language binding owns a test script; run every one that exists, in order.
for b in bindings-python bindings-node bindings-c; do
  if [ -x "$b/test.sh" ]; then
    stage "$b"
    "$b/test.sh"
  fi
done
stage "done"
echo "== all tests passed in $((SECONDS - T0)) s"
