#!/usr/bin/env bash
# Builds the addon, packs the npm package, installs the tarball into a scratch project and runs
# the node:test suite there (real Copilot CLI + fake model; the pool tests also a real
# redis-server), including the backend-services samples of examples/node and `tsc --noEmit` on
# them, then the HA end-to-end run (tests/ha/run.py) with examples/node/pool-chat-server.mts as
# the API. Works from a clean clone.
#   COPILOT_CLI_PATH  the pinned CLI (installed with tests/install-cli.sh when unset)
#   FAKE_MODEL_BIN    the fake model (built with cargo when unset)
#   COPILOT_CHAOS_PATH  the fault-injection tool tests/chaos (built with cargo when unset)
#   NODE_TEST_ARGS    extra arguments for `node --test` (e.g. a file name)
#   SKIP_HA=1         skip the HA end-to-end run
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
ROOT=$(cd .. && pwd)

if [ -z "${COPILOT_CLI_PATH:-}" ]; then COPILOT_CLI_PATH=$("$ROOT/tests/install-cli.sh"); fi
export COPILOT_CLI_PATH
if [ -z "${FAKE_MODEL_BIN:-}" ]; then
  (cd "$ROOT" && cargo build -q -p fake-model)
  FAKE_MODEL_BIN=$ROOT/target/debug/fake-model
fi
export FAKE_MODEL_BIN
if [ -z "${COPILOT_CHAOS_PATH:-}" ]; then
  (cd "$ROOT" && cargo build -q -p copilot-chaos)
  COPILOT_CHAOS_PATH=$ROOT/target/debug/copilot-chaos
fi
export COPILOT_CHAOS_PATH
command -v node >/dev/null || { echo "Node.js (>= 20) is required" >&2; exit 1; }
# redis-server (pool leases) and nginx (the HA run), from Debian when missing.
"$ROOT/tests/install-services.sh"

echo "== npm ci (build tools: @napi-rs/cli, typescript)"
if [ ! -d node_modules/@napi-rs/cli ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# error-codes.{js,d.ts} are written by `cargo run -p xtask -- codegen`; the top-level test.sh
# checks them. native.d.ts is napi's, checked here: the build regenerates it, and it must equal
# the checked-out copy (the committed one in a clean clone; in a work tree, the copy that is
# about to be committed).
BEFORE=$(mktemp "${TMPDIR:-/tmp}/native.d.ts.XXXXXX")
cp native.d.ts "$BEFORE"
echo "== building the addon (release)"
npx napi build --platform --release --strip --no-js --dts native.d.ts

echo "== checking that native.d.ts did not drift"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$ROOT" ls-files --error-unmatch bindings-node/native.d.ts >/dev/null 2>&1 || { echo "bindings-node/native.d.ts is not committed" >&2; exit 1; }
fi
if ! diff -u "$BEFORE" native.d.ts; then
  rm -f "$BEFORE"
  echo "native.d.ts drifted: the build rewrote it (see the diff above); commit the regenerated bindings-node/native.d.ts" >&2
  exit 1
fi
rm -f "$BEFORE"

echo "== npm pack"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/copilot-node-scratch.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
npm pack --json --pack-destination "$SCRATCH" > "$SCRATCH/pack.json"
TARBALL=$(node -e 'const [p] = require(process.argv[1]); console.log(p.filename);
  console.error(`package ${p.filename}: ${(p.size / 1e6).toFixed(2)} MB packed, ${(p.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${p.entryCount} files`)' "$SCRATCH/pack.json")

echo "== installing the tarball into a scratch project: $SCRATCH"
node -e '
  const pkg = require(process.argv[1]);
  const dev = pkg.devDependencies;
  const out = { name: "copilot-node-scratch", private: true, type: "module",
    dependencies: { "@copilot-hub/node": "file:./" + process.argv[2], zod: dev.zod, "@opentelemetry/api": dev["@opentelemetry/api"] },
    devDependencies: { typescript: dev.typescript, "@types/node": dev["@types/node"] } };
  require("fs").writeFileSync(process.argv[3], JSON.stringify(out, null, 2));
' "$HERE/package.json" "$TARBALL" "$SCRATCH/package.json"
(cd "$SCRATCH" && npm install --no-audit --no-fund --loglevel=error)
cp -r "$HERE/test" "$SCRATCH/test"
mkdir -p "$SCRATCH/examples" && cp -r "$ROOT/examples/node/." "$SCRATCH/examples/"

echo "== load time of the installed package (median of 7 fresh processes)"
(cd "$SCRATCH" && node -e '
  const { execFileSync } = require("node:child_process");
  const run = (code, type) => {
    const ms = [];
    for (let i = 0; i < 7; i++) {
      const args = type === "esm" ? ["--input-type=module", "-e", code] : ["-e", code];
      ms.push(Number(execFileSync(process.execPath, args, { encoding: "utf8" }).trim()));
    }
    ms.sort((a, b) => a - b);
    return ms[3].toFixed(1);
  };
  const cjs = run("const t = process.hrtime.bigint(); require(\"@copilot-hub/node\"); console.log(Number(process.hrtime.bigint() - t) / 1e6)", "cjs");
  const esm = run("const t = process.hrtime.bigint(); await import(\"@copilot-hub/node\"); console.log(Number(process.hrtime.bigint() - t) / 1e6)", "esm");
  console.log(`require: ${cjs} ms, import: ${esm} ms`);
')

echo "== node --test (in the scratch project, strict types)"
export COPILOT_SCENARIOS_DIR=$ROOT/tests/scenarios
cd "$SCRATCH"
# Strict type checking: every event delivered and every typed result is checked against the
# generated types (protocol-types.json); each test process appends its counts to one file, and
# test/strict-summary.mjs prints the suite's line and fails on any value the types cannot read.
export COPILOT_STRICT_TYPES=1
export COPILOT_STRICT_TYPES_OUT=$SCRATCH/strict-types.jsonl
# Each test gets 3 minutes: a hang fails the test instead of the whole run.
# shellcheck disable=SC2086
rc=0
node --test --test-reporter=tap --test-timeout=180000 ${NODE_TEST_ARGS:-test/*.test.mjs} || rc=$?
node test/strict-summary.mjs "$COPILOT_STRICT_TYPES_OUT" || rc=1
unset COPILOT_STRICT_TYPES COPILOT_STRICT_TYPES_OUT
[ "$rc" = 0 ] || exit "$rc"

if [ "${SKIP_HA:-0}" != 1 ]; then
  # The HA end-to-end run: 2 CLI servers sharing their state, Redis, 2 instances of the pool
  # chat API (compiled like the other samples, run from the scratch project) behind nginx,
  # 20 conversations x 10 turns, one CLI server SIGKILLed midway and started again.
  echo "== HA end-to-end (tests/ha/run.py, API: examples/node/pool-chat-server.mts)"
  node node_modules/typescript/bin/tsc -p examples
  # (the CLI and the fake model come from COPILOT_CLI_PATH and FAKE_MODEL_BIN, exported above)
  python3 "$ROOT/tests/ha/run.py" --api "node $SCRATCH/examples/dist/pool-chat-server.mjs"
fi
