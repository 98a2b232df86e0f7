#!/usr/bin/env bash
# The side-by-side echo benchmark: ptk against a hand-written raw mio server and tokio.
#
#   benches/run.sh                       # everything, ~10-20 minutes
#   ROUNDS=1 CONNS="1 100" benches/run.sh  # a quick look
#
# Phase 1 (wall clock): for each connection count, the three servers run interleaved
# (mio, tokio, ptk, mio, tokio, ptk, ...) against `loadgen`; each run echoes a fixed number of
# 64-byte frames. Phase 2 (counts): each server runs twice under callgrind with a long and a
# short fixed message count; the difference of their instruction totals over the difference of
# messages is the user-space instructions per message, start-up and connection set-up
# cancelled. Results go to stdout and to $OUT. See benches/README.md.
#
# Settings (environment):
#   ROUNDS=3                  interleaved rounds per connection count
#   CONNS="1 100 1000 10000"  connection counts of phase 1
#   MESSAGES=200000           timed round trips per phase-1 run (plus one warm-up per connection)
#   PAYLOAD=64                payload bytes per frame
#   CG_CONNS="1 100 1000"     connection counts of phase 2 (empty: skip it)
#   CG_LONG=200000 CG_SHORT=20000   message counts of the two callgrind runs
#   CG_TOP_CONNS=100          connection count whose top functions are listed
#   IMPLS="mio tokio ptk"     servers, in interleaving order
#   OUT=benches/results/latest.md
#
# Exit status: non-zero if any run failed or if ptk or raw mio allocated on the heap after
# start-up. Performance targets are reported, never enforced.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
CONNS=${CONNS-"1 100 1000 10000"}
MESSAGES=${MESSAGES:-200000}
PAYLOAD=${PAYLOAD:-64}
CG_CONNS=${CG_CONNS-"1 100 1000"}
CG_LONG=${CG_LONG:-200000}
CG_SHORT=${CG_SHORT:-20000}
CG_TOP_CONNS=${CG_TOP_CONNS:-100}
IMPLS=${IMPLS:-"mio tokio ptk"}

SERVER=echo_
UNIT=frame
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup ptk-bench
OUT=${OUT:-benches/results/latest.md}

# load TAG CONNS FRAMES: runs `loadgen` against $ADDR; prints its result line.
load() {
    timeout 900 "$BIN/loadgen" --addr "$ADDR" --connections "$2" --messages "$3" \
        --payload "$PAYLOAD" --timeout-secs 880 2>"$WORK/$1.lg.err" | tee "$WORK/$1.lg.out" |
        grep '^result '
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
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "$impl" "$round" \
        "$(field rtps "$result")" "$(field p50_us "$result")" "$(field p99_us "$result")" \
        "$(field peak_rss_kb "$report")" "$(field allocs "$report")" \
        "$(field steady_allocs "$report")" "$(field steady_frames "$report")" \
        "$(field steady_cpu_us "$report")" >>"$WORK/runs.tsv"
    log "$tag: $(field rtps "$result") rt/s, p50 $(field p50_us "$result") us," \
        "p99 $(field p99_us "$result") us, peak RSS $(field peak_rss_kb "$report") KiB," \
        "allocs $(field allocs "$report") (steady $(field steady_allocs "$report"))"
}

measure

# ----- report -----
# Tables are best effort: a missing figure prints as "-" rather than stopping the script.
set +e +o pipefail
{
    echo "# Echo benchmark: ptk vs raw mio vs tokio"
    echo
    provenance benches/run.sh
    echo "Settings: ROUNDS=$ROUNDS MESSAGES=$MESSAGES PAYLOAD=$PAYLOAD" \
        "CG_LONG=$CG_LONG CG_SHORT=$CG_SHORT."
    echo
    echo "## Wall clock (interleaved, median of $ROUNDS rounds)"
    echo
    echo "Each run: \`loadgen\` with one $PAYLOAD-byte frame in flight per connection," \
        "$MESSAGES timed round trips after one warm-up round trip per connection."
    echo "*rt/s vs mio* is the median of the per-round ratios (interleaved runs), the figure" \
        "to compare on a shared machine. *CPU us/msg* is the server's user+system time per" \
        "frame between a quarter and three quarters of the run. *RSS vs mio* compares medians" \
        "of peak RSS. *allocs/msg* is heap" \
        "allocations per frame in that window; *allocs* is every allocation after start-up" \
        "(per connection included), maximum over rounds."
    echo
    echo "| connections | server | rt/s | rt/s vs mio | p50 us | p99 us | CPU us/msg | peak RSS MiB | RSS vs mio | allocs/msg | allocs |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for conns in $CONNS; do
        for impl in $IMPLS; do
            rows=$(awk -F '\t' -v c="$conns" -v i="$impl" '$1 == c && $2 == i' "$WORK/runs.tsv")
            [ -n "$rows" ] || { echo "| $conns | $impl | failed | | | | | | | | |"; continue; }
            col() { cut -f "$1" <<<"$rows" | median; }
            ratio=$(awk -F '\t' -v c="$conns" -v i="$impl" '
                $1 == c && $2 == "mio" { m[$3] = $4 }
                $1 == c && $2 == i { x[$3] = $4 }
                END { for (r in x) if (r in m && m[r] > 0) print x[r] / m[r] }' \
                "$WORK/runs.tsv" | median)
            cpu=$(awk -F '\t' '$10 > 0 { print $11 / $10 }' <<<"$rows" | median)
            apm=$(awk -F '\t' 'BEGIN { m = 0 } $10 > 0 && $9 / $10 > m { m = $9 / $10 }
                END { if (m == 0) print 0; else printf "%.1e\n", m }' <<<"$rows")
            mio_rss=$(awk -F '\t' -v c="$conns" '$1 == c && $2 == "mio" { print $7 }' \
                "$WORK/runs.tsv" | median)
            allocs=$(cut -f 8 <<<"$rows" | sort -g | tail -n 1)
            printf '| %s | %s | %.0f | %.2f | %.1f | %.1f | %.2f | %.1f | %s | %s | %s |\n' \
                "$conns" "$impl" "$(col 4)" "$ratio" "$(col 5)" "$(col 6)" "$cpu" \
                "$(awk -v k="$(col 7)" 'BEGIN { print k / 1024 }')" \
                "$(awk -v k="$(col 7)" -v m="$mio_rss" 'BEGIN { if (m > 0) printf "%.2f", k / m; else print "-" }')" \
                "$apm" "$allocs"
        done
    done
    if [ -s "$WORK/cg.tsv" ]; then
        echo
        echo "## User-space instructions per message (callgrind)"
        echo
        echo "(Ir(${CG_LONG} msgs) - Ir(${CG_SHORT} msgs)) / $((CG_LONG - CG_SHORT)), server" \
            "process only; the load generator runs natively. Targets: ptk <= 1.15x raw mio" \
            "and below tokio."
        echo
        echo "| connections | server | Ir long | Ir short | instructions/msg | vs mio | vs tokio |"
        echo "|---:|---|---:|---:|---:|---:|---:|"
        awk -F '\t' '
            { per[$1, $2] = $5; row[NR] = $0 }
            END {
                for (n = 1; n <= NR; n++) {
                    split(row[n], f, "\t")
                    m = per[f[1], "mio"]; t = per[f[1], "tokio"]
                    printf "| %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[4], f[5],
                        (m > 0 ? sprintf("%.2fx", f[5] / m) : "-"),
                        (t > 0 ? sprintf("%.2fx", f[5] / t) : "-")
                }
            }' "$WORK/cg.tsv"
        top_sections msg
    fi
    if [ "$STATUS" -ne 0 ]; then
        echo
        echo "**Some runs failed; see the log of the run.**"
    fi
} >"$WORK/report.md"

set -e -o pipefail

# ----- checks: zero allocations after start-up for ptk and raw mio -----
while IFS=$'\t' read -r conns impl round _ _ _ _ allocs _ _ _; do
    case $impl in
    mio | ptk)
        [ "$allocs" = 0 ] || fail "$impl, $conns connections, round $round: $allocs heap allocations after start-up"
        ;;
    esac
done <"$WORK/runs.tsv"

publish
