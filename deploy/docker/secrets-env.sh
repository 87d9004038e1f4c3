#!/bin/sh
# Container entrypoint: exports each secret file found in $SECRETS_DIR (default
# /run/secrets, where Compose mounts its secrets) as an environment variable
# named after the file in upper case (copilot_github_token becomes
# COPILOT_GITHUB_TOKEN; a trailing newline is dropped), then runs the command.
# Without that directory it only runs the command (Kubernetes passes the tokens
# as plain environment variables from a Secret instead).
set -eu
dir="${SECRETS_DIR:-/run/secrets}"
if [ -d "$dir" ]; then
  for f in "$dir"/*; do
    [ -f "$f" ] || continue
    name="$(basename "$f" | tr 'a-z.-' 'A-Z__')"
    case "$name" in
      '' | [0-9]* | *[!A-Z0-9_]*) echo "secrets-env: skipping $f (not a variable name)" >&2; continue ;;
    esac
    value="$(cat "$f")"
    export "$name=$value"
  done
fi
exec "$@"
