#!/usr/bin/env bash
# The Modbus/TCP benchmark: ptk-modbus's protothread server against a tokio-modbus server.
#
#   benches/modbus.sh                    # everything, ~3-5 minutes
#   ROUNDS=1 CONNS=1 CG_CONNS= benches/modbus.sh   # a quick look, no callgrind
#
# Same workload for both: `modbus_load` keeps one request in flight per connection — read 10
# holding registers at a rotating address, every 4th request a write single register — and
# checks every response. Phase 1 (wall clock): for each connection count the two servers run
# interleaved (ptk, tokio, ptk, tokio, ...). Phase 2 (counts): each server runs twice under
# callgrind with a long and a short request count; (Ir_long - Ir_short) / (M_long - M_short)
# is the user-space instructions per request, start-up and connection set-up cancelled.
# Results go to stdout and to $OUT. See benches/README.md.
#
# Settings (environment):
#   ROUNDS=3                  interleaved rounds per connection count
#   CONNS="1 100"             connection counts of phase 1
#   MESSAGES=200000           timed requests per phase-1 run (plus one warm-up per connection)
#   CG_CONNS="1 10 100"       connection counts of phase 2 (empty: skip it)
#   CG_LONG=40000 CG_SHORT=8000   request counts of the two callgrind runs
#   CG_TOP_CONNS=10           connection count whose top functions are listed
#   IMPLS="ptk tokio"         servers, in interleaving order
#   OUT=benches/results/modbus.md
#
# Exit status: non-zero if any run failed or if ptk allocated on the heap after start-up.
# Performance is reported, never enforced.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
CONNS=${CONNS-"1 100"}
MESSAGES=${MESSAGES:-200000}
CG_CONNS=${CG_CONNS-"1 10 100"}
CG_LONG=${CG_LONG:-40000}
CG_SHORT=${CG_SHORT:-8000}
CG_TOP_CONNS=${CG_TOP_CONNS:-10}
IMPLS=${IMPLS:-"ptk tokio"}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-benches/results/modbus.md}
BIN=$ROOT/target/release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ptk-modbus-bench.XXXXXX")
SERVER_PID=""
STATUS=0

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
fail() {
    log "FAIL: $*"
    STATUS=1
}

# field NAME LINE: the value of `NAME=value` in a report or result line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# median: the median of the numbers on stdin ("-" if none).
median() {
    sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) print "-";
        else if (NR % 2) print a[(NR + 1) / 2];
        else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# start_server IMPL CONNS REQUESTS TAG [WRAPPER...]: starts a server in the background, sets
# SERVER_PID and ADDR. Its stdout and stderr go to $WORK/TAG.out and .err.
start_server() {
    local impl=$1 conns=$2 requests=$3 tag=$4
    shift 4
    : >"$WORK/$tag.out"
    timeout 900 "$@" "$BIN/modbus_$impl" --bind 127.0.0.1:0 --max-connections $((conns + 16)) \
        --messages "$requests" >"$WORK/$tag.out" 2>"$WORK/$tag.err" &
    SERVER_PID=$!
    ADDR=""
    for _ in $(seq 200); do
        ADDR=$(head -n 1 "$WORK/$tag.out")
        [ -n "$ADDR" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "$tag: the server printed no address"
    cleanup
    return 1
}

# finish_server TAG: waits (bounded) for the server to exit after its last request; sets
# REPORT to its report line.
finish_server() {
    local tag=$1 rc=0
    for _ in $(seq 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        fail "$tag: the server did not exit after its last request"
        kill "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=""
    [ "$rc" -eq 0 ] || fail "$tag: the server exited with status $rc"
    REPORT=$(grep -m 1 '^report ' "$WORK/$tag.err" || true)
}

# load TAG CONNS REQUESTS: runs the load generator against $ADDR; prints its result line.
load() {
    timeout 600 "$BIN/modbus_load" --addr "$ADDR" --connections "$2" --messages "$3" \
        --timeout-secs 580 2>"$WORK/$1.lg.err" | tee "$WORK/$1.lg.out" | grep '^result '
}

# run_once IMPL CONNS ROUND: one phase-1 run; appends a line to $WORK/runs.tsv.
run_once() {
    local impl=$1 conns=$2 round=$3 tag="run-$1-$2-$3" result report
    start_server "$impl" "$conns" $((MESSAGES + conns)) "$tag" || return 0
    if ! result=$(load "$tag" "$conns" "$MESSAGES"); then
        fail "$tag: modbus_load failed: $(tail -n 3 "$WORK/$tag.lg.err")"
        cleanup
        SERVER_PID=""
        return 0
    fi
    finish_server "$tag"
    report=$REPORT
    if [ -z "$report" ]; then
        fail "$tag: no report from the server: $(tail -n 3 "$WORK/$tag.err")"
        return 0
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "$impl" "$round" \
        "$(field rtps "$result")" "$(field p50_us "$result")" "$(field p99_us "$result")" \
        "$(field peak_rss_kb "$report")" "$(field allocs "$report")" \
        "$(field steady_allocs "$report")" "$(field steady_frames "$report")" \
        "$(field steady_cpu_us "$report")" "$(field frames "$report")" >>"$WORK/runs.tsv"
    log "$tag: $(field rtps "$result") req/s, p50 $(field p50_us "$result") us," \
        "p99 $(field p99_us "$result") us, allocs $(field allocs "$report")" \
        "(steady $(field steady_allocs "$report") for $(field steady_frames "$report") requests)"
}

# callgrind_once IMPL CONNS REQUESTS: one run under callgrind; sets IR to its instruction
# total.
callgrind_once() {
    local impl=$1 conns=$2 m=$3 tag="cg-$1-$2-$3"
    local cg="$WORK/$tag.callgrind"
    start_server "$impl" "$conns" $((m + conns)) "$tag" \
        valgrind --tool=callgrind --callgrind-out-file="$cg" || return 1
    if ! load "$tag" "$conns" "$m" >/dev/null; then
        fail "$tag: modbus_load failed: $(tail -n 3 "$WORK/$tag.lg.err")"
        cleanup
        SERVER_PID=""
        return 1
    fi
    finish_server "$tag"
    IR=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$cg")
    if [ -z "$IR" ]; then
        fail "$tag: no totals in $cg"
        return 1
    fi
}

# self_costs FILE: "Ir<TAB>function" per function (self cost, inlined code folded into the
# function it was inlined into).
self_costs() {
    callgrind_annotate --auto=no --inclusive=no --threshold=100 "$1" 2>/dev/null | awk '
        /^ *[0-9,]+ +\( *[0-9.]+%\) +/ && !/PROGRAM TOTALS/ {
            ir = $1; gsub(/,/, "", ir)
            line = $0
            sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", line)
            sub(/ \[[^]]*\]$/, "", line)
            fn = substr(line, index(line, ":") + 1)
            sum[fn] += ir
        }
        END { for (f in sum) printf "%d\t%s\n", sum[f], f }'
}

# top_functions LONG SHORT DMSG: the 10 functions with the most self instructions per request.
top_functions() {
    join -t $'\t' -1 2 -2 2 -a 1 -e 0 -o 0,1.1,2.1 \
        <(self_costs "$1" | sort -t $'\t' -k 2,2) <(self_costs "$2" | sort -t $'\t' -k 2,2) |
        awk -F '\t' -v d="$3" '{ printf "%.1f\t%s\n", ($2 - $3) / d, $1 }' |
        sort -t $'\t' -k 1,1 -g -r | head -n 10 |
        awk -F '\t' '{ f = $2; if (length(f) > 110) f = substr(f, 1, 107) "..."
            gsub(/\|/, "\\|", f); printf "| %s | `%s` |\n", $1, f }'
}

log "building (release)"
cargo build --release -p ptk-bench
command -v valgrind >/dev/null || { [ -z "$CG_CONNS" ] || { log "valgrind missing: skipping callgrind"; CG_CONNS=""; }; }
LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
: >"$WORK/runs.tsv"

# ----- phase 1: wall clock, interleaved -----
for conns in $CONNS; do
    for round in $(seq "$ROUNDS"); do
        for impl in $IMPLS; do
            run_once "$impl" "$conns" "$round"
        done
    done
done

# ----- phase 2: instructions under callgrind -----
: >"$WORK/cg.tsv"
for conns in $CG_CONNS; do
    for impl in $IMPLS; do
        log "callgrind: $impl, $conns connections, $CG_LONG and $CG_SHORT requests"
        callgrind_once "$impl" "$conns" "$CG_LONG" || continue
        long=$IR
        callgrind_once "$impl" "$conns" "$CG_SHORT" || continue
        short=$IR
        per=$(awk -v l="$long" -v s="$short" -v a="$CG_LONG" -v b="$CG_SHORT" \
            'BEGIN { printf "%.1f", (l - s) / (a - b) }')
        printf '%s\t%s\t%s\t%s\t%s\n' "$conns" "$impl" "$long" "$short" "$per" >>"$WORK/cg.tsv"
        log "callgrind: $impl, $conns connections: $per instructions/request"
    done
done

# ----- report -----
# Tables are best effort: a missing figure prints as "-" rather than stopping the script.
set +e +o pipefail
{
    echo "# Modbus/TCP benchmark: ptk-modbus vs tokio-modbus"
    echo
    echo "Generated by \`benches/modbus.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit" \
        "\`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')."
    echo "Machine: $(nproc) cores, $(uname -sr), $(rustc --version);" \
        "load average before the run: $LOAD_BEFORE."
    echo "Settings: ROUNDS=$ROUNDS MESSAGES=$MESSAGES CG_CONNS=\"$CG_CONNS\"" \
        "CG_LONG=$CG_LONG CG_SHORT=$CG_SHORT CG_TOP_CONNS=$CG_TOP_CONNS; tokio-modbus" \
        "$(sed -n '/^name = "tokio-modbus"/{n;s/version = "\(.*\)"/\1/p}' Cargo.lock)."
    echo
    echo "Workload (\`modbus_load\`): one request in flight per connection; read 10 holding" \
        "registers at a rotating address, every 4th request a write single register; every" \
        "response checked (transaction id, function code, byte count / echo). Servers:" \
        "\`modbus_ptk\` (ptk-modbus \`Server\` over a \`MemoryModel\`, no idle timeout) and" \
        "\`modbus_tokio\` (tokio-modbus \`server::tcp::Server\`, current-thread runtime)," \
        "10,000 entries per table."
    echo
    echo "## Wall clock (interleaved, median of $ROUNDS rounds)"
    echo
    echo "Each run: $MESSAGES timed requests after one warm-up request per connection." \
        "*req/s vs tokio* is the median of the per-round ratios. *CPU us/req* is the server's" \
        "user+system time per request between a quarter and three quarters of the run;" \
        "*allocs/req* is heap allocations per request in that window; *allocs* is every" \
        "allocation after start-up (per connection included), maximum over rounds."
    echo
    echo "| connections | server | req/s | req/s vs tokio | p50 us | p99 us | CPU us/req | peak RSS MiB | allocs/req | allocs |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for conns in $CONNS; do
        for impl in $IMPLS; do
            rows=$(awk -F '\t' -v c="$conns" -v i="$impl" '$1 == c && $2 == i' "$WORK/runs.tsv")
            [ -n "$rows" ] || { echo "| $conns | $impl | failed | | | | | | | |"; continue; }
            col() { cut -f "$1" <<<"$rows" | median; }
            ratio=$(awk -F '\t' -v c="$conns" -v i="$impl" '
                $1 == c && $2 == "tokio" { m[$3] = $4 }
                $1 == c && $2 == i { x[$3] = $4 }
                END { for (r in x) if (r in m && m[r] > 0) print x[r] / m[r] }' \
                "$WORK/runs.tsv" | median)
            cpu=$(awk -F '\t' '$10 > 0 { print $11 / $10 }' <<<"$rows" | median)
            apm=$(awk -F '\t' 'BEGIN { m = 0 } $10 > 0 && $9 / $10 > m { m = $9 / $10 }
                END { if (m == 0) print 0; else printf "%.2f\n", m }' <<<"$rows")
            allocs=$(cut -f 8 <<<"$rows" | sort -g | tail -n 1)
            printf '| %s | %s | %.0f | %.2f | %.1f | %.1f | %.2f | %.1f | %s | %s |\n' \
                "$conns" "$impl" "$(col 4)" "$ratio" "$(col 5)" "$(col 6)" "$cpu" \
                "$(awk -v k="$(col 7)" 'BEGIN { print k / 1024 }')" "$apm" "$allocs"
        done
    done
    if [ -s "$WORK/cg.tsv" ]; then
        echo
        echo "## User-space instructions per request (callgrind)"
        echo
        echo "(Ir(${CG_LONG} requests) - Ir(${CG_SHORT} requests)) / $((CG_LONG - CG_SHORT))," \
            "server process only; the load generator runs natively. System calls cost nothing" \
            "here."
        echo
        echo "| connections | server | Ir long | Ir short | instructions/request | vs tokio |"
        echo "|---:|---|---:|---:|---:|---:|"
        awk -F '\t' '
            { per[$1, $2] = $5; row[NR] = $0 }
            END {
                for (n = 1; n <= NR; n++) {
                    split(row[n], f, "\t")
                    t = per[f[1], "tokio"]
                    printf "| %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[4], f[5],
                        (t > 0 ? sprintf("%.2fx", f[5] / t) : "-")
                }
            }' "$WORK/cg.tsv"
        for impl in $IMPLS; do
            long="$WORK/cg-$impl-$CG_TOP_CONNS-$CG_LONG.callgrind"
            short="$WORK/cg-$impl-$CG_TOP_CONNS-$CG_SHORT.callgrind"
            [ -f "$long" ] && [ -f "$short" ] || continue
            echo
            echo "### Top functions of $impl, $CG_TOP_CONNS connections (self instructions/request)"
            echo
            echo "| Ir/req | function |"
            echo "|---:|---|"
            top_functions "$long" "$short" $((CG_LONG - CG_SHORT))
        done
    fi
    if [ "$STATUS" -ne 0 ]; then
        echo
        echo "**Some runs failed; see the log of the run.**"
    fi
} >"$WORK/report.md"

set -e -o pipefail

# ----- checks: every request answered once, zero allocations after start-up for ptk -----
while IFS=$'\t' read -r conns impl round _ _ _ _ allocs _ _ _ frames; do
    [ "$frames" = $((MESSAGES + conns)) ] ||
        fail "$impl, $conns connections, round $round: $frames requests answered, expected $((MESSAGES + conns))"
    if [ "$impl" = ptk ]; then
        [ "$allocs" = 0 ] || fail "ptk, $conns connections, round $round: $allocs heap allocations after start-up"
    fi
done <"$WORK/runs.tsv"

mkdir -p "$(dirname "$OUT")"
cp "$WORK/report.md" "$OUT"
cat "$WORK/report.md"
log "written to $OUT; raw data in $WORK"
exit "$STATUS"
