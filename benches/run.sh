#!/usr/bin/env bash
# The side-by-side echo benchmark: ptk against the raw mio floor, libuv and tokio, and
# `examples/echo_server` itself.
#
#   benches/run.sh                       # everything, 3-20 minutes
#   ROUNDS=1 CONNS="1 100" benches/run.sh  # a quick look
#
# Phase 1 (wall clock): for each connection count, the servers run interleaved
# (mio, uv, tokio, ptk, example, mio, ...) against `loadgen`; each run echoes a fixed number of
# 64-byte frames. Phase 2 (counts): each server runs twice under callgrind with a long and a
# short fixed message count; the difference of their instruction totals over the difference of
# messages is the user-space instructions per message, start-up and connection set-up
# cancelled. Results go to stdout and to $OUT. See benches/README.md.
#
# The servers: mio (echo_mio, the floor), uv (echo_uv, built from benches/c/echo_uv.c with
# `cc`; libuv1-dev is installed with apt-get when missing, and uv is skipped, with a log line,
# when that fails), tokio (echo_tokio), ptk (echo_ptk) and example
# (target/release/examples/echo_server, which has no --messages and no report: it is stopped
# with SIGINT after its load, its peak RSS and CPU time read from /proc before that).
#
# Settings (environment):
#   ROUNDS=3                  interleaved rounds per connection count
#   CONNS="1 100 1000 10000"  connection counts of phase 1
#   MESSAGES=200000           timed round trips per phase-1 run (plus one warm-up per connection)
#   PAYLOAD=64                payload bytes per frame
#   CG_CONNS="1 100 1000"     connection counts of phase 2 (empty: skip it)
#   CG_LONG=200000 CG_SHORT=20000   message counts of the two callgrind runs
#   CG_TOP_CONNS=100          connection count whose top functions are listed
#   IMPLS="mio uv tokio ptk example"   servers, in interleaving order
#   OUT=benches/results/latest.md
#
# Exit status: non-zero if any run failed (a callgrind run without an instruction total
# included) or if ptk or raw mio allocated on the heap after start-up. Performance targets
# are reported, never enforced.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
CONNS=${CONNS-"1 100 1000 10000"}
MESSAGES=${MESSAGES:-200000}
PAYLOAD=${PAYLOAD:-64}
CG_CONNS=${CG_CONNS-"1 100 1000"}
CG_LONG=${CG_LONG:-200000}
CG_SHORT=${CG_SHORT:-20000}
CG_TOP_CONNS=${CG_TOP_CONNS:-100}
IMPLS=${IMPLS:-"mio uv tokio ptk example"}

SERVER=echo_
UNIT=frame
# examples/echo_server runs until Ctrl-C.
INTERRUPT_IMPLS=example
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup ptk-bench
OUT=${OUT:-benches/results/latest.md}
UV_VERSION=""

# server_command IMPL CONNS COUNT: as lib.sh's, but `example` is examples/echo_server, which
# takes neither --messages nor the other bench flags.
server_command() {
    if [ "$1" = example ]; then
        CMD=("$BIN/examples/echo_server" --bind 127.0.0.1:0 --max-connections $(($2 + 16)) --quiet)
    else
        default_server_command "$@"
    fi
}

has_impl() { case " $IMPLS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# drop_impl IMPL: removes IMPL from IMPLS.
drop_impl() {
    local i kept=""
    for i in $IMPLS; do
        [ "$i" = "$1" ] || kept="$kept $i"
    done
    IMPLS=${kept# }
}

# install_libuv: libuv1-dev (and pkg-config) through apt-get; false if that fails.
install_libuv() {
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
    log "libuv1-dev missing: apt-get install -y libuv1-dev (log in $WORK/apt.log)"
    if timeout 600 "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y libuv1-dev pkg-config >"$WORK/apt.log" 2>&1; then
        return 0
    fi
    # An image without package lists: update them once and try again.
    timeout 600 "${sudo[@]}" apt-get update >>"$WORK/apt.log" 2>&1 &&
        timeout 600 "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y libuv1-dev pkg-config >>"$WORK/apt.log" 2>&1
}

# build_more: echo_uv (cc, into target/release) and examples/echo_server, when IMPLS has them.
# uv is dropped from IMPLS, with a log line, when libuv cannot be installed.
build_more() {
    if has_impl uv; then
        if ! { command -v pkg-config >/dev/null && pkg-config --exists libuv; } &&
            ! { install_libuv && pkg-config --exists libuv; }; then
            log "SKIP uv: libuv1-dev is missing and could not be installed" \
                "(apt-get install -y libuv1-dev; see $WORK/apt.log); running without echo_uv"
            drop_impl uv
        else
            UV_VERSION=$(pkg-config --modversion libuv)
            log "building echo_uv (libuv $UV_VERSION)"
            mkdir -p "$BIN"
            local flags
            read -r -a flags <<<"$(pkg-config --cflags --libs libuv)"
            if ! timeout 300 cc -O2 -g -std=c99 -Wall -Wextra -o "$BIN/echo_uv" \
                benches/c/echo_uv.c "${flags[@]}"; then
                fail "benches/c/echo_uv.c does not build"
                drop_impl uv
            fi
        fi
    fi
    if has_impl example; then
        log "building examples/echo_server (release)"
        cargo build --release --example echo_server
    fi
}

# load TAG CONNS FRAMES: runs `loadgen` against $ADDR; prints its result line.
load() {
    timeout 900 "$BIN/loadgen" --addr "$ADDR" --connections "$2" --messages "$3" \
        --payload "$PAYLOAD" --timeout-secs 880 2>"$WORK/$1.lg.err" | tee "$WORK/$1.lg.out" |
        grep '^result '
}

# run_once IMPL CONNS ROUND: one phase-1 run; appends a line to $WORK/runs.tsv: connections,
# server, round, rt/s, p50, p99, peak RSS KiB, allocations, steady allocations, steady frames,
# steady CPU us. For `example` (no report line): peak RSS from /proc, "-" allocations, and
# the CPU time of the whole load over every frame echoed.
run_once() {
    local impl=$1 conns=$2 round=$3 tag="run-$1-$2-$3" result report
    local rss allocs sallocs sframes scpu
    start_server "$impl" "$conns" $((MESSAGES + conns)) "$tag" || return 0
    load_or_fail "$tag" "$conns" "$MESSAGES" || return 0
    result=$RESULT
    finish_server "$tag"
    report=$REPORT
    if interrupted "$impl"; then
        rss=$SERVER_PEAK_RSS_KB allocs=- sallocs=- sframes=$((MESSAGES + conns))
        scpu=$SERVER_CPU_US
        if [ -z "$rss" ] || [ -z "$scpu" ]; then
            fail "$tag: could not read the server's peak RSS or CPU time from /proc"
            return 0
        fi
    elif [ -z "$report" ]; then
        fail "$tag: no report from the server: $(tail -n 3 "$WORK/$tag.err")"
        return 0
    else
        rss=$(field peak_rss_kb "$report") allocs=$(field allocs "$report")
        sallocs=$(field steady_allocs "$report") sframes=$(field steady_frames "$report")
        scpu=$(field steady_cpu_us "$report")
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "$impl" "$round" \
        "$(field rtps "$result")" "$(field p50_us "$result")" "$(field p99_us "$result")" \
        "$rss" "$allocs" "$sallocs" "$sframes" "$scpu" >>"$WORK/runs.tsv"
    log "$tag: $(field rtps "$result") rt/s, p50 $(field p50_us "$result") us," \
        "p99 $(field p99_us "$result") us, peak RSS $rss KiB, allocs $allocs (steady $sallocs)"
}

measure

# ----- report -----
# Tables are best effort: a missing figure prints as "-" rather than stopping the script.
set +e +o pipefail

# rt_ratio CONNS IMPL BASE: the median over rounds of IMPL's rt/s over BASE's ("-" if none).
rt_ratio() {
    awk -F '\t' -v c="$1" -v i="$2" -v b="$3" '
        $1 == c && $2 == b { m[$3] = $4 }
        $1 == c && $2 == i { x[$3] = $4 }
        END { for (r in x) if (r in m && m[r] > 0) print x[r] / m[r] }' "$WORK/runs.tsv" |
        median | awk '{ if ($1 == "-") print "-"; else printf "%.2f\n", $1 }'
}

# cg_summary: one row per server: instructions per message at each connection count of
# phase 2, with its ratios to mio and to uv.
cg_summary() {
    local c head="| server |" rule="|---|"
    for c in $CG_CONNS; do
        head="$head instructions/msg, $c conn. | vs mio | vs uv |"
        rule="$rule---:|---:|---:|"
    done
    echo "$head"
    echo "$rule"
    awk -F '\t' -v impls="$IMPLS" -v conns="$CG_CONNS" '
        { per[$1, $2] = $5 }
        END {
            ni = split(impls, im, " "); nc = split(conns, cs, " ")
            for (a = 1; a <= ni; a++) {
                line = "| " im[a] " |"
                for (k = 1; k <= nc; k++) {
                    c = cs[k]; x = per[c, im[a]]; m = per[c, "mio"]; u = per[c, "uv"]
                    if (x == "") { line = line " - | - | - |"; continue }
                    line = line " " x " | " (m > 0 ? sprintf("%.2fx", x / m) : "-") " | " \
                        (u > 0 ? sprintf("%.2fx", x / u) : "-") " |"
                }
                print line
            }
        }' "$WORK/cg.tsv"
}

# target_lines: whether examples/echo_server meets its targets, from cg.tsv.
target_lines() {
    awk -F '\t' '
        { per[$1, $2] = $5 }
        END {
            for (k = 1; k <= 2; k++) {
                c = (k == 1 ? 1 : 100); x = per[c, "example"]; m = per[c, "mio"]
                if (x > 0 && m > 0)
                    printf "* example vs the mio floor, %d connection%s: %.1f / %.1f = %.2fx (target <= 1.5x): **%s**\n",
                        c, (c == 1 ? "" : "s"), x, m, x / m, (x / m <= 1.5 ? "met" : "not met")
            }
            x = per[1, "example"]; u = per[1, "uv"]
            if (x > 0 && u > 0)
                printf "* example vs libuv, 1 connection: %.1f / %.1f = %.2fx (target < 1x): **%s**\n",
                    x, u, x / u, (x < u ? "met" : "not met")
        }' "$WORK/cg.tsv"
}

{
    echo "# Echo benchmark: ptk vs the raw mio floor, libuv and tokio"
    echo
    provenance benches/run.sh
    echo "Settings: ROUNDS=$ROUNDS MESSAGES=$MESSAGES PAYLOAD=$PAYLOAD" \
        "CG_LONG=$CG_LONG CG_SHORT=$CG_SHORT."
    echo
    echo "Servers: *mio* = \`echo_mio\`, the floor (raw mio, short-read rule: one read per" \
        "message, whole frames echoed from one loop-wide scratch buffer, per-connection bytes" \
        "only for partial data); *uv* = \`echo_uv\` (benches/c/echo_uv.c, libuv" \
        "${UV_VERSION:-not built});" \
        "*tokio* = \`echo_tokio\`; *ptk* = \`echo_ptk\` (protothreads);" \
        "*example* = \`examples/echo_server --quiet\`, stopped with SIGINT. See benches/README.md."
    if [ -s "$WORK/cg.tsv" ]; then
        echo
        echo "## Summary: user-space instructions per message (callgrind)"
        echo
        echo "Targets: \`examples/echo_server\` <= 1.5x the raw mio floor at 1 and 100" \
            "connections, and below libuv at 1 connection."
        echo
        target_lines
        echo
        cg_summary
    fi
    echo
    echo "## Wall clock (interleaved, median of $ROUNDS rounds)"
    echo
    echo "Each run: \`loadgen\` with one $PAYLOAD-byte frame in flight per connection," \
        "$MESSAGES timed round trips after one warm-up round trip per connection."
    echo "*rt/s vs mio* and *vs uv* are medians of the per-round ratios (interleaved runs), the" \
        "figures to compare on a shared machine. *CPU us/msg* is the server's user+system time" \
        "per frame between a quarter and three quarters of the run. *RSS vs mio* compares" \
        "medians of peak RSS. *allocs/msg* is heap allocations per frame in that window;" \
        "*allocs* is every allocation after start-up (per connection included), maximum over" \
        "rounds. For *example*, which prints no report: peak RSS is \`VmHWM\` of" \
        "/proc/PID/status read before SIGINT, CPU us/msg its CPU time over the whole load" \
        "(connection set-up included, /proc/PID/stat, 10 ms ticks) per frame, and allocations" \
        "are not counted (-)."
    echo
    echo "| connections | server | rt/s | rt/s vs mio | rt/s vs uv | p50 us | p99 us | CPU us/msg | peak RSS MiB | RSS vs mio | allocs/msg | allocs |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for conns in $CONNS; do
        for impl in $IMPLS; do
            rows=$(awk -F '\t' -v c="$conns" -v i="$impl" '$1 == c && $2 == i' "$WORK/runs.tsv")
            [ -n "$rows" ] || { echo "| $conns | $impl | failed | | | | | | | | | |"; continue; }
            col() { cut -f "$1" <<<"$rows" | median; }
            cpu=$(awk -F '\t' '$10 > 0 { print $11 / $10 }' <<<"$rows" | median)
            apm=$(awk -F '\t' 'BEGIN { m = 0 } $9 == "-" { d = 1 } $10 > 0 && $9 / $10 > m { m = $9 / $10 }
                END { if (d) print "-"; else if (m == 0) print 0; else printf "%.1e\n", m }' <<<"$rows")
            mio_rss=$(awk -F '\t' -v c="$conns" '$1 == c && $2 == "mio" { print $7 }' \
                "$WORK/runs.tsv" | median)
            allocs=$(cut -f 8 <<<"$rows" | sort -g | tail -n 1)
            printf '| %s | %s | %.0f | %s | %s | %.1f | %.1f | %.2f | %.1f | %s | %s | %s |\n' \
                "$conns" "$impl" "$(col 4)" \
                "$(rt_ratio "$conns" "$impl" mio)" "$(rt_ratio "$conns" "$impl" uv)" \
                "$(col 5)" "$(col 6)" "$cpu" \
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
            "process only (for *example* too: valgrind runs the binary itself and SIGINT ends" \
            "it normally); the load generator runs natively."
        echo
        echo "| connections | server | Ir long | Ir short | instructions/msg | vs mio | vs uv |"
        echo "|---:|---|---:|---:|---:|---:|---:|"
        awk -F '\t' '
            { per[$1, $2] = $5; row[NR] = $0 }
            END {
                for (n = 1; n <= NR; n++) {
                    split(row[n], f, "\t")
                    m = per[f[1], "mio"]; u = per[f[1], "uv"]
                    printf "| %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[4], f[5],
                        (m > 0 ? sprintf("%.2fx", f[5] / m) : "-"),
                        (u > 0 ? sprintf("%.2fx", f[5] / u) : "-")
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
