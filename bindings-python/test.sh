#!/usr/bin/env bash
# Python SDK: builds the abi3 wheel, installs it with plain pip into a fresh virtualenv, checks
# the committed stub, and runs the pytest suite against the real CLI and the fake model.
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$(cd .. && pwd)"
export COPILOT_CLI_PATH="${COPILOT_CLI_PATH:-$("$ROOT/tests/install-cli.sh")}"
export FAKE_MODEL_BIN="${FAKE_MODEL_BIN:-$ROOT/target/debug/fake-model}"
[ -x "$FAKE_MODEL_BIN" ] || (cd "$ROOT" && cargo build -q -p fake-model)
export COPILOT_CHAOS_PATH="${COPILOT_CHAOS_PATH:-$ROOT/target/debug/copilot-chaos}"
[ -x "$COPILOT_CHAOS_PATH" ] || (cd "$ROOT" && cargo build -q -p copilot-chaos)
# redis-server (the pool's lease tests, the HA run) and nginx (the HA run), when missing.
"$ROOT/tests/install-services.sh"

BUILD_VENV="$ROOT/target/py-build-venv"
if [ ! -x "$BUILD_VENV/bin/maturin" ]; then
  python3 -m venv "$BUILD_VENV"
  "$BUILD_VENV/bin/pip" install -q 'maturin>=1.16,<2'
fi
rm -rf "$ROOT/target/py-wheels"
"$BUILD_VENV/bin/maturin" build --release -q -o "$ROOT/target/py-wheels"
WHEEL="$(ls "$ROOT"/target/py-wheels/*.whl)"

TEST_VENV="$ROOT/target/py-test-venv"
rm -rf "$TEST_VENV"
python3 -m venv "$TEST_VENV"
"$TEST_VENV/bin/pip" install -q "$WHEEL"
"$TEST_VENV/bin/pip" install -q pytest pytest-asyncio pydantic 'mypy==1.15.0' \
  'opentelemetry-api==1.45.2' 'opentelemetry-sdk==1.45.2'  # the telemetry test's host spans
PY="$TEST_VENV/bin/python"

echo "-- generated stub"
"$PY" gen_stubs.py --check
echo "-- wheel $(basename "$WHEEL"): $(du -k "$WHEEL" | cut -f1) KiB"
"$PY" - <<'PYEOF'
import subprocess, sys, statistics
def t(code):
    runs = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True).stderr
        runs.append(next(int(l.split("|")[1]) for l in out.splitlines()
                         if l.startswith("import time:") and l.split("|")[2].strip() == "copilot"))
    return statistics.median(runs)
print(f"-- import copilot: {t('import copilot') / 1000:.1f} ms (cumulative, median of 5)")
PYEOF
echo "-- mypy --strict over the typed sample (tests/typed_sample.py)"
MYPY_CACHE="$(mktemp -d)"
(cd tests && "$PY" -m mypy --strict --cache-dir "$MYPY_CACHE" typed_sample.py)
rm -rf "$MYPY_CACHE"
echo "-- pytest (strict types: every event and typed result is checked against copilot.protocol)"
cd tests/.. && COPILOT_STRICT_TYPES=1 "$PY" -m pytest -q -p no:cacheprovider tests

echo "-- HA end-to-end: tests/ha/run.py with examples/python/pool_chat_api.py"
cd "$ROOT" && "$PY" tests/ha/run.py --api "$PY examples/python/pool_chat_api.py"
