#!/usr/bin/env bash
# Tests of the C ABI (libcopilot) and the SDKs over it, against the real Copilot CLI:
#   1. builds libcopilot (release, only -p copilot-c), which regenerates include/copilot.h,
#      and fails when the header differs from the committed one;
#   2. builds the C tests with gcc and runs them: tests/test_copilot.c (every export, against
#      the shared and the static library; cancellation, hostile peers, a CLI killed mid-turn),
#      tests/test_scenarios.c (every shared scenario of tests/scenarios, JSON read with
#      jansson), tests/test_features.c (the official features that travel as host requests:
#      elicitation, slash commands, a session filesystem, a token provider, telemetry, mode
#      empty) and tests/test_pool.c (the pool against three CLI servers sharing a state
#      directory and a redis-server: placement, failover, drain, leases, reaper, metrics, logs),
#      then all four again under valgrind;
#   3. go vet + go test -race for the Go SDK (bindings-c/go, with its reliability tests) and the
#      Go sample (examples/go);
#   4. bindings-c/dotnet/test.sh when it exists;
#   5. with COPILOT_HA_E2E=1, tests/ha/run.py with the Go and .NET chat API samples.
# Installs valgrind, libjansson-dev and Go (Debian) when they are missing, and redis-server
# (tests/install-services.sh). Uses COPILOT_CLI_PATH,
# FAKE_MODEL_BIN and COPILOT_CHAOS_PATH (tests/chaos) when set (the root test.sh exports them),
# and sets them up otherwise.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"

say() { echo "== bindings-c: $*"; }
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f /tmp/.copilot-c-apt-updated ]; then apt-get update -qq && touch /tmp/.copilot-c-apt-updated; fi
  apt-get install -y -qq "$@" >/dev/null
}

if [ -z "${COPILOT_CLI_PATH:-}" ]; then COPILOT_CLI_PATH="$(tests/install-cli.sh)"; fi
export COPILOT_CLI_PATH
if [ -z "${FAKE_MODEL_BIN:-}" ]; then
  cargo build -q -p fake-model
  FAKE_MODEL_BIN="$ROOT/target/debug/fake-model"
fi
export FAKE_MODEL_BIN
if [ -z "${COPILOT_CHAOS_PATH:-}" ]; then
  cargo build -q -p copilot-chaos
  COPILOT_CHAOS_PATH="$ROOT/target/debug/copilot-chaos"
fi
export COPILOT_CHAOS_PATH

say "building libcopilot (release)"
cargo build --release -p copilot-c
LIB="$ROOT/target/release"
ls -l "$LIB/libcopilot.so" "$LIB/libcopilot.a" | sed 's/^/   /'

say "checking that the regenerated header matches the committed one"
HEADER=bindings-c/include/copilot.h
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$ROOT" ls-files --error-unmatch "$HEADER" >/dev/null 2>&1 || { echo "$HEADER is not committed" >&2; exit 1; }
  if ! git -C "$ROOT" diff --exit-code HEAD -- "$HEADER"; then
    echo "$HEADER differs from the committed header: commit the regenerated one" >&2
    exit 1
  fi
else
  echo "   (not a git checkout: header drift cannot be checked)"
fi

say "C tests against the real CLI"
OUT="$ROOT/target/copilot-c-tests"
mkdir -p "$OUT"
gcc -std=gnu11 -Wall -Wextra -Werror -g -I bindings-c/include bindings-c/tests/test_copilot.c \
  -L "$LIB" -lcopilot -Wl,-rpath,"$LIB" -lpthread -o "$OUT/test_copilot"
timeout 600 "$OUT/test_copilot"
# The static library links too.
gcc -std=gnu11 -Wall -Werror -I bindings-c/include bindings-c/tests/test_copilot.c \
  "$LIB/libcopilot.a" -lpthread -ldl -lm -o "$OUT/test_copilot_static"
timeout 600 "$OUT/test_copilot_static" | tail -n 1 | sed 's/^/   static: /'

say "C conformance: every shared scenario (tests/scenarios)"
[ -f /usr/include/jansson.h ] || apt_install libjansson-dev
gcc -std=gnu11 -Wall -Wextra -Werror -g -I bindings-c/include bindings-c/tests/test_scenarios.c \
  -L "$LIB" -lcopilot -Wl,-rpath,"$LIB" -ljansson -lpthread -o "$OUT/test_scenarios"
timeout 600 "$OUT/test_scenarios" tests/scenarios

say "C tests of the official features: elicitation, commands, sessionFs, token provider, telemetry, mode empty"
gcc -std=gnu11 -Wall -Wextra -Werror -g -I bindings-c/include bindings-c/tests/test_features.c \
  -L "$LIB" -lcopilot -Wl,-rpath,"$LIB" -ljansson -lpthread -o "$OUT/test_features"
timeout 600 "$OUT/test_features"

say "C pool tests: three CLI servers sharing a state directory, redis-server"
tests/install-services.sh
gcc -std=gnu11 -Wall -Wextra -Werror -g -I bindings-c/include bindings-c/tests/test_pool.c \
  -L "$LIB" -lcopilot -Wl,-rpath,"$LIB" -lpthread -o "$OUT/test_pool"
timeout 600 "$OUT/test_pool"

say "C tests under valgrind (memcheck)"
command -v valgrind >/dev/null || apt_install valgrind
for prog in test_copilot test_scenarios test_features test_pool; do
  timeout 1200 valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --suppressions=bindings-c/tests/valgrind.supp \
    --error-exitcode=99 --num-callers=40 "$OUT/$prog" >"$OUT/$prog.valgrind.out" 2>"$OUT/$prog.valgrind.log" || {
    rc=$?; cat "$OUT/$prog.valgrind.out" "$OUT/$prog.valgrind.log" >&2; echo "valgrind run of $prog failed (rc $rc)" >&2; exit 1; }
  # The exit code carries every memcheck error and leak (--error-exitcode); what remains in the
  # log are notes such as "unhandled syscall 434" (pidfd_open, which tokio then does without).
  if grep -q '^==[0-9]*==' "$OUT/$prog.valgrind.log"; then
    cat "$OUT/$prog.valgrind.log" >&2; echo "valgrind reported errors in $prog" >&2; exit 1
  fi
  echo "   valgrind, $prog: $(tail -n 1 "$OUT/$prog.valgrind.out"); no errors, no leaks"
done

say "Go SDK"
if ! command -v go >/dev/null; then
  if [ ! -f /etc/apt/sources.list.d/backports.sources ]; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      >/etc/apt/sources.list.d/backports.sources
    rm -f /tmp/.copilot-c-apt-updated
  fi
  apt_install -t bookworm-backports golang-go
fi
export GOTOOLCHAIN=local CGO_ENABLED=1
go version
# The typed protocol (protocol_*.go) is generated: gofmt-clean, and every event and typed result
# of the suite is checked against it (COPILOT_STRICT_TYPES=1: the suite prints the
# "strict types:" line and fails on a value the types cannot read).
(cd bindings-c/go && test -z "$(gofmt -l .)" && go vet ./... \
  && COPILOT_STRICT_TYPES=1 COPILOT_STRICT_TYPES_REPORT="$ROOT/target/go-strict-types.txt" \
     timeout 900 go test -race -count=1 -timeout 600s ./... \
  && cat "$ROOT/target/go-strict-types.txt")
(cd examples/go && go vet ./... && timeout 600 go test -count=1 -timeout 300s ./...)

if [ -x bindings-c/dotnet/test.sh ]; then
  say ".NET SDK"
  bindings-c/dotnet/test.sh
fi

# Opt-in (about 75 s each): the HA end-to-end test (tests/ha/run.py: nginx, two API instances,
# two CLI servers, Redis, a SIGKILL mid-run) with the Go and the .NET chat API samples.
if [ "${COPILOT_HA_E2E:-0}" = 1 ]; then
  say "HA end-to-end: examples/go/pool-chat-api"
  (cd examples/go && go build -o "$ROOT/target/go-pool-chat-api" ./pool-chat-api)
  python3 tests/ha/run.py --api "$ROOT/target/go-pool-chat-api"
  if [ -f "$ROOT/target/dotnet/pool-chat-api.exe" ]; then
    say "HA end-to-end: examples/dotnet/PoolChatApi.cs"
    python3 tests/ha/run.py --api "env LD_LIBRARY_PATH=$LIB mono $ROOT/target/dotnet/pool-chat-api.exe"
  fi
fi
say "all passed"
