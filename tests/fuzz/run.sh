#!/usr/bin/env bash
# Coverage-guided fuzzing of copilot-core's framing and JSON-RPC layers with AFL++ on stable Rust.
#
#   tests/fuzz/run.sh EXECS [TARGET]      fuzz TARGET (framing, rpc or all; default all) for about EXECS
#                                   executions each, then print the figures
#   tests/fuzz/run.sh minimize TARGET     replace corpus/TARGET by afl-cmin's minimum of it plus the
#                                   queue of the last run (edge coverage, hit counts ignored)
#
# Installs AFL++ from Debian (apt-get) when afl-fuzz is missing. The harnesses are built with
# LLVM SanitizerCoverage through rustc (-C passes=sancov-module: edges plus compare tracing for
# CmpLog) and linked with AFL++'s afl-compiler-rt.o; they run in persistent mode with test cases
# in shared memory. Findings: out/TARGET/default/{crashes,hangs}. Replay one with
#   target/<host>/release/TARGET FILE...
# Not run by CI (it is long); `cargo test -p copilot-core --test fuzz_corpus` replays the corpus.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
targets_all=(framing rpc)

usage() {
    echo "usage: $0 EXECS [framing|rpc|all]   or   $0 minimize framing|rpc" >&2
    exit 2
}

ensure_afl() {
    if ! command -v afl-fuzz >/dev/null; then
        echo "== installing AFL++ (Debian package afl++)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
    fi
    rt="${AFL_PATH:-/usr/lib/afl}/afl-compiler-rt.o"
    [ -f "$rt" ] || { echo "AFL++ runtime not found at $rt (set AFL_PATH)" >&2; exit 1; }
}

host="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="$here/target/$host/release"

build() {
    echo "== building the instrumented harnesses"
    # --target keeps the flags off build scripts and proc macros (they run inside cargo/rustc).
    RUSTFLAGS="-C passes=sancov-module \
        -C llvm-args=-sanitizer-coverage-level=3 \
        -C llvm-args=-sanitizer-coverage-trace-pc-guard \
        -C llvm-args=-sanitizer-coverage-prune-blocks=0 \
        -C llvm-args=-sanitizer-coverage-trace-compares \
        -C link-arg=$rt --cfg fuzzing" \
        cargo build --release --target "$host" --bins
}

export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_TRY_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1

# A persistent-mode child stops itself between test cases; when afl-fuzz exits, the stopped
# children of its forkservers can be left behind (orphaned, stopped). End exactly those.
reap_orphans() {
    local exe="$1" pid
    for pid in $(ps -eo pid=,ppid=,stat= | awk '$2 == 1 && $3 ~ /^T/ {print $1}'); do
        if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

field() { sed -n "s/^$1 *: //p" "$2"; }

fuzz() {
    local t="$1" execs="$2" out="$here/out/$1"
    local corpus="$here/corpus/$t"
    [ -n "$(ls -A "$corpus" 2>/dev/null)" ] || { echo "empty corpus $corpus" >&2; exit 1; }
    rm -rf "$out"
    mkdir -p "$out"
    echo "== fuzzing $t for $execs executions (log: $out/afl.log)"
    # -c 0: the same binary serves CmpLog (it traces compares); -G: inputs up to 64 KiB.
    # framing: CmpLog on small inputs only (-l 1); on its long headers (8 KiB and more, where
    # each run costs milliseconds) the colorization stage alone stalls the campaign for hours.
    local cmplog_level=2
    [ "$t" = framing ] && cmplog_level=1
    if ! afl-fuzz -i "$corpus" -o "$out" -x "$here/dict/$t.dict" -c 0 -l "$cmplog_level" -G 65536 -t 2000 \
        -E "$execs" \
        -- "$bin_dir/$t" >"$out/afl.log" 2>&1; then
        reap_orphans "$bin_dir/$t"
        tail -30 "$out/afl.log" >&2
        exit 1
    fi
    reap_orphans "$bin_dir/$t"
    local s="$out/default/fuzzer_stats"
    local done_ start last secs
    done_="$(field execs_done "$s")"
    start="$(field start_time "$s")"
    last="$(field last_update "$s")"
    secs=$((last - start > 0 ? last - start : 1))
    echo "== $t: execs=$done_ seconds=$secs execs/s=$((done_ / secs))" \
        "edges=$(field edges_found "$s")/$(field total_edges "$s") bitmap=$(field bitmap_cvg "$s")" \
        "corpus=$(field corpus_count "$s") stability=$(field stability "$s")" \
        "crashes=$(field saved_crashes "$s") hangs=$(field saved_hangs "$s")"
    local f
    for f in "$out"/default/crashes/id:* "$out"/default/hangs/id:*; do
        [ -e "$f" ] && echo "   finding: $f"
    done
    return 0
}

minimize() {
    local t="$1" queue="$here/out/$1/default/queue" new="$here/out/$1/cmin"
    [ -d "$queue" ] || { echo "no queue at $queue: run $0 EXECS $t first" >&2; exit 1; }
    local all="$here/out/$t/all"
    rm -rf "$all" "$new"
    mkdir -p "$all"
    cp "$here/corpus/$t"/* "$all"/
    cp "$queue"/id:* "$all"/
    local ok=0
    afl-cmin -e -i "$all" -o "$new" -- "$bin_dir/$t" >"$here/out/$t/cmin.log" 2>&1 || ok=$?
    reap_orphans "$bin_dir/$t"
    [ "$ok" = 0 ] || { tail -20 "$here/out/$t/cmin.log" >&2; exit 1; }
    # Files already in the corpus keep their names; new ones are named by a content hash.
    declare -A known=()
    local f name sum
    for f in "$here/corpus/$t"/*; do
        known["$(sha1sum <"$f" | cut -c1-40)"]="$(basename "$f")"
    done
    rm -rf "$here/corpus/$t"
    mkdir -p "$here/corpus/$t"
    for f in "$new"/*; do
        sum="$(sha1sum <"$f" | cut -c1-40)"
        name="${known[$sum]:-q-${sum:0:12}}"
        cp "$f" "$here/corpus/$t/$name"
    done
    echo "== corpus/$t: $(ls "$here/corpus/$t" | wc -l) files, $(du -sb "$here/corpus/$t" | cut -f1) bytes"
}

[ $# -ge 1 ] || usage
ensure_afl
build
if [ "$1" = minimize ]; then
    [ $# -eq 2 ] || usage
    minimize "$2"
    exit 0
fi
execs="$1"
[[ "$execs" =~ ^[0-9]+$ ]] || usage
case "${2:-all}" in
    all) targets=("${targets_all[@]}") ;;
    framing | rpc) targets=("$2") ;;
    *) usage ;;
esac
for t in "${targets[@]}"; do
    fuzz "$t" "$execs"
done
