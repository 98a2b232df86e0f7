# shellcheck shell=bash
# The sourcing script sets CONNS, IMPLS, ... and reads REPORT, RESULT, SERVER_PEAK_RSS_KB, ...
# shellcheck disable=SC2034,SC2153
# Shared by benches/run.sh and benches/modbus.sh: setup, logging, starting and stopping a
# server, runs under callgrind and their top functions. Sourced, never run.
#
# The sourcing script sets SERVER (binary name prefix: `echo_` or `modbus_`), UNIT (what one
# round trip is called in messages: `frame`, `request`) and defines `load TAG CONNS COUNT`,
# which runs its load generator against $ADDR and prints the generator's `result` line; then
# it calls `bench_setup WORK_PREFIX`. It may also set INTERRUPT_IMPLS (servers that never
# exit by themselves: stopped with SIGINT after their load, see `finish_server`) and redefine
# `server_command` (a server's command line).

# bench_setup WORK_PREFIX: the repository root as working directory, BIN, a fresh WORK
# directory, the traps that stop a server left running, and the soft descriptor limit raised
# to the hard one (inherited by every server and load generator; see `need_fds`).
bench_setup() {
    ROOT=$(cd "$(dirname "$0")/.." && pwd)
    cd "$ROOT" || exit 1
    local soft hard
    soft=$(ulimit -Sn) hard=$(ulimit -Hn)
    if [ "$soft" != unlimited ] && { [ "$hard" = unlimited ] || [ "$soft" -lt "$hard" ]; }; then
        ulimit -Sn "$hard" 2>/dev/null || true
    fi
    BIN=$ROOT/target/release
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    SERVER_PID=""
    INTERRUPT_IMPLS=${INTERRUPT_IMPLS:-}
    STATUS=0
    trap cleanup EXIT
    trap 'cleanup; exit 130' INT TERM
}

# need_fds N: exits with a message unless this shell (and so every process it starts) may
# open N descriptors: a server with 10,000 connections needs 10,000 sockets plus its own few,
# and so does the load generator.
need_fds() {
    local have
    have=$(ulimit -Sn)
    [ "$have" = unlimited ] && return 0
    if [ "$have" -lt "$1" ]; then
        log "FAIL: the runs need $1 descriptors per process, ulimit -n is $have (hard limit" \
            "$(ulimit -Hn)): raise the hard limit or use fewer connections"
        exit 1
    fi
}

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}

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

# default_server_command IMPL CONNS COUNT: sets the array CMD to $SERVER$IMPL's command line,
# serving CONNS connections (plus a margin) and COUNT round trips, then exiting.
default_server_command() {
    CMD=("$BIN/$SERVER$1" --bind 127.0.0.1:0 --max-connections $(($2 + 16)) --messages "$3")
}

# server_command IMPL CONNS COUNT: the command line of a server, in CMD. A script redefines it
# for servers that do not take the common flags.
server_command() { default_server_command "$@"; }

# interrupted IMPL: true if IMPL is one of $INTERRUPT_IMPLS.
interrupted() { case " $INTERRUPT_IMPLS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# proc_cpu_us PID: user + system CPU time of process PID so far, in microseconds (clock-tick
# resolution), from /proc/PID/stat; empty if it cannot be read.
proc_cpu_us() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    # Fields after the command name (which may hold spaces): utime and stime are 12 and 13.
    awk -v t="$(getconf CLK_TCK)" '{ printf "%d\n", ($12 + $13) * 1000000 / t }' <<<"${stat##*) }"
}

# proc_peak_rss_kb PID: VmHWM of process PID in KiB; empty if it cannot be read.
proc_peak_rss_kb() {
    awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# proc_rss_kb PID: VmRSS of process PID in KiB (its resident user-space memory now: socket
# buffers and other kernel memory are not part of it); empty if it cannot be read.
proc_rss_kb() {
    awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# proc_fd_count PID: how many descriptors process PID has open; empty if it cannot be read.
proc_fd_count() {
    local fds
    fds=$(ls "/proc/$1/fd" 2>/dev/null) || return 0
    wc -l <<<"$fds"
}

# start_server IMPL CONNS COUNT TAG [WRAPPER...]: starts the server `server_command IMPL CONNS
# COUNT` names in the background (under `timeout`, and WRAPPER if given), sets SERVER_PID (the
# `timeout` process), SERVER_PROC (the server process itself: the wrapper when there is one,
# as valgrind is the server it runs) and ADDR: the first line the server prints on stdout,
# or the address after "listening on " in it. Its stdout and stderr go to $WORK/TAG.out and
# .err. For a server of $INTERRUPT_IMPLS, notes its CPU time so far (SERVER_CPU0).
start_server() {
    local impl=$1 conns=$2 count=$3 tag=$4 line
    shift 4
    server_command "$impl" "$conns" "$count"
    : >"$WORK/$tag.out"
    timeout 900 "$@" "${CMD[@]}" >"$WORK/$tag.out" 2>"$WORK/$tag.err" &
    SERVER_PID=$!
    SERVER_IMPL=$impl
    SERVER_PROC=""
    ADDR=""
    for _ in $(seq 200); do
        # Only a whole first line (one with its newline) counts.
        if [ "$(wc -l <"$WORK/$tag.out")" -ge 1 ]; then
            line=$(head -n 1 "$WORK/$tag.out")
            ADDR=${line##*listening on }
            ADDR=${ADDR%% *}
            break
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$ADDR" ]; then
        fail "$tag: the server printed no address"
        cleanup
        return 1
    fi
    # `timeout` runs the server as its only child.
    SERVER_PROC=$(cat "/proc/$SERVER_PID/task/$SERVER_PID/children" 2>/dev/null ||
        pgrep -P "$SERVER_PID" || true)
    SERVER_PROC=${SERVER_PROC%% *}
    if interrupted "$impl"; then
        if [ -z "$SERVER_PROC" ]; then
            fail "$tag: cannot find the server process under timeout (pid $SERVER_PID)"
            cleanup
            return 1
        fi
        SERVER_CPU0=$(proc_cpu_us "$SERVER_PROC")
    fi
}

# finish_server TAG: waits (bounded) for the server to exit after its last round trip; sets
# REPORT to its report line. A server of $INTERRUPT_IMPLS, which never exits by itself, is
# first measured from /proc — SERVER_PEAK_RSS_KB (VmHWM) and SERVER_CPU_US (CPU time since
# `start_server`) — and then sent SIGINT.
finish_server() {
    local tag=$1 rc=0 cpu1
    SERVER_PEAK_RSS_KB=""
    SERVER_CPU_US=""
    if interrupted "$SERVER_IMPL"; then
        SERVER_PEAK_RSS_KB=$(proc_peak_rss_kb "$SERVER_PROC")
        cpu1=$(proc_cpu_us "$SERVER_PROC")
        if [ -n "$cpu1" ] && [ -n "$SERVER_CPU0" ]; then
            SERVER_CPU_US=$((cpu1 - SERVER_CPU0))
        fi
        if ! kill -INT "$SERVER_PROC" 2>/dev/null; then
            fail "$tag: the server was gone before SIGINT"
        fi
    fi
    for _ in $(seq 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        if interrupted "$SERVER_IMPL"; then
            fail "$tag: the server did not exit within 30 s of SIGINT"
        else
            fail "$tag: the server did not exit after its last $UNIT"
        fi
        kill "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=""
    [ "$rc" -eq 0 ] || fail "$tag: the server exited with status $rc"
    REPORT=$(grep -m 1 '^report ' "$WORK/$tag.err" || true)
}

# load_or_fail TAG CONNS COUNT: `load`, its result line in RESULT; on failure says so, stops
# the server and returns 1.
load_or_fail() {
    if ! RESULT=$(load "$@"); then
        fail "$1: the load generator failed: $(tail -n 3 "$WORK/$1.lg.err")"
        cleanup
        SERVER_PID=""
        return 1
    fi
}

# callgrind_once IMPL CONNS COUNT: one run under callgrind; sets IR to its instruction total.
callgrind_once() {
    local impl=$1 conns=$2 m=$3 tag="cg-$1-$2-$3"
    local cg="$WORK/$tag.callgrind"
    start_server "$impl" "$conns" $((m + conns)) "$tag" \
        valgrind --tool=callgrind --callgrind-out-file="$cg" || return 1
    load_or_fail "$tag" "$conns" "$m" || return 1
    finish_server "$tag"
    IR=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$cg" 2>/dev/null)
    if [ -z "$IR" ]; then
        fail "$tag: no instruction total in $cg (callgrind output missing or cut short):" \
            "$(tail -n 2 "$WORK/$tag.err")"
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

# top_functions LONG SHORT COUNT: the 10 functions with the most self instructions per round
# trip, as Markdown table rows.
top_functions() {
    join -t $'\t' -1 2 -2 2 -a 1 -e 0 -o 0,1.1,2.1 \
        <(self_costs "$1" | sort -t $'\t' -k 2,2) <(self_costs "$2" | sort -t $'\t' -k 2,2) |
        awk -F '\t' -v d="$3" '{ printf "%.1f\t%s\n", ($2 - $3) / d, $1 }' |
        sort -t $'\t' -k 1,1 -g -r | head -n 10 |
        awk -F '\t' '{ f = $2; if (length(f) > 110) f = substr(f, 1, 107) "..."
            gsub(/\|/, "\\|", f); printf "| %s | `%s` |\n", $1, f }'
}

# measure: builds the servers, then phase 1 (wall clock: for each of $CONNS, $ROUNDS
# interleaved rounds of every server of $IMPLS through the script's `run_once IMPL CONNS
# ROUND`, which appends to $WORK/runs.tsv) and phase 2 (for each of $CG_CONNS, every server
# under callgrind for $CG_LONG and $CG_SHORT round trips; one line per pair in $WORK/cg.tsv:
# connections, server, both totals, instructions per round trip). Sets LOAD_BEFORE. A script
# that needs more than ptk-bench's binaries defines `build_more`, run after that build (it
# may drop servers it cannot build from IMPLS).
measure() {
    log "building (release)"
    # With the io_uring backend compiled in (`echo_ptk --backend io_uring`); it is chosen
    # only by that flag.
    cargo build --release -p ptk-bench --features io-uring
    if declare -F build_more >/dev/null; then
        build_more
    fi
    if ! command -v valgrind >/dev/null && [ -n "$CG_CONNS" ]; then
        log "valgrind missing: skipping callgrind"
        CG_CONNS=""
    fi
    LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
    : >"$WORK/runs.tsv"
    local conns round impl long short per
    for conns in $CONNS; do
        for round in $(seq "$ROUNDS"); do
            for impl in $IMPLS; do
                run_once "$impl" "$conns" "$round"
            done
        done
    done
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
            printf '%s\t%s\t%s\t%s\t%s\n' "$conns" "$impl" "$long" "$short" "$per" \
                >>"$WORK/cg.tsv"
            log "callgrind: $impl, $conns connections: $per instructions/$UNIT"
        done
    done
}

# provenance SCRIPT: the report lines saying when, at which commit and on what machine.
provenance() {
    echo "Generated by \`$1\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit" \
        "\`${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}\`$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')."
    echo "Machine: $(nproc) cores, $(uname -sr), $(rustc --version);" \
        "load average before the run: $LOAD_BEFORE."
}

# top_sections PER: for each server, the table of its top functions at $CG_TOP_CONNS
# connections; PER names the round trip in the headings (`msg`, `req`).
top_sections() {
    local impl long short
    for impl in $IMPLS; do
        long="$WORK/cg-$impl-$CG_TOP_CONNS-$CG_LONG.callgrind"
        short="$WORK/cg-$impl-$CG_TOP_CONNS-$CG_SHORT.callgrind"
        if [ ! -f "$long" ] || [ ! -f "$short" ]; then continue; fi
        echo
        echo "### Top functions of $impl, $CG_TOP_CONNS connections (self instructions/$1)"
        echo
        echo "| Ir/$1 | function |"
        echo "|---:|---|"
        top_functions "$long" "$short" $((CG_LONG - CG_SHORT))
    done
}

# publish: copies the report to $OUT, shows it, and exits with the run's status.
publish() {
    mkdir -p "$(dirname "$OUT")"
    cp "$WORK/report.md" "$OUT"
    cat "$WORK/report.md"
    log "written to $OUT; raw data in $WORK"
    exit "$STATUS"
}
