#!/usr/bin/env bash
# The C API's cost: the framed echo server written in C on ptk_loop.h
# (ptk-capi/examples/echo_server.c, built with cc -O2 against libptk_capi.a) against its twin
# in Rust on the completion layer the C API wraps (`echo_completion`, same logic: the read
# buffer handed over and written back, frame headers followed to count frames), and the
# protothread echo (`echo_ptk`, on the readiness loop) for reference. `loop` is ptk-loop's own
# byte echo (`echo_loop`: no frame parsing, so a little less work per message than the
# other two).
#
#   benches/capi.sh
#   CG_CONNS="1" CG_LONG=40000 CG_SHORT=10000 benches/capi.sh   # a quick look
#
# Counts, as benches/run.sh's phase 2: each server runs twice under callgrind, for CG_LONG and
# CG_SHORT round trips of `loadgen` (64-byte frames); the difference of the two instruction
# totals over the difference of round trips is the user-space instructions per message,
# start-up and connection set-up cancelled. Every server runs one worker loop
# (`--threads 1`): callgrind serialises threads anyway.
#
# Settings (environment):
#   CG_CONNS="1 100"          connection counts
#   CG_LONG=200000 CG_SHORT=20000   round trips of the two runs
#   IMPLS="c rust loop ptk"   servers: c (echo_capi), rust (echo_completion), loop
#                             (echo_loop), ptk (echo_ptk)
#   PAYLOAD=64
#   OUT=benches/results/capi.md
#
# Target (reported, never enforced): c within 1.2x of rust.
# Exit status: non-zero if a server could not be built or a run came back without an
# instruction total.
set -euo pipefail

CG_CONNS=${CG_CONNS-"1 100"}
CG_LONG=${CG_LONG:-200000}
CG_SHORT=${CG_SHORT:-20000}
IMPLS=${IMPLS:-"c rust loop ptk"}
PAYLOAD=${PAYLOAD:-64}

SERVER=echo_
UNIT=frame
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup ptk-capi-bench
OUT=${OUT:-benches/results/capi.md}

# server_command IMPL CONNS COUNT: every server with one worker loop, stopping after COUNT.
server_command() {
    case $1 in
    c) CMD=("$BIN/echo_capi" --bind 127.0.0.1:0 --threads 1 --messages "$3" --quiet) ;;
    rust) CMD=("$BIN/echo_completion" --bind 127.0.0.1:0 --threads 1 --messages "$3") ;;
    loop) CMD=("$BIN/echo_loop" --workers 1 --bind 127.0.0.1:0 --max-connections $(($2 + 16)) \
        --messages "$3" --payload "$PAYLOAD") ;;
    *) default_server_command "$@" ;;
    esac
}

load() {
    timeout 900 "$BIN/loadgen" --addr "$ADDR" --connections "$2" --messages "$3" \
        --payload "$PAYLOAD" --timeout-secs 880 2>"$WORK/$1.lg.err" | tee "$WORK/$1.lg.out" |
        grep '^result '
}

command -v valgrind >/dev/null || { log "FAIL: valgrind is needed (apt-get install valgrind)"; exit 1; }
log "building (release): ptk-bench, ptk-capi"
cargo build --release -p ptk-bench -p ptk-capi
log "building echo_capi (cc -O2 against libptk_capi.a)"
cc -O2 -g -std=c11 -Wall -Wextra -Werror -pthread -I ptk-capi/include \
    -o "$BIN/echo_capi" ptk-capi/examples/echo_server.c "$BIN/libptk_capi.a" -ldl -lm -lrt
for impl in $IMPLS; do
    server_command "$impl" 1 1
    if [ ! -x "${CMD[0]}" ]; then
        fail "$impl: ${CMD[0]} is not built"
        IMPLS=$(tr ' ' '\n' <<<"$IMPLS" | grep -vx "$impl" | tr '\n' ' ')
    fi
done

LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
: >"$WORK/cg.tsv"
for conns in $CG_CONNS; do
    for impl in $IMPLS; do
        log "callgrind: $impl, $conns connections, $CG_LONG and $CG_SHORT ${UNIT}s"
        callgrind_once "$impl" "$conns" "$CG_LONG" || continue
        long=$IR
        callgrind_once "$impl" "$conns" "$CG_SHORT" || continue
        short=$IR
        per=$(awk -v l="$long" -v s="$short" -v a="$CG_LONG" -v b="$CG_SHORT" \
            'BEGIN { printf "%.1f", (l - s) / (a - b) }')
        printf '%s\t%s\t%s\t%s\t%s\n' "$conns" "$impl" "$long" "$short" "$per" >>"$WORK/cg.tsv"
        log "callgrind: $impl, $conns connections: $per instructions/$UNIT"
    done
done

per() { awk -F '\t' -v c="$1" -v i="$2" '$1 == c && $2 == i { print $5 }' "$WORK/cg.tsv"; }
{
    echo "# The C API against the Rust completion layer: user-space instructions per message"
    echo
    provenance benches/capi.sh
    echo "Settings: CG_LONG=$CG_LONG CG_SHORT=$CG_SHORT PAYLOAD=$PAYLOAD, one worker loop."
    echo
    echo "| connections | server | Ir (long) | Ir (short) | Ir/msg |"
    echo "|---:|---|---:|---:|---:|"
    awk -F '\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$WORK/cg.tsv"
    echo
    echo "Target: c <= 1.2x rust."
    for conns in $CG_CONNS; do
        c=$(per "$conns" c) r=$(per "$conns" rust)
        if [ -n "$c" ] && [ -n "$r" ]; then
            awk -v c="$c" -v r="$r" -v n="$conns" 'BEGIN { printf "- %s connections: c/rust = %.2f (%s)\n", n, c / r, c / r <= 1.2 ? "met" : "NOT met" }'
        else
            echo "- $conns connections: no ratio (a run is missing)"
        fi
    done
} >"$WORK/report.md"
[ -s "$WORK/cg.tsv" ] || fail "no run produced an instruction total"
publish
