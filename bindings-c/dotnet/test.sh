#!/usr/bin/env bash
# .NET SDK (bindings-c/dotnet): builds the C# library, the tests and the backend-services sample
# with Mono's mcs (C# 7.2, the only C# compiler the registries offer here) and runs the suite on
# Mono against the real Copilot CLI. Called by bindings-c/test.sh after it built libcopilot.so;
# also runs on its own (it builds what is missing or stale).
#
# Env: COPILOT_CLI_PATH (else tests/install-cli.sh), FAKE_MODEL_BIN (else target/debug/fake-model),
#      COPILOT_CHAOS_PATH (else target/debug/copilot-chaos, built by cargo),
#      COPILOT_LIB_DIR (folder of a prebuilt libcopilot.so; else target/release, built by cargo),
#      COPILOT_SOAK_CYCLES (kill/restart cycles of the leak test, default 100),
#      DOTNET_TEST_FILTER (run only the tests whose name contains it),
#      COPILOT_STRICT_TYPES (default 1: every event and typed result is also read through the
#      generated types of src/Protocol.g.cs; the suite prints the `strict types: ...` line and fails
#      on a value they cannot read).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

if ! command -v mcs >/dev/null 2>&1 || ! command -v mono >/dev/null 2>&1; then
  echo "== installing Mono (mono-mcs, mono-runtime)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mono-mcs mono-runtime
fi
mono --version | head -n 1
# redis-server for the pool tests (tests/PoolTests.cs).
tests/install-services.sh

if [ -n "${COPILOT_LIB_DIR:-}" ]; then
  LIBDIR="$COPILOT_LIB_DIR"
else
  # Always (a no-op when it is up to date): a stale libcopilot.so would test an older core.
  echo "== building libcopilot.so (cargo build --release -p copilot-c)"
  cargo build --release -p copilot-c
  LIBDIR="$ROOT/target/release"
fi
[ -f "$LIBDIR/libcopilot.so" ] || { echo "no libcopilot.so in $LIBDIR" >&2; exit 1; }
if [ -z "${COPILOT_CLI_PATH:-}" ]; then
  COPILOT_CLI_PATH="$(tests/install-cli.sh)"
fi
export COPILOT_CLI_PATH
if [ -z "${FAKE_MODEL_BIN:-}" ]; then
  [ -x target/debug/fake-model ] || cargo build -p fake-model
  FAKE_MODEL_BIN="$ROOT/target/debug/fake-model"
fi
export FAKE_MODEL_BIN
if [ -z "${COPILOT_CHAOS_PATH:-}" ]; then
  # The fault injector of the reliability tests (tests/chaos).
  cargo build -p copilot-chaos
  COPILOT_CHAOS_PATH="$ROOT/target/debug/copilot-chaos"
fi
export COPILOT_CHAOS_PATH

echo "== generated protocol (src/Protocol.g.cs) is up to date"
cargo run -q -p xtask --bin codegen-csharp -- --check

OUT="$ROOT/target/dotnet"
mkdir -p "$OUT"
MCS=(mcs -langversion:7.2 -debug -warnaserror+ -nowarn:1591)
echo "== mcs: library"
"${MCS[@]}" -target:library -doc:"$OUT/GitHub.Copilot.SDK.xml" -out:"$OUT/GitHub.Copilot.SDK.dll" "$HERE"/src/*.cs
echo "== mcs: backend-services sample (examples/dotnet) as a program"
"${MCS[@]}" -define:BACKEND_SERVICE_MAIN -r:"$OUT/GitHub.Copilot.SDK.dll" -out:"$OUT/backend-service.exe" examples/dotnet/*.cs
echo "== mcs: the HA chat API sample (examples/dotnet/PoolChatApi.cs) as a program"
"${MCS[@]}" -define:POOL_CHAT_API_MAIN -r:"$OUT/GitHub.Copilot.SDK.dll" -out:"$OUT/pool-chat-api.exe" examples/dotnet/*.cs
echo "== mcs: the typed-protocol sample (examples/dotnet/TypedProtocol.cs) as a program"
"${MCS[@]}" -define:TYPED_PROTOCOL_MAIN -r:"$OUT/GitHub.Copilot.SDK.dll" -out:"$OUT/typed-protocol.exe" examples/dotnet/*.cs
echo "== mcs: tests"
"${MCS[@]}" -r:"$OUT/GitHub.Copilot.SDK.dll" -out:"$OUT/copilot-dotnet-tests.exe" "$HERE"/tests/*.cs examples/dotnet/*.cs

# The .csproj cannot be built here (no .NET SDK in the registries): at least keep it well-formed
# and pointing at the sources that mcs just compiled.
if command -v python3 >/dev/null 2>&1; then
  python3 - "$HERE/GitHub.Copilot.SDK.csproj" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "Project" and root.get("Sdk") == "Microsoft.NET.Sdk", "not an SDK-style project"
includes = [c.get("Include") for c in root.iter("Compile")]
assert includes == ["src/**/*.cs"], includes
PY
else
  echo "   (python3 missing: the .csproj XML check is skipped)"
fi

echo "== tests on Mono against the real CLI ($COPILOT_CLI_PATH)"
# timeout: the suite must end by itself; a hang at exit (Mono and a foreign callback thread) fails here.
COPILOT_STRICT_TYPES="${COPILOT_STRICT_TYPES:-1}" LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  timeout -k 10 900 mono --debug "$OUT/copilot-dotnet-tests.exe" ${DOTNET_TEST_FILTER:+"$DOTNET_TEST_FILTER"}
