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

SERVER=modbus_
UNIT=request
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup ptk-modbus-bench
OUT=${OUT:-benches/results/modbus.md}

# load TAG CONNS REQUESTS: runs `modbus_load` against $ADDR; prints its result line.
load() {
    timeout 900 "$BIN/modbus_load" --addr "$ADDR" --connections "$2" --messages "$3" \
        --timeout-secs 880 2>"$WORK/$1.lg.err" | tee "$WORK/$1.lg.out" | grep '^result '
}

# run_once IMPL CONNS ROUND: one phase-1 run; appends a line to $WORK/runs.tsv.
run_once() {
    local impl=$1 conns=$2 round=$3 tag="run-$1-$2-$3" result report
    start_server "$impl" "$conns" $((MESSAGES + conns)) "$tag" || return 0
    load_or_fail "$tag" "$conns" "$MESSAGES" || return 0
    result=$RESULT
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

measure

# ----- report -----
# Tables are best effort: a missing figure prints as "-" rather than stopping the script.
set +e +o pipefail
{
    echo "# Modbus/TCP benchmark: ptk-modbus vs tokio-modbus"
    echo
    provenance benches/modbus.sh
    echo "Settings: ROUNDS=$ROUNDS MESSAGES=$MESSAGES CG_CONNS=\"$CG_CONNS\"" \
        "CG_LONG=$CG_LONG CG_SHORT=$CG_SHORT CG_TOP_CONNS=$CG_TOP_CONNS; tokio-modbus" \
        "$(sed -n '/^name = "tokio-modbus"/{n;s/version = "\(.*\)"/\1/p}' Cargo.lock)."
    echo
    echo "Workload (\`modbus_load\`): one request in flight per connection; read 10 holding" \
        "registers at a rotating address, every 4th request a write single register; every" \
        "response checked (transaction id, function code, byte count / echo). Servers:" \
        "\`modbus_ptk\` (ptk-modbus \`Server\` over a \`MemoryModel\`, no idle timeout," \
        "requests and answers in the loop's buffer pool: 1 KiB buffers, 2 per connection slot + 8) and" \
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
        top_sections req
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

publish
