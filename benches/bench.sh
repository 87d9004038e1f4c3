#!/usr/bin/env bash
# Benchmark (not a test): one real CLI, this SDK vs a minimal raw client, ratios from one run.
#   benches/bench.sh [--pings N] [--inflight-total N] [--turns N] [--creates N]
set -euo pipefail
cd "$(dirname "$0")/.."
COPILOT_CLI_PATH="${COPILOT_CLI_PATH:-$(tests/install-cli.sh)}"
export COPILOT_CLI_PATH
exec cargo run --quiet --release -p copilot-bench -- "$@"
