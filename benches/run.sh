#!/usr/bin/env bash
# The side-by-side echo benchmark: ptk against the raw mio floor, libuv and tokio, and
# `examples/echo_server` itself, pooled and inline.
#
#   benches/run.sh                       # everything, 4-25 minutes
#   ROUNDS=1 CONNS="1 100" benches/run.sh  # a quick look
#
# Phase 1 (wall clock): for each connection count, the servers run interleaved
# (mio, uv, tokio, ptk, example, example-inline, mio, ...) against `loadgen`; each run echoes a
# fixed number of 64-byte frames; the peak RSS of every server at PEAK_CONNS comes from here.
# Phase 2 (counts): each server runs twice under callgrind with a long and a short fixed
# message count; the difference of their instruction totals over the difference of messages is
# the user-space instructions per message, start-up and connection set-up cancelled. Phase 3
# (idle memory): each of IDLE_IMPLS is started for IDLE_CONNS connections, its VmRSS read once
# it listens and again while `loadgen --idle-secs` holds IDLE_CONNS connections open and quiet
# (after one round trip each); the difference over IDLE_CONNS is its resident memory per idle
# connection. Results go to stdout and to $OUT. See benches/README.md.
#
# The servers: mio (echo_mio, the floor), uv (echo_uv, built from benches/c/echo_uv.c with
# `cc`; libuv1-dev is installed with apt-get when missing, and uv is skipped, with a log line,
# when that fails), tokio (echo_tokio), ptk (echo_ptk), example
# (target/release/examples/echo_server: frames in the loop's buffer pool, its default) and
# example-inline (the same with --inline: a 16 KiB frame buffer in every connection's
# context). The example has no --messages and no report: it is stopped with SIGINT after its
# load, its peak RSS and CPU time read from /proc before that.
#
# Settings (environment):
#   ROUNDS=3                  interleaved rounds per connection count
#   CONNS="1 100 1000 10000"  connection counts of phase 1
#   MESSAGES=200000           timed round trips per phase-1 run (plus one warm-up per connection)
#   PAYLOAD=64                payload bytes per frame
#   CG_CONNS="1 100 1000"     connection counts of phase 2 (empty: skip it)
#   CG_LONG=200000 CG_SHORT=20000   message counts of the two callgrind runs
#   CG_TOP_CONNS=100          connection count whose top functions are listed
#   IMPLS="mio uv tokio ptk ptk-uring example example-inline"   servers, in interleaving
#                             order (also example-uring: examples/echo_server on io_uring)
#   PEAK_CONNS=10000          phase-1 count whose peak RSS the memory summary compares
#   IDLE_CONNS=10000          idle connections of phase 3 (empty: skip it)
#   IDLE_IMPLS="mio uv example example-inline"   servers of phase 3 (those also in IMPLS)
#   IDLE_SECS=5               how long loadgen holds the idle connections (VmRSS is read then)
#   OUT=benches/results/latest.md
#   COMMIT=                   the commit the report names (default: git rev-parse HEAD; set
#                             it when running a copy of the tree outside git)
#
# Exit status: non-zero if any run failed (a callgrind run without an instruction total
# included, an idle run whose VmRSS could not be read while the connections were held, or whose
# server did not hold them all) or if ptk or raw mio allocated on the heap after start-up.
# Performance and memory targets are reported, never enforced.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
CONNS=${CONNS-"1 100 1000 10000"}
MESSAGES=${MESSAGES:-200000}
PAYLOAD=${PAYLOAD:-64}
CG_CONNS=${CG_CONNS-"1 100 1000"}
CG_LONG=${CG_LONG:-200000}
CG_SHORT=${CG_SHORT:-20000}
CG_TOP_CONNS=${CG_TOP_CONNS:-100}
IMPLS=${IMPLS:-"mio uv tokio ptk ptk-uring example example-inline"}
PEAK_CONNS=${PEAK_CONNS:-10000}
IDLE_CONNS=${IDLE_CONNS-10000}
IDLE_IMPLS=${IDLE_IMPLS:-"mio uv example example-inline"}
IDLE_SECS=${IDLE_SECS:-5}

SERVER=echo_
UNIT=frame
# examples/echo_server runs until Ctrl-C.
INTERRUPT_IMPLS="example example-inline example-uring"
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup ptk-bench
OUT=${OUT:-benches/results/latest.md}
UV_VERSION=""

# server_command IMPL CONNS COUNT: as lib.sh's, but `example` is examples/echo_server (its
# default buffer pool) and `example-inline` the same with --inline; it takes neither
# --messages nor the other bench flags.
server_command() {
    case $1 in
    example)
        CMD=("$BIN/examples/echo_server" --bind 127.0.0.1:0 --max-connections $(($2 + 16)) --quiet)
        ;;
    example-inline)
        CMD=("$BIN/examples/echo_server" --bind 127.0.0.1:0 --max-connections $(($2 + 16))
            --inline --quiet)
        ;;
    example-uring)
        CMD=("$BIN/examples/echo_server" --bind 127.0.0.1:0 --max-connections $(($2 + 16))
            --quiet --backend io_uring)
        ;;
    ptk-uring)
        CMD=("$BIN/echo_ptk" --bind 127.0.0.1:0 --max-connections $(($2 + 16)) --messages "$3"
            --backend io_uring)
        ;;
    *) default_server_command "$@" ;;
    esac
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
    if has_impl example || has_impl example-inline || has_impl example-uring; then
        log "building examples/echo_server (release)"
        cargo build --release --example echo_server --features io-uring
    fi
}

# Every process needs a descriptor per connection (plus a few of its own).
max_conns=0
for c in $CONNS $IDLE_CONNS; do
    [ "$c" -le "$max_conns" ] || max_conns=$c
done
need_fds $((max_conns + 64))

# load TAG CONNS FRAMES: runs `loadgen` against $ADDR; prints its result line.
load() {
    timeout 900 "$BIN/loadgen" --addr "$ADDR" --connections "$2" --messages "$3" \
        --payload "$PAYLOAD" --timeout-secs 880 2>"$WORK/$1.lg.err" | tee "$WORK/$1.lg.out" |
        grep '^result '
}

# run_once IMPL CONNS ROUND: one phase-1 run; appends a line to $WORK/runs.tsv: connections,
# server, round, rt/s, p50, p99, peak RSS KiB, allocations, steady allocations, steady frames,
# steady CPU us. For `example` and `example-inline` (no report line): peak RSS from /proc, "-"
# allocations, and the CPU time of the whole load over every frame echoed.
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

# idle_once IMPL CONNS: phase 3 for one server. Starts it for 16 connections and reads its
# VmRSS once it listens (what the server costs without connection slots), stops it; starts it
# for CONNS (+16), reads VmRSS and its open descriptors once it listens, runs `loadgen
# --idle-secs` (every connection opened and one round trip each, then all held idle) and reads
# both again while they are held; then loadgen does one round trip per connection (so mio and
# uv, with --messages 2 x CONNS, exit with their report) and the server is finished as in
# phase 1. Appends to $WORK/idle.tsv: server, connections, VmRSS KiB with 16 slots, at start,
# with CONNS idle connections.
idle_once() {
    local impl=$1 conns=$2 tag="idle-$1-$2" base start idle="" fds0 fds1 lg rc=0
    start_server "$impl" 0 1 "$tag-base" || return 0
    base=$(proc_rss_kb "$SERVER_PROC")
    cleanup
    SERVER_PID=""
    start_server "$impl" "$conns" $((2 * conns)) "$tag" || return 0
    start=$(proc_rss_kb "$SERVER_PROC")
    fds0=$(proc_fd_count "$SERVER_PROC")
    timeout 900 "$BIN/loadgen" --addr "$ADDR" --connections "$conns" --messages "$conns" \
        --payload "$PAYLOAD" --idle-secs "$IDLE_SECS" --timeout-secs 880 \
        >"$WORK/$tag.lg.out" 2>"$WORK/$tag.lg.err" &
    lg=$!
    # Opening 10,000 connections takes a few seconds; allow two minutes.
    for _ in $(seq 1200); do
        grep -q '^idle ' "$WORK/$tag.lg.out" && break
        kill -0 "$lg" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q '^idle ' "$WORK/$tag.lg.out"; then
        idle=$(proc_rss_kb "$SERVER_PROC")
        fds1=$(proc_fd_count "$SERVER_PROC")
        if grep -q '^resumed' "$WORK/$tag.lg.out"; then
            fail "$tag: VmRSS was read after the $IDLE_SECS s hold ended (raise IDLE_SECS)"
            idle=""
        fi
    else
        fail "$tag: the load generator printed no \`idle connections=$conns\` line (within" \
            "two minutes):" "$(tail -n 3 "$WORK/$tag.lg.err")"
        kill "$lg" 2>/dev/null || true
    fi
    wait "$lg" || rc=$?
    if [ "$rc" -ne 0 ]; then
        [ -z "$idle" ] || fail "$tag: the load generator failed: $(tail -n 3 "$WORK/$tag.lg.err")"
        cleanup
        SERVER_PID=""
        return 0
    fi
    finish_server "$tag"
    [ -n "$idle" ] || return 0
    if [ -z "$base" ] || [ -z "$start" ] || [ -z "$fds0" ] || [ -z "$fds1" ]; then
        fail "$tag: could not read the server's VmRSS or descriptors from /proc"
        return 0
    fi
    if [ $((fds1 - fds0)) -ne "$conns" ]; then
        fail "$tag: the server held $((fds1 - fds0)) more descriptors, not $conns, when VmRSS was read"
        return 0
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$impl" "$conns" "$base" "$start" "$idle" >>"$WORK/idle.tsv"
    log "$tag: VmRSS $base KiB with 16 slots, $start KiB at start, $idle KiB with $conns idle" \
        "connections: $(((idle - start) * 1024 / conns)) bytes per idle connection"
}

measure

# ----- phase 3: idle memory -----
: >"$WORK/idle.tsv"
for impl in $IDLE_IMPLS; do
    has_impl "$impl" || continue
    for conns in $IDLE_CONNS; do
        log "idle: $impl, $conns connections"
        idle_once "$impl" "$conns"
    done
done

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

# pool_lines: the pooled example against the inline one at each connection count of phase 2.
pool_lines() {
    awk -F '\t' -v conns="$CG_CONNS" '
        { per[$1, $2] = $5 }
        END {
            nc = split(conns, cs, " ")
            for (k = 1; k <= nc; k++) {
                c = cs[k]; p = per[c, "example"]; i = per[c, "example-inline"]
                if (p > 0 && i > 0)
                    printf "* example (pooled) vs example-inline, %d connection%s: %.1f / %.1f = %.2fx (%+.1f instructions/msg)\n",
                        c, (c == 1 ? "" : "s"), p, i, p / i, p - i
            }
        }' "$WORK/cg.tsv"
}

# peak_rss_kb CONNS IMPL: the median over rounds of IMPL's peak RSS at CONNS in phase 1, KiB.
peak_rss_kb() {
    awk -F '\t' -v c="$1" -v i="$2" '$1 == c && $2 == i && $7 != "" { print $7 }' \
        "$WORK/runs.tsv" | median
}

# memory_targets: whether examples/echo_server (pooled) meets its memory targets.
memory_targets() {
    local x u
    awk -F '\t' '$1 == "example" {
            b = ($5 - $4) * 1024 / $2; a = ($5 - $3) * 1024 / $2
            printf "* example, resident memory per idle connection (%d connections): %.0f bytes, %.0f counting its slot made at start-up (target <= 1024): **%s**\n",
                $2, b, a, (b <= 1024 && a <= 1024 ? "met" : (b <= 1024 ? "met by the idle figure only" : "not met"))
        }' "$WORK/idle.tsv"
    x=$(peak_rss_kb "$PEAK_CONNS" example) u=$(peak_rss_kb "$PEAK_CONNS" uv)
    if [ "$x" != - ] && [ "$u" != - ]; then
        awk -v x="$x" -v u="$u" -v c="$PEAK_CONNS" 'BEGIN {
            printf "* example vs libuv, peak RSS at %d active connections: %.1f / %.1f MiB = %.2fx (target <= 1x): **%s**\n",
                c, x / 1024, u / 1024, x / u, (x <= u ? "met" : "not met") }'
    fi
}

# idle_table: phase 3, one row per server.
idle_table() {
    echo "| server | connections | VmRSS, 16 slots, MiB | VmRSS at start, MiB | VmRSS idle, MiB | bytes/idle conn. | vs uv | slots + idle, bytes/conn. | vs uv |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F '\t' '
        { row[NR] = $0; idle[$1, $2] = ($5 - $4) * 1024 / $2; all[$1, $2] = ($5 - $3) * 1024 / $2 }
        END {
            for (n = 1; n <= NR; n++) {
                split(row[n], f, "\t")
                u = idle["uv", f[2]]; ua = all["uv", f[2]]
                i = idle[f[1], f[2]]; a = all[f[1], f[2]]
                printf "| %s | %d | %.1f | %.1f | %.1f | %.0f | %s | %.0f | %s |\n", f[1], f[2],
                    f[3] / 1024, f[4] / 1024, f[5] / 1024, i,
                    (u > 0 ? sprintf("%.2fx", i / u) : "-"), a,
                    (ua > 0 ? sprintf("%.2fx", a / ua) : "-")
            }
        }' "$WORK/idle.tsv"
}

# peak_table: phase 1's peak RSS at PEAK_CONNS, one row per server.
peak_table() {
    local impl k u m
    u=$(peak_rss_kb "$PEAK_CONNS" uv) m=$(peak_rss_kb "$PEAK_CONNS" mio)
    echo "| server | peak RSS, MiB | vs uv | vs mio |"
    echo "|---|---:|---:|---:|"
    for impl in $IMPLS; do
        k=$(peak_rss_kb "$PEAK_CONNS" "$impl")
        if [ "$k" = - ]; then
            echo "| $impl | - | - | - |"
            continue
        fi
        awk -v i="$impl" -v k="$k" -v u="$u" -v m="$m" 'BEGIN {
            printf "| %s | %.1f | %s | %s |\n", i, k / 1024,
                (u > 0 ? sprintf("%.2fx", k / u) : "-"), (m > 0 ? sprintf("%.2fx", k / m) : "-") }'
    done
}

{
    echo "# Echo benchmark: ptk vs the raw mio floor, libuv and tokio"
    echo
    provenance benches/run.sh
    echo "Settings: ROUNDS=$ROUNDS MESSAGES=$MESSAGES PAYLOAD=$PAYLOAD" \
        "CG_LONG=$CG_LONG CG_SHORT=$CG_SHORT IDLE_SECS=$IDLE_SECS."
    echo
    echo "Servers: *mio* = \`echo_mio\`, the floor (raw mio, short-read rule: one read per" \
        "message, whole frames echoed from one loop-wide scratch buffer, per-connection bytes" \
        "only for partial data); *uv* = \`echo_uv\` (benches/c/echo_uv.c, libuv" \
        "${UV_VERSION:-not built});" \
        "*tokio* = \`echo_tokio\`; *ptk* = \`echo_ptk\` (protothreads);" \
        "*ptk-uring* = the same on the io_uring backend (\`--backend io_uring\`);" \
        "*example* = \`examples/echo_server --quiet\` (frames in the loop's buffer pool, its" \
        "default of 1024 x 4 KiB + 64 x 16 KiB buffers), *example-inline* = the same with" \
        "\`--inline\` (a 16 KiB frame buffer in every connection's context), both stopped with" \
        "SIGINT. See benches/README.md."
    if [ -s "$WORK/cg.tsv" ]; then
        echo
        echo "## Summary: user-space instructions per message (callgrind)"
        echo
        echo "Targets: \`examples/echo_server\` <= 1.5x the raw mio floor at 1 and 100" \
            "connections, and below libuv at 1 connection."
        echo
        target_lines
        pool_lines
        echo
        cg_summary
    fi
    if [ -s "$WORK/idle.tsv" ] || [ "$(peak_rss_kb "$PEAK_CONNS" uv)" != - ]; then
        echo
        echo "## Summary: memory"
        echo
        echo "Targets: \`examples/echo_server\` (pooled) <= 1 KiB of resident memory per idle" \
            "connection, and a peak RSS at $PEAK_CONNS active connections no larger than libuv's."
        echo
        targets=$(memory_targets)
        echo "${targets:-* example was not measured (not in IMPLS, or its runs failed).}"
    fi
    if [ -s "$WORK/idle.tsv" ]; then
        echo
        echo "### Idle connections (VmRSS, user space)"
        echo
        echo "Each server is started for N + 16 connections and its \`VmRSS\` read from" \
            "/proc/PID/status once it listens, before any client (*at start*); then \`loadgen" \
            "--idle-secs $IDLE_SECS\` opens N connections, does one $PAYLOAD-byte round trip on" \
            "each and holds them all open and quiet, and \`VmRSS\` is read again while they" \
            "are held (*idle*; the server's open descriptors are counted then too, and the run" \
            "fails unless it holds exactly N more than at start). *bytes/idle conn.* =" \
            "(idle - at start) / N. VmRSS is the process's resident user-space memory:" \
            "socket buffers and other kernel memory are not in it, so the kernel's share is" \
            "excluded by construction. Memory a server makes and writes at start-up for its" \
            "connection slots is in *at start* already, so *slots + idle* = (idle - VmRSS of" \
            "the same server started for 16 connections) / N is the whole user-space cost of" \
            "provisioning and holding a connection."
        echo
        idle_table
    fi
    if [ "$(peak_rss_kb "$PEAK_CONNS" uv)" != - ] || [ "$(peak_rss_kb "$PEAK_CONNS" example)" != - ]; then
        echo
        echo "### Peak RSS at $PEAK_CONNS active connections"
        echo
        echo "From the wall-clock runs at $PEAK_CONNS connections below (one $PAYLOAD-byte frame" \
            "in flight on each; median of $ROUNDS rounds): \`VmHWM\`, the peak resident" \
            "user-space memory over the whole run."
        echo
        peak_table
    fi
    echo
    echo "## Wall clock (interleaved, median of $ROUNDS rounds)"
    echo
    echo "Each run: \`loadgen\` with one $PAYLOAD-byte frame in flight per connection," \
        "$MESSAGES timed round trips after one warm-up round trip per connection."
    echo "*rt/s vs mio* and *vs uv* are medians of the per-round ratios (interleaved runs), the" \
        "figures to compare on a shared machine. *CPU us/msg* is the server's user+system time" \
        "per frame between a quarter and three quarters of the run. *RSS vs mio* and *vs uv*" \
        "compare medians of peak RSS. *allocs/msg* is heap allocations per frame in that window;" \
        "*allocs* is every allocation after start-up (per connection included), maximum over" \
        "rounds. For *example* and *example-inline*, which print no report: peak RSS is \`VmHWM\` of" \
        "/proc/PID/status read before SIGINT, CPU us/msg its CPU time over the whole load" \
        "(connection set-up included, /proc/PID/stat, 10 ms ticks) per frame, and allocations" \
        "are not counted (-)."
    echo
    echo "| connections | server | rt/s | rt/s vs mio | rt/s vs uv | p50 us | p99 us | CPU us/msg | peak RSS MiB | RSS vs mio | RSS vs uv | allocs/msg | allocs |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for conns in $CONNS; do
        for impl in $IMPLS; do
            rows=$(awk -F '\t' -v c="$conns" -v i="$impl" '$1 == c && $2 == i' "$WORK/runs.tsv")
            [ -n "$rows" ] || { echo "| $conns | $impl | failed | | | | | | | | | | |"; continue; }
            col() { cut -f "$1" <<<"$rows" | median; }
            cpu=$(awk -F '\t' '$10 > 0 { print $11 / $10 }' <<<"$rows" | median)
            apm=$(awk -F '\t' 'BEGIN { m = 0 } $9 == "-" { d = 1 } $10 > 0 && $9 / $10 > m { m = $9 / $10 }
                END { if (d) print "-"; else if (m == 0) print 0; else printf "%.1e\n", m }' <<<"$rows")
            mio_rss=$(peak_rss_kb "$conns" mio)
            uv_rss=$(peak_rss_kb "$conns" uv)
            allocs=$(cut -f 8 <<<"$rows" | sort -g | tail -n 1)
            printf '| %s | %s | %.0f | %s | %s | %.1f | %.1f | %.2f | %.1f | %s | %s | %s | %s |\n' \
                "$conns" "$impl" "$(col 4)" \
                "$(rt_ratio "$conns" "$impl" mio)" "$(rt_ratio "$conns" "$impl" uv)" \
                "$(col 5)" "$(col 6)" "$cpu" \
                "$(awk -v k="$(col 7)" 'BEGIN { print k / 1024 }')" \
                "$(awk -v k="$(col 7)" -v m="$mio_rss" 'BEGIN { if (m > 0) printf "%.2f", k / m; else print "-" }')" \
                "$(awk -v k="$(col 7)" -v m="$uv_rss" 'BEGIN { if (m > 0) printf "%.2f", k / m; else print "-" }')" \
                "$apm" "$allocs"
        done
    done
    if [ -s "$WORK/cg.tsv" ]; then
        echo
        echo "## User-space instructions per message (callgrind)"
        echo
        echo "(Ir(${CG_LONG} msgs) - Ir(${CG_SHORT} msgs)) / $((CG_LONG - CG_SHORT)), server" \
            "process only (for *example* and *example-inline* too: valgrind runs the binary itself and SIGINT ends" \
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
    mio | ptk | ptk-uring)
        [ "$allocs" = 0 ] || fail "$impl, $conns connections, round $round: $allocs heap allocations after start-up"
        ;;
    esac
done <"$WORK/runs.tsv"

publish
