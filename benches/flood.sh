#!/usr/bin/env bash
# Delivery benchmark (not a test). A scripted peer (benches/src/bin/flood_peer.rs, no CLI)
# answers one prompt by flooding N assistant.message_delta events into one session; a client in
# each language counts them in a host callback (benches/<language>/flood.*) and checks that none
# is lost or reordered. Prints events/s per language (median of RUNS) and the ratio to Rust's,
# all from the same run.
#   benches/flood.sh [N=100000] [RUNS=3]
# Each language runs from what its test script built: the wheel in target/py-test-venv
# (bindings-python/test.sh), the addon in bindings-node (bindings-node/test.sh), libcopilot in
# target/release (cargo build --release -p copilot-c), the .NET assembly in target/dotnet
# (bindings-c/dotnet/test.sh). A language whose build is missing is reported as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N="${1:-100000}"
RUNS="${2:-3}"
cargo build --release --quiet -p copilot-bench --bins
cargo build --release --quiet -p copilot-c
OUT="$ROOT/target/flood"
mkdir -p "$OUT"

coproc PEER { exec target/release/flood_peer --events "$N"; }
read -r line <&"${PEER[0]}"
PORT="${line##* }"

declare -A CMD
CMD[rust]="target/release/flood_rust $PORT $N"
if [ -x target/py-test-venv/bin/python ]; then
  CMD[python]="target/py-test-venv/bin/python benches/python/flood.py $PORT $N"
fi
if ls bindings-node/*.node >/dev/null 2>&1; then
  CMD[node]="node benches/node/flood.mjs $PORT $N"
fi
if command -v go >/dev/null; then
  (cd benches/go/flood && GOTOOLCHAIN=local CGO_ENABLED=1 go build -o "$OUT/flood-go" .) && CMD[go]="$OUT/flood-go $PORT $N"
fi
if command -v mcs >/dev/null && [ -f target/dotnet/GitHub.Copilot.SDK.dll ]; then
  cp target/dotnet/GitHub.Copilot.SDK.dll "$OUT/"
  mcs -langversion:7.2 -nologo -r:"$OUT/GitHub.Copilot.SDK.dll" -out:"$OUT/flood-dotnet.exe" benches/dotnet/Flood.cs
  CMD[dotnet]="env LD_LIBRARY_PATH=$ROOT/target/release mono $OUT/flood-dotnet.exe $PORT $N"
fi

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A RATE OK EXITS
for lang in rust python node go dotnet; do
  if [ -z "${CMD[$lang]:-}" ]; then OK[$lang]="skipped (not built)"; continue; fi
  rates=()
  OK[$lang]="yes"
  for _ in $(seq "$RUNS"); do
    rc=0
    ${CMD[$lang]} > "$OUT/$lang.out" 2> "$OUT/$lang.err" || rc=$?
    line=$(tail -n 1 "$OUT/$lang.out" | tr -d " ")
    if [ "$rc" != 0 ]; then EXITS[$lang]="${EXITS[$lang]:-} exit $rc"; fi
    rates+=("$(sed -E 's/.*"per_sec":([0-9.]+).*/\1/' <<<"$line")")
    if ! grep -q '"in_order":true' <<<"$line" || ! grep -Eq "\"events\":$N[,}]" <<<"$line"; then OK[$lang]="NO: $line"; fi
  done
  RATE[$lang]=$(printf '%s\n' "${rates[@]}" | median)
done
printf '%-8s %12s %10s  %s\n' language "events/s" "x Rust" "all $N delivered in order"
for lang in rust python node go dotnet; do
  r="${RATE[$lang]:-}"
  if [ -z "$r" ]; then printf '%-8s %12s %10s  %s\n' "$lang" - - "${OK[$lang]}"; continue; fi
  printf '%-8s %12.0f %10.2f  %s%s\n' "$lang" "$r" "$(awk -v a="$r" -v b="${RATE[rust]}" 'BEGIN{print a/b}')" "${OK[$lang]}" \
    "${EXITS[$lang]:+ (process ended badly:${EXITS[$lang]})}"
done
