#!/usr/bin/env bash
# The completion-event layer (ptk-loop) benchmark: framed echo on a group of 1 or 2 worker
# loops, with the load generator pinned apart, and instructions per echoed message.
#
#   benches/loop.sh                          # ~3 minutes on 2 cores
#   ROUNDS=1 CONNS=100 CG_CONNS= benches/loop.sh   # a quick look, no callgrind
#
# Phase 1 (wall clock, interleaved): for each of CONNS, ROUNDS rounds of each CONFIG, a
# configuration being SERVER@CORES: `loop1`/`loop2` are `echo_loop --workers 1/2` (one
# SO_REUSEPORT listener per worker), `loop2h` 2 workers with one listener handing
# connections over (`--spread handoff`), `ptk` is
# `echo_ptk --impl callbacks` (the same echo as handlers on one bare EventLoop, for the cost of
# the layer), pinned with `taskset -c CORES`; `loadgen` (one thread) runs on LOAD_CORES.
# Phase 2 (callgrind): `loop1`, `ptk` and the raw mio floor, each run for CG_LONG and CG_SHORT
# messages at each of CG_CONNS; (Ir_long - Ir_short) / (CG_LONG - CG_SHORT) is the user-space
# instructions per echoed message (the C API's echo is compared against `loop1`'s figure).
#
# Settings (environment):
#   ROUNDS=3  CONNS="100 1000"  MESSAGES=200000  PAYLOAD=64
#   CONFIGS="loop1@0 loop2@0 loop2@0-1 loop2h@0-1 ptk@0"  LOAD_CORES=1
#   CG_CONNS="1 100"  CG_LONG=100000  CG_SHORT=20000  CG_IMPLS="loop1 ptk mio"
#   OUT=benches/results/loop.md
#
# Exit status: non-zero if a run failed or a ptk-loop server allocated after start-up.
# Performance is reported, never enforced.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
CONNS=${CONNS-"100 1000"}
MESSAGES=${MESSAGES:-200000}
PAYLOAD=${PAYLOAD:-64}
CONFIGS=${CONFIGS:-"loop1@0 loop2@0 loop2@0-1 loop2h@0-1 ptk@0"}
LOAD_CORES=${LOAD_CORES:-1}
CG_CONNS=${CG_CONNS-"1 100"}
CG_LONG=${CG_LONG:-100000}
CG_SHORT=${CG_SHORT:-20000}
CG_IMPLS=${CG_IMPLS:-"loop1 ptk mio"}

SERVER=echo_
UNIT=frame
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup ptk-loop-bench
OUT=${OUT:-benches/results/loop.md}
# Cores the server is pinned to in phase 1 (none under callgrind: valgrind would trace
# `taskset`, not the server).
PIN=""

server_command() {
    local bin
    case $1 in
        loop1) bin=("$BIN/echo_loop" --workers 1 --payload "$PAYLOAD") ;;
        loop2) bin=("$BIN/echo_loop" --workers 2 --payload "$PAYLOAD") ;;
        loop2h) bin=("$BIN/echo_loop" --workers 2 --spread handoff --payload "$PAYLOAD") ;;
        ptk) bin=("$BIN/echo_ptk" --impl callbacks) ;;
        *) bin=("$BIN/echo_$1") ;;
    esac
    CMD=()
    [ -z "$PIN" ] || CMD=(taskset -c "$PIN")
    CMD+=("${bin[@]}" --bind 127.0.0.1:0 --max-connections $(($2 + 16)) --messages "$3")
}

# load TAG CONNS COUNT: `loadgen` on $LOAD_CORES against $ADDR; prints its result line.
load() {
    local pin=()
    [ -z "$PIN" ] || pin=(taskset -c "$LOAD_CORES")
    timeout 900 "${pin[@]}" "$BIN/loadgen" --addr "$ADDR" --connections "$2" --messages "$3" \
        --payload "$PAYLOAD" --timeout-secs 880 2>"$WORK/$1.lg.err" | tee "$WORK/$1.lg.out" |
        grep '^result '
}

log "building (release)"
cargo build --release -p ptk-bench --bin echo_loop --bin echo_ptk --bin echo_mio --bin loadgen
need_fds $(( $(tr ' ' '\n' <<<"$CONNS" | sort -g | tail -n 1) + 64 ))
LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)

: >"$WORK/runs.tsv"
for conns in $CONNS; do
    for round in $(seq "$ROUNDS"); do
        for config in $CONFIGS; do
            impl=${config%@*} PIN=${config#*@} tag="run-$impl-${PIN}-$conns-$round"
            start_server "$impl" "$conns" $((MESSAGES + conns)) "$tag" || continue
            load_or_fail "$tag" "$conns" "$MESSAGES" || continue
            finish_server "$tag"
            allocs=$(field allocs "$REPORT")
            case $impl in loop*) [ "$allocs" = 0 ] || fail "$tag: $allocs allocations after start-up" ;; esac
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "$config" "$round" \
                "$(field rtps "$RESULT")" "$(field p50_us "$RESULT")" "$(field p99_us "$RESULT")" \
                "$(field cpu_us "$REPORT")" >>"$WORK/runs.tsv"
            log "$tag: $(field rtps "$RESULT") rt/s, p50 $(field p50_us "$RESULT") us," \
                "server CPU $(field cpu_us "$REPORT") us, allocs $allocs"
        done
    done
done

PIN=""
: >"$WORK/cg.tsv"
if ! command -v valgrind >/dev/null; then
    log "valgrind missing: skipping callgrind"
    CG_CONNS=""
fi
for conns in $CG_CONNS; do
    for impl in $CG_IMPLS; do
        callgrind_once "$impl" "$conns" "$CG_LONG" || continue
        long=$IR
        callgrind_once "$impl" "$conns" "$CG_SHORT" || continue
        per=$(awk -v l="$long" -v s="$IR" -v a="$CG_LONG" -v b="$CG_SHORT" \
            'BEGIN { printf "%.1f", (l - s) / (a - b) }')
        printf '%s\t%s\t%s\n' "$conns" "$impl" "$per" >>"$WORK/cg.tsv"
        log "callgrind: $impl, $conns connections: $per instructions/message"
    done
done

set +e +o pipefail
{
    echo "# ptk-loop benchmark: completion events on 1 and 2 worker loops"
    echo
    provenance benches/loop.sh
    echo "Settings: ROUNDS=$ROUNDS MESSAGES=$MESSAGES PAYLOAD=$PAYLOAD LOAD_CORES=$LOAD_CORES" \
        "CG_LONG=$CG_LONG CG_SHORT=$CG_SHORT."
    echo
    echo "## Round trips per second (median of $ROUNDS interleaved rounds)"
    echo
    echo "SERVER@CORES: the server pinned with \`taskset -c CORES\`; \`loadgen\` (one thread," \
        "one frame in flight per connection) pinned to core $LOAD_CORES. \`loop1\`/\`loop2\`:" \
        "\`echo_loop --workers 1/2\` (ptk-loop, transferred read buffers written back, one" \
        "\`SO_REUSEPORT\` listener per worker); \`loop2h\`: 2 workers, one listener handing" \
        "connections to them in turn (\`--spread handoff\`);" \
        "\`ptk\`: \`echo_ptk --impl callbacks\` (handlers on one bare \`EventLoop\`)." \
        "*CPU us/msg*: the server's user+system time per message over the whole run."
    echo
    echo "| connections | server@cores | rt/s | p50 us | p99 us | CPU us/msg |"
    echo "|---:|---|---:|---:|---:|---:|"
    for conns in $CONNS; do
        for config in $CONFIGS; do
            rows=$(awk -F '\t' -v c="$conns" -v i="$config" '$1 == c && $2 == i' "$WORK/runs.tsv")
            [ -n "$rows" ] || { echo "| $conns | $config | failed | | | |"; continue; }
            col() { cut -f "$1" <<<"$rows" | median; }
            cpu=$(awk -F '\t' -v m="$MESSAGES" -v c="$conns" '{ print $7 / (m + c) }' <<<"$rows" | median)
            printf '| %s | %s | %.0f | %.1f | %.1f | %.2f |\n' "$conns" "$config" \
                "$(col 4)" "$(col 5)" "$(col 6)" "$cpu"
        done
    done
    echo
    echo "## User-space instructions per echoed message (callgrind)"
    echo
    echo "| connections | server | instructions/msg |"
    echo "|---:|---|---:|"
    awk -F '\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$WORK/cg.tsv"
} | tee "$OUT"
log "raw files in $WORK"
exit "$STATUS"
