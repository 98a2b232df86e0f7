#!/usr/bin/env bash
# The EtherNet/IP read benchmark: reading 1,000 distinct DINT tags (T0..T999) from our
# `enip_server` with three clients — ptk-enip's (`enip_read_many`), pycomm3 1.2.16 and
# pylogix 1.1.6 (`tests/interop/enip_bench.py`), each with its call that reads many tags.
#
#   benches/enip.sh                       # ~2 minutes
#   ROUNDS=1 LONG=2 benches/enip.sh       # a quick look
#
# Round trips are counted ON THE SERVER (its `requests` statistic: encapsulation requests,
# one per round trip). Each client runs twice per round on a fresh server, a short run
# (SHORT seconds) and a long one (LONG seconds); (requests_long - requests_short) /
# (reads_long - reads_short) is the round trips per read of 1,000 tags once the client is
# warm, and requests_short - reads_short * that is what the client spends before (session,
# connection, learning the tags). Tags per second come from the long run, clients
# interleaved round by round (ptk, pycomm3, pylogix, ptk, ...), and the table gives medians.
#
# Settings (environment): ROUNDS=3, TAGS=1000, SHORT=1, LONG=5 (seconds),
# CLIENTS="ptk pycomm3 pylogix", OUT=benches/results/enip.md.
# The Python clients come from the venv `.ci/enip-interop.sh` makes (target/enip-venv);
# this script makes it too when it is missing.
#
# Exit status: non-zero if a run failed or returned a wrong value. The issue's targets (fewest
# round trips of the three; at least 10x pycomm3's tags per second) are reported, with a
# verdict line, not enforced.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
TAGS=${TAGS:-1000}
SHORT=${SHORT:-1}
LONG=${LONG:-5}
CLIENTS=${CLIENTS:-"ptk pycomm3 pylogix"}
OUT=${OUT:-benches/results/enip.md}
VENV=target/enip-venv
PY=$VENV/bin/python

log() { printf 'enip-bench: %s\n' "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

if ! "$PY" -c 'import pylogix, pycomm3' 2>/dev/null; then
    log "making $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "cpppo==5.2.5" "pylogix==1.1.6" "pycomm3==1.2.16"
fi
log "building (release)"
cargo build -q --release --example enip_server
cargo build -q --release -p ptk-bench --bin enip_read_many
SERVER=target/release/examples/enip_server
PTK=target/release/enip_read_many

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

mapfile -t SPECS < <(for ((i = 0; i < TAGS; i++)); do echo "T$i=DINT"; done)

# field KEY FILE: the value of `KEY value` (or `key=value` in a `result` line) in FILE.
field() {
    sed -n -e "s/^$1 \\([^ ]*\\)\$/\\1/p" -e "s/^result .*\\b$1=\\([^ ]*\\).*/\\1/p" "$2" | head -n 1
}

# run CLIENT SECONDS TAG: a fresh server, CLIENT reading for SECONDS; leaves $WORK/TAG.client
# and $WORK/TAG.server (the server's statistics).
run() {
    local client=$1 seconds=$2 tag=$3 addr=
    "$SERVER" --bind 127.0.0.1:0 --stats --quiet "${SPECS[@]}" >"$WORK/$tag.server" \
        2>"$WORK/$tag.server.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        addr=$(sed -n 's/^listening on //p' "$WORK/$tag.server")
        [ -n "$addr" ] && break
        sleep 0.05
    done
    [ -n "$addr" ] || die "$tag: the server did not start: $(cat "$WORK/$tag.server.err")"
    case $client in
        ptk) timeout 120 "$PTK" --addr "$addr" --tags "$TAGS" --seconds "$seconds" ;;
        *) timeout 120 "$PY" tests/interop/enip_bench.py "$client" "$addr" "$TAGS" \
            --seconds "$seconds" ;;
    esac >"$WORK/$tag.client" 2>"$WORK/$tag.client.err" ||
        die "$tag: $client failed: $(tail -n 3 "$WORK/$tag.client.err")"
    kill -INT "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=
    [ -n "$(field requests "$WORK/$tag.server")" ] ||
        die "$tag: no statistics from the server: $(tail -n 3 "$WORK/$tag.server.err")"
}

# reads TAG: how many reads of all the tags the client made (the Python clients' warm-up call
# included).
reads() {
    local r
    r=$(field reads "$WORK/$1.client")
    if [ -z "$r" ]; then r=$(($(field calls "$WORK/$1.client") + 1)); fi
    echo "$r"
}

printf 'round\tclient\tper_read\tsetup\ttags_per_second\n' >"$WORK/runs.tsv"
for ((round = 1; round <= ROUNDS; round++)); do
    for client in $CLIENTS; do
        run "$client" "$SHORT" "$client-$round-short"
        run "$client" "$LONG" "$client-$round-long"
        s="$WORK/$client-$round-short"
        l="$WORK/$client-$round-long"
        rs=$(reads "$client-$round-short")
        rl=$(reads "$client-$round-long")
        qs=$(field requests "$s.server")
        ql=$(field requests "$l.server")
        [ "$rl" -gt "$rs" ] || die "$client round $round: the long run made no more reads ($rl, $rs)"
        per=$(awk -v a="$ql" -v b="$qs" -v x="$rl" -v y="$rs" 'BEGIN { printf "%.2f", (a - b) / (x - y) }')
        setup=$(awk -v q="$qs" -v r="$rs" -v p="$per" 'BEGIN { printf "%.0f", q - r * p }')
        tps=$(field tags_per_second "$l.client")
        printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$client" "$per" "$setup" "$tps" >>"$WORK/runs.tsv"
        log "round $round $client: $per round trips per read, $setup before the first," \
            "$tps tags/s (server: $ql requests for $rl reads)"
    done
done

# Medians per client.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v c="$1" -v n="$2" 'NR > 1 && $2 == c { print $n }' "$WORK/runs.tsv" | median; }

{
    echo "# EtherNet/IP benchmark: reading $TAGS distinct DINT tags from enip_server"
    echo
    echo "$(date -u +%Y-%m-%d), $(nproc) cores, $ROUNDS interleaved rounds, short ${SHORT} s / long ${LONG} s runs."
    echo "Round trips are the server's count of encapsulation requests. Medians."
    echo
    echo "| client | round trips per read of $TAGS tags | round trips before the first read | tags per second |"
    echo "|---|---:|---:|---:|"
    for client in $CLIENTS; do
        echo "| $client | $(col "$client" 3) | $(col "$client" 4) | $(col "$client" 5) |"
    done
    echo
    echo "Every run:"
    echo
    echo '```'
    column -t -s $'\t' "$WORK/runs.tsv"
    echo '```'
} >"$OUT"

ptk_rt=$(col ptk 3)
ptk_tps=$(col ptk 5)
verdict=""
for client in $CLIENTS; do
    [ "$client" = ptk ] && continue
    rt=$(col "$client" 3)
    if awk -v a="$ptk_rt" -v b="$rt" 'BEGIN { exit !(a <= b) }'; then
        verdict+="round trips: ptk $ptk_rt <= $client $rt; "
    else
        verdict+="round trips: ptk $ptk_rt > $client $rt (MISSED); "
    fi
done
if [[ " $CLIENTS " == *" pycomm3 "* ]]; then
    ratio=$(awk -v a="$ptk_tps" -v b="$(col pycomm3 5)" 'BEGIN { printf "%.1f", a / b }')
    if awk -v r="$ratio" 'BEGIN { exit !(r >= 10) }'; then
        verdict+="tags/s: ${ratio}x pycomm3 (target 10x: met)"
    else
        verdict+="tags/s: ${ratio}x pycomm3 (target 10x: MISSED)"
    fi
fi
echo "Targets: $verdict" >>"$OUT"
cat "$OUT"
