#!/usr/bin/env bash
# The whole test suite again, on the io_uring backend: the `io-uring` feature compiled in,
# PTK_BACKEND=io_uring makes every `Config::default()` ask for it, and PTK_BACKEND_STRICT=1
# makes a fallback to mio an error of `EventLoop::new`, so a kernel or seccomp policy that
# refuses io_uring fails this step instead of silently testing mio twice.
set -euo pipefail
cd "$(dirname "$0")/.."

export PTK_BACKEND=io_uring PTK_BACKEND_STRICT=1
features=(--features ptk-runtime/io-uring)

# First, which backend runs (printed by the test), before spending time on the rest.
probe=$(cargo test -q -p ptk-runtime "${features[@]}" --test backend -- \
    --nocapture --test-threads=1 the_default_config 2>&1) || {
    echo "$probe"
    echo "!!! io_uring: UNAVAILABLE on this machine: the strict io_uring loop could not start."
    echo "!!! (A kernel without io_uring, or a seccomp policy such as Docker's default, refuses"
    echo "!!! io_uring_setup; the loop falls back to mio there, which this step must not test.)"
    exit 1
}
line=$(grep -m1 '^ptk backend:' <<<"$probe" || true)
echo "${line:-ptk backend: (no line printed)}"
if [[ "$line" != "ptk backend: requested io_uring, running io_uring" ]]; then
    echo "!!! io_uring was requested but did not run: $line"
    exit 1
fi

cargo test --workspace "${features[@]}"
echo "io_uring: the workspace's tests ran on the io_uring backend (strict, no fallback)"
