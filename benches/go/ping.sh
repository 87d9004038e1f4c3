#!/usr/bin/env bash
# Go ping benchmark: this repository's Go SDK against the official Go SDK, one headless CLI,
# interleaved blocks; prints p50/p90/p99 and the p50 ratio. Not a test (nothing fails on the
# ratio). Builds libcopilot in release (-p copilot-c only), then the benchmark in a scratch
# module under target/go-bench, where the official SDK is fetched through the Go module proxy.
# Arguments go to the benchmark (-blocks, -n, -warmup).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OFFICIAL="github.com/github/copilot-sdk/go@v1.0.0"
cd "$ROOT"
COPILOT_CLI_PATH="${COPILOT_CLI_PATH:-$(tests/install-cli.sh)}"
export COPILOT_CLI_PATH GOTOOLCHAIN=local CGO_ENABLED=1
cargo build --release -q -p copilot-c
SCRATCH="$ROOT/target/go-bench"
mkdir -p "$SCRATCH"
cp benches/go/ping/main.go "$SCRATCH/main.go"
cd "$SCRATCH"
if [ ! -f go.mod ]; then
  cat > go.mod <<MOD
module copilothub.dev/benches/go-ping

go 1.24

require copilothub.dev/copilot v0.0.0

replace copilothub.dev/copilot => $ROOT/bindings-c/go
MOD
  go get "$OFFICIAL"
fi
go build -o ping-bench .
./ping-bench "$@"
