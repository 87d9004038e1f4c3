#!/usr/bin/env bash
# The main job: starts the Copilot CLI, opens a session and prints the answer.
# Offline by default (a scripted fake model); set OPENAI_API_KEY or COPILOT_GITHUB_TOKEN for a real one.
set -euo pipefail
cd "$(dirname "$0")"
COPILOT_CLI_PATH="${COPILOT_CLI_PATH:-$(tests/install-cli.sh)}"
export COPILOT_CLI_PATH
exec cargo run --quiet -p copilot-examples -- "$@"
