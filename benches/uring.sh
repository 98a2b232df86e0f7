#!/usr/bin/env bash
# ptk on io_uring against ptk on epoll, the raw mio floor and libuv: system calls and server
# CPU time (user + system) per echoed message.
#
#   benches/uring.sh                         # 5 interleaved rounds at 100 connections
#   ROUNDS=1 MESSAGES=50000 benches/uring.sh # a quick look
#
# Phase 1 (CPU time): ROUNDS interleaved rounds of every server of IMPLS, each echoing
# MESSAGES 64-byte frames over CONNS connections from `loadgen`; a server's CPU time per
# message is its steady-state CPU time over the frames it echoed then (its report), or for
# the examples (no report) the CPU time of the whole load from /proc over every frame. The
# report gives each server's median and the median of its per-round ratios to mio (paired:
# the host's swings, which move servers run seconds apart alike, cancel in each ratio).
# Phase 2 (system calls): each server once more, with `perf stat -e raw_syscalls:sys_enter`
# attached to it for exactly the load (started once it listens, stopped when loadgen ends):
# the count over the frames echoed is the system calls per message, connection set-up (100
# accepts, a few registrations) included, which adds about 0.01 per message at 100
# connections. Where the kernel has io_uring's tracepoints, the same run counts the ring's
# completions and requests per message (`io_uring:io_uring_complete`, `io_uring_submit_req`). For the servers that exit by themselves, `strace -c -f` gives the breakdown by
# system call (a separate run: strace slows the server, its counts are exact).
# Phase 3 (profile, PROFILE=1): each server of PROFILE_IMPLS once more under `perf record`
# (sampling user and kernel code at 2 kHz for exactly the load); the report lists, per server,
# the functions with the most samples and their share of the server's CPU time, kernel
# functions marked [k], so a difference between two servers can be traced to the code that
# makes it.
#
# The servers: mio (echo_mio, the raw epoll floor: one recv and one send per message, one
# epoll_wait per iteration), uv (echo_uv, built with cc when libuv1-dev is there; skipped
# with a log line otherwise), ptk and ptk-uring (echo_ptk, protothreads with an inline frame
# reader: reads and writes by direct system calls, on epoll and on io_uring readiness),
# ptk-pooled and ptk-pooled-uring (echo_ptk --impl pooled: protothreads with frames in the
# loop's buffer pool, PooledFrameReader and send_frame; on io_uring its receives and sends go
# through the ring), example and example-uring (examples/echo_server, the same pooled path).
#
# Settings (environment):
#   ROUNDS=5 CONNS=100 MESSAGES=200000 PAYLOAD=64
#   IMPLS="mio uv ptk ptk-uring ptk-pooled ptk-pooled-uring example example-uring"
#   SYSCALLS=1     phase 2 (0: skip it)
#   PROFILE=0      phase 3 (1: run it)   PROFILE_IMPLS="mio ptk-pooled-uring"   PROFILE_TOP=25
#   OUT=benches/results/uring.md
#
# Exit status: non-zero if a run failed or an io_uring server did not run on io_uring.
# Targets are reported, never enforced.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-100}
MESSAGES=${MESSAGES:-200000}
PAYLOAD=${PAYLOAD:-64}
IMPLS=${IMPLS:-"mio uv ptk ptk-uring ptk-pooled ptk-pooled-uring example example-uring"}
SYSCALLS=${SYSCALLS:-1}
PROFILE=${PROFILE:-0}
PROFILE_IMPLS=${PROFILE_IMPLS:-"mio ptk-pooled-uring"}
PROFILE_TOP=${PROFILE_TOP:-25}

SERVER=echo_
UNIT=frame
INTERRUPT_IMPLS="example example-uring"
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup ptk-uring-bench
OUT=${OUT:-benches/results/uring.md}

server_command() {
    case $1 in
    ptk-uring)
        CMD=("$BIN/echo_ptk" --bind 127.0.0.1:0 --max-connections $(($2 + 16)) --messages "$3"
            --backend io_uring)
        ;;
    ptk-pooled)
        CMD=("$BIN/echo_ptk" --bind 127.0.0.1:0 --max-connections $(($2 + 16)) --messages "$3"
            --impl pooled)
        ;;
    ptk-pooled-uring)
        CMD=("$BIN/echo_ptk" --bind 127.0.0.1:0 --max-connections $(($2 + 16)) --messages "$3"
            --impl pooled --backend io_uring)
        ;;
    example)
        CMD=("$BIN/examples/echo_server" --bind 127.0.0.1:0 --max-connections $(($2 + 16)) --quiet)
        ;;
    example-uring)
        CMD=("$BIN/examples/echo_server" --bind 127.0.0.1:0 --max-connections $(($2 + 16))
            --quiet --backend io_uring)
        ;;
    *) default_server_command "$@" ;;
    esac
}

has_impl() { case " $IMPLS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
drop_impl() {
    local i kept=""
    for i in $IMPLS; do [ "$i" = "$1" ] || kept="$kept $i"; done
    IMPLS=${kept# }
}

load() {
    timeout 900 "$BIN/loadgen" --addr "$ADDR" --connections "$2" --messages "$3" \
        --payload "$PAYLOAD" --timeout-secs 880 2>"$WORK/$1.lg.err" | tee "$WORK/$1.lg.out" |
        grep '^result '
}

# apt_install PACKAGE...: through apt-get (as root, or sudo -n), updating the lists once if the
# first try fails; false if that fails. Output in $WORK/apt.log.
apt_install() {
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
    log "installing $* with apt-get (log in $WORK/apt.log)"
    timeout 600 "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" \
        >>"$WORK/apt.log" 2>&1 && return 0
    timeout 600 "${sudo[@]}" apt-get update >>"$WORK/apt.log" 2>&1 &&
        timeout 600 "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" \
            >>"$WORK/apt.log" 2>&1
}
command -v perf >/dev/null || apt_install linux-perf || log "perf could not be installed"
command -v strace >/dev/null || apt_install strace || log "strace could not be installed"
if has_impl uv && ! { command -v pkg-config >/dev/null && pkg-config --exists libuv; }; then
    apt_install libuv1-dev pkg-config || true
fi

log "building (release, feature io-uring)"
cargo build --release -p ptk-bench --features io-uring
cargo build --release --example echo_server --features io-uring
if has_impl uv; then
    if command -v pkg-config >/dev/null && pkg-config --exists libuv; then
        read -r -a flags <<<"$(pkg-config --cflags --libs libuv)"
        cc -O2 -g -std=c99 -Wall -Wextra -o "$BIN/echo_uv" benches/c/echo_uv.c "${flags[@]}" ||
            { fail "benches/c/echo_uv.c does not build"; drop_impl uv; }
    else
        log "SKIP uv: libuv1-dev is missing and could not be installed (see $WORK/apt.log)"
        drop_impl uv
    fi
fi
need_fds $((CONNS + 64))
LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)

# check_backend TAG IMPL: an io_uring server must say it runs on io_uring.
check_backend() {
    case $2 in
    example-uring)
        grep -q ' on io_uring ' "$WORK/$1.out" ||
            fail "$1: examples/echo_server did not run on io_uring: $(head -n 1 "$WORK/$1.out")"
        ;;
    esac
}

# under_perf TAG IMPL PERF-ARGS...: serves one load with `perf PERF-ARGS -p PID` attached to
# the server for exactly the load (started once it listens, stopped when loadgen ends).
under_perf() {
    local tag=$1 impl=$2 pid perf_pid
    shift 2
    start_server "$impl" "$CONNS" $((MESSAGES + CONNS)) "$tag" || return 1
    check_backend "$tag" "$impl"
    pid=$SERVER_PROC
    [ -n "$pid" ] || pid=$(pgrep -P "$SERVER_PID" | head -n 1)
    perf "$@" -p "$pid" >"$WORK/$tag.perf.log" 2>&1 &
    perf_pid=$!
    sleep 0.5 # perf attaches
    if ! load_or_fail "$tag" "$CONNS" "$MESSAGES"; then
        kill -INT "$perf_pid"
        return 1
    fi
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    finish_server "$tag"
}

# ----- phase 1: CPU time per message, interleaved -----
: >"$WORK/cpu.tsv"
for round in $(seq "$ROUNDS"); do
    for impl in $IMPLS; do
        tag="cpu-$impl-$round"
        start_server "$impl" "$CONNS" $((MESSAGES + CONNS)) "$tag" || continue
        check_backend "$tag" "$impl"
        load_or_fail "$tag" "$CONNS" "$MESSAGES" || continue
        result=$RESULT
        finish_server "$tag"
        if interrupted "$impl"; then
            cpu=$SERVER_CPU_US frames=$((MESSAGES + CONNS))
        else
            cpu=$(field steady_cpu_us "$REPORT") frames=$(field steady_frames "$REPORT")
        fi
        if [ -z "$cpu" ] || [ -z "$frames" ] || [ "$frames" -eq 0 ]; then
            fail "$tag: no CPU time or frame count"
            continue
        fi
        per=$(awk -v c="$cpu" -v f="$frames" 'BEGIN { printf "%.3f", c / f }')
        printf '%s\t%s\t%s\t%s\n' "$impl" "$round" "$per" "$(field rtps "$result")" >>"$WORK/cpu.tsv"
        log "$tag: $per us CPU/msg, $(field rtps "$result") rt/s"
    done
done

# ----- phase 2: system calls per message -----
: >"$WORK/sys.tsv"
if [ "$SYSCALLS" = 1 ] && ! perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
    log "SKIP system call counts: perf stat -e raw_syscalls:sys_enter does not work here" \
        "(apt-get install linux-perf, and root or kernel.perf_event_paranoid <= -1)"
    SYSCALLS=0
fi
if [ "$SYSCALLS" = 1 ]; then
    # io_uring's own tracepoints count the completions the server reaps and the requests it
    # submits (exact counts: where a change of the ring path shows, whatever the noise).
    EVENTS=raw_syscalls:sys_enter
    if perf stat -e io_uring:io_uring_complete,io_uring:io_uring_submit_req -- true >/dev/null 2>&1; then
        EVENTS=$EVENTS,io_uring:io_uring_complete,io_uring:io_uring_submit_req
    fi
    for impl in $IMPLS; do
        tag="sys-$impl"
        under_perf "$tag" "$impl" stat -x, -e "$EVENTS" -o "$WORK/$tag.perf" || continue
        calls=$(awk -F, '/raw_syscalls:sys_enter/ { print $1 }' "$WORK/$tag.perf")
        if [ -z "$calls" ]; then
            fail "$tag: no count from perf: $(tail -n 2 "$WORK/$tag.perf")"
            continue
        fi
        frames=$((MESSAGES + CONNS))
        per=$(awk -v c="$calls" -v f="$frames" 'BEGIN { printf "%.3f", c / f }')
        cqes=$(awk -F, -v f="$frames" '/io_uring:io_uring_complete/ { printf "%.3f", $1 / f }' "$WORK/$tag.perf")
        sqes=$(awk -F, -v f="$frames" '/io_uring:io_uring_submit_req/ { printf "%.3f", $1 / f }' "$WORK/$tag.perf")
        printf '%s\t%s\t%s\t%s\t%s\n' "$impl" "$calls" "$per" "${cqes:--}" "${sqes:--}" >>"$WORK/sys.tsv"
        log "$tag: $calls system calls for $frames frames: $per per message"
        if ! interrupted "$impl" && command -v strace >/dev/null; then
            server_command "$impl" "$CONNS" $((MESSAGES + CONNS))
            timeout 900 strace -f -c -o "$WORK/$tag.strace" "${CMD[@]}" \
                >"$WORK/$tag-st.out" 2>"$WORK/$tag-st.err" &
            st=$!
            for _ in $(seq 100); do
                [ -s "$WORK/$tag-st.out" ] && break
                sleep 0.1
            done
            line=$(head -n 1 "$WORK/$tag-st.out")
            ADDR=${line##*listening on }
            ADDR=${ADDR%% *}
            load "$tag-st" "$CONNS" "$MESSAGES" >/dev/null || fail "$tag: load under strace failed"
            wait "$st" || fail "$tag: the server under strace failed"
        fi
    done
fi

# ----- phase 3: where the CPU time goes -----
if [ "$PROFILE" = 1 ] && ! perf record -q -o "$WORK/probe.data" -- true >/dev/null 2>&1; then
    log "SKIP profiles: perf record does not work here (root or kernel.perf_event_paranoid <= 1)"
    PROFILE=0
fi
if [ "$PROFILE" = 1 ]; then
    for impl in $PROFILE_IMPLS; do
        tag="prof-$impl"
        under_perf "$tag" "$impl" record -q -F 2000 -o "$WORK/$tag.data" || continue
        perf report -i "$WORK/$tag.data" --no-children --sort sym --stdio -q 2>/dev/null |
            awk 'NF >= 3 && $1 ~ /%$/' >"$WORK/$tag.all"
        head -n "$PROFILE_TOP" "$WORK/$tag.all" >"$WORK/$tag.top"
        [ -s "$WORK/$tag.top" ] || fail "$tag: perf report gave no samples"
    done
fi

# ----- report -----
set +e +o pipefail
cpu_median() { awk -F '\t' -v i="$1" '$1 == i { print $3 }' "$WORK/cpu.tsv" | median; }
# The median over rounds of a server's CPU time over mio's in the same round: the host's
# swings (the same for servers run seconds apart) cancel out of each round's ratio.
paired() {
    awk -F '\t' -v i="$1" '$1 == "mio" { m[$2] = $3 } $1 == i { c[$2] = $3 }
        END { for (r in c) if (m[r] > 0) printf "%.3f\n", c[r] / m[r] }' "$WORK/cpu.tsv" | median
}
mio_cpu=$(cpu_median mio)
{
    echo "# io_uring: system calls and CPU time per echoed message"
    echo
    echo "Generated by \`benches/uring.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit" \
        "\`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')."
    echo "Machine: $(nproc) cores, $(uname -sr), $(rustc --version);" \
        "load average before the run: $LOAD_BEFORE."
    echo "$CONNS connections, $MESSAGES frames of $PAYLOAD bytes per run, $ROUNDS interleaved rounds."
    echo
    echo "| server | CPU us/msg (median) | vs mio | vs mio, paired | rt/s (median) | system calls/msg | completions/msg | requests/msg |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for impl in $IMPLS; do
        c=$(cpu_median "$impl")
        r=$(awk -F '\t' -v i="$impl" '$1 == i { print $4 }' "$WORK/cpu.tsv" | median)
        s=$(awk -F '\t' -v i="$impl" '$1 == i { print $3 }' "$WORK/sys.tsv")
        q=$(awk -F '\t' -v i="$impl" '$1 == i { print $4 }' "$WORK/sys.tsv")
        e=$(awk -F '\t' -v i="$impl" '$1 == i { print $5 }' "$WORK/sys.tsv")
        v=$(awk -v c="$c" -v m="$mio_cpu" 'BEGIN { if (c == "-" || m == "-" || m == 0) print "-"; else printf "%.2fx", c / m }')
        p=$(paired "$impl")
        [ "$p" != - ] && p=${p}x
        echo "| $impl | $c | $v | $p | $r | ${s:--} | ${q:--} | ${e:--} |"
    done
    echo
    echo "*vs mio, paired*: the median over rounds of the server's CPU time per message over"
    echo "mio's in the same round. *completions/msg*, *requests/msg*: io_uring completions"
    echo 'posted and requests submitted per message (`perf stat -e io_uring:*`, phase 2).'
    echo
    echo "Per round (CPU us/msg):"
    echo
    echo '```'
    sort -t $'\t' -k 2,2n -s "$WORK/cpu.tsv"
    echo '```'
    for f in "$WORK"/sys-*.strace; do
        [ -f "$f" ] || continue
        name=${f##*/sys-}
        echo
        echo "### System calls of ${name%.strace} under strace -c -f ($((MESSAGES + CONNS)) frames)"
        echo
        echo '```'
        sed -n '1,2p;/^------/d;3,14p' "$f" | grep -v '^------'
        tail -n 1 "$f"
        echo '```'
    done
    for f in "$WORK"/prof-*.top; do
        [ -s "$f" ] || continue
        name=${f##*/prof-}
        name=${name%.top}
        c=$(cpu_median "$name")
        echo
        echo "### Where $name's CPU time goes (perf record, top $PROFILE_TOP symbols)"
        echo
        echo "Share of the server's samples; [k] kernel, [.] user space.$([ "$c" != - ] && echo " us/msg = share x its median $c us CPU/msg.")"
        awk '{ p = $1; sub(/%$/, "", p) }
            $2 == "[.]" { u += p } $2 == "[k]" { k += p }
            $2 == "[k]" && ($3 ~ /^(io_|__io_)/) { r += p }
            $2 == "[k]" && ($3 ~ /^(ep_|do_epoll|__x64_sys_epoll)/) { e += p }
            END { printf "In all: user space %.1f%%, kernel %.1f%% (io_uring functions %.1f%%, epoll functions %.1f%%).\n", u, k, r, e }' \
            "${f%.top}.all"
        echo
        echo '```'
        awk -v c="$c" '{ p = $1; sub(/%$/, "", p); $1 = ""
            if (c == "-") printf "%6.2f%%  %s\n", p, $0
            else printf "%6.2f%%  %6.3f us/msg  %s\n", p, p * c / 100, $0 }' "$f"
        echo '```'
    done
    for t in ptk-uring ptk-pooled-uring example-uring; do
        s=$(awk -F '\t' -v i="$t" '$1 == i { print $3 }' "$WORK/sys.tsv")
        c=$(cpu_median "$t")
        [ -n "$s" ] && echo && echo "* $t: $s system calls per message (target <= 0.5):" \
            "**$(awk -v s="$s" 'BEGIN { print (s <= 0.5 ? "met" : "not met") }')**"
        p=$(paired "$t")
        [ "$p" != - ] && echo "* $t: CPU per message ${p}x raw mio's, the median of the rounds' ratios" \
            "($c us against $mio_cpu us by the medians; target: below):" \
            "**$(awk -v p="$p" 'BEGIN { print (p < 1 ? "met" : "not met") }')**"
    done
    if [ "$STATUS" -ne 0 ]; then
        echo
        echo "**Some runs failed; see the log of the run.**"
    fi
} >"$WORK/report.md"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/report.md" "$OUT"
cat "$OUT"
exit "$STATUS"
