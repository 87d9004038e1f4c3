#!/usr/bin/env bash
# Lines of each language's native layer (hand-written, generated files and tests excluded), at a
# base revision and in the working tree:  benches/loc.sh [BASE_REV]   (default: d52f645, the
# last commit before the host bridge moved into the core).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="${1:-d52f645}"
declare -A GLOBS=(
  [core]='core/src/*.rs core/src/*/*.rs'
  [python]='bindings-python/src/*.rs bindings-python/python/copilot/*.py'
  [node]='bindings-node/src/*.rs bindings-node/index.js bindings-node/index.mjs'
  [c]='bindings-c/src/*.rs'
  [go]='bindings-c/go/*.go'
  [dotnet]='bindings-c/dotnet/src/*.cs'
)
GENERATED='error_codes\.rs$|error_codes\.go$|ErrorCodes\.g\.cs$|_error_codes\.py$|_test\.go$'
count() { # $1 = rev or "" for the working tree, $2 = globs
  local total=0 f n files
  if [ -z "$1" ]; then
    files=$(for g in $2; do ls $g 2>/dev/null; done | grep -Ev "$GENERATED" || true)
    for f in $files; do n=$(wc -l < "$f"); total=$((total + n)); done
  else
    files=$(set -f; git ls-tree -r --name-only "$1" | while read -r f; do for g in $2; do
      case "$f" in $g) echo "$f";; esac; done; done | sort -u | grep -Ev "$GENERATED" || true)
    for f in $files; do n=$(git show "$1:$f" | wc -l); total=$((total + n)); done
  fi
  echo "$total"
}
printf '%-8s %8s %8s %8s\n' layer "$BASE" now ratio
for k in core python node c go dotnet; do
  b=$(count "$BASE" "${GLOBS[$k]}"); a=$(count "" "${GLOBS[$k]}")
  printf '%-8s %8d %8d %8s\n' "$k" "$b" "$a" "$(awk -v a="$a" -v b="$b" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-" }')"
done
