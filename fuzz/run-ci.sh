#!/usr/bin/env bash
# Runs every cargo-fuzz target of ptk for a bounded time; called from `.ci/run`.
#
# * With a nightly toolchain: installs cargo-fuzz into target/tools (reused when there),
#   then fuzzes each target for FUZZ_SECONDS (default 20) seconds or FUZZ_RUNS (default
#   5,000,000) inputs, whichever comes first, starting from the committed corpus. A
#   crash fails the script and leaves the input under fuzz/artifacts/<target>/.
# * Without one: prints `fuzz: skipped (no nightly toolchain)` and exits 0.
#
# Safe in CI: reads nothing from stdin, installs nothing outside the repository, never
# writes into the committed corpus (new inputs go to a temporary directory), builds with
# the committed fuzz/Cargo.lock as it is (checked with `--locked`), and every step runs under
# `timeout`, so it cannot hang.
set -euo pipefail

cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-20}"
runs="${FUZZ_RUNS:-5000000}"
# Building the targets with sanitizers can take minutes on a cold cache; fuzzing itself stops
# after $seconds. The outer limit only catches a wedged process.
step_limit="${FUZZ_STEP_LIMIT:-900}"
targets=(modbus_request modbus_response modbus_server modbus_client frame_reader handle_pool
    buffer_pool enip_encap enip_cip enip_reply)

# rustup must not install a toolchain on its own while we only ask whether one exists.
export RUSTUP_AUTO_INSTALL=0

if ! timeout 60 cargo +nightly --version </dev/null >/dev/null 2>&1; then
    echo "fuzz: skipped (no nightly toolchain)"
    exit 0
fi

# cargo-fuzz lives under the repository's target/, not in ~/.cargo.
tools="$(cd .. && pwd)/target/tools"
export PATH="$tools/bin:$PATH"
if ! [ -x "$tools/bin/cargo-fuzz" ]; then
    echo "fuzz: installing cargo-fuzz into target/tools"
    if ! timeout "$step_limit" cargo install --root "$tools" cargo-fuzz --locked </dev/null; then
        echo "fuzz: skipped (cargo-fuzz is missing and could not be installed)"
        exit 0
    fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# cargo-fuzz has no --locked: check that the committed lock file needs no change, so the
# builds below leave it as it is.
if ! timeout "$step_limit" cargo +nightly metadata --locked --format-version 1 \
    </dev/null >/dev/null; then
    echo "fuzz: FAILED: fuzz/Cargo.lock is out of date (run \`cargo +nightly fuzz build\` in fuzz/ and commit it)"
    exit 1
fi

status=0
for target in "${targets[@]}"; do
    echo "fuzz: $target for ${seconds}s (at most $runs runs)"
    mkdir -p "$work/$target"
    set +e
    timeout "$step_limit" cargo +nightly fuzz run "$target" "$work/$target" "corpus/$target" \
        -- -max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 </dev/null
    rc=$?
    set -e
    case "$rc" in
        0) echo "fuzz: $target ok" ;;
        124) echo "fuzz: $target FAILED: still running after ${step_limit}s"; status=1 ;;
        *) echo "fuzz: $target FAILED (exit $rc); the input is under fuzz/artifacts/$target/"
           status=1 ;;
    esac
done
exit "$status"
