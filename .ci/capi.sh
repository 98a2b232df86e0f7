#!/usr/bin/env bash
# What the C API's tests (ptk-capi/tests) need beyond the Rust toolchain: a C and a C++
# compiler with AddressSanitizer/UBSan runtimes, and binutils' nm. Installs Debian's gcc, g++
# and binutils when something is missing (quietly, idempotently) and fails loudly if it
# cannot: the sanitized C tests never skip.
set -euo pipefail

probe() {
    local dir
    dir=$(mktemp -d)
    printf 'int main(void) { return 0; }\n' >"$dir/p.c"
    command -v nm >/dev/null && command -v c++ >/dev/null &&
        cc -fsanitize=address,undefined -o "$dir/p" "$dir/p.c" 2>/dev/null && "$dir/p"
    local ok=$?
    rm -rf "$dir"
    return $ok
}

if probe; then
    exit 0
fi
echo "capi: installing gcc, g++ and binutils (C compilers with sanitizer runtimes, nm)"
sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd=sudo; fi
if ! $sudo_cmd apt-get install -y -q gcc g++ binutils >/dev/null; then
    $sudo_cmd apt-get update -q >/dev/null
    $sudo_cmd apt-get install -y -q gcc g++ binutils >/dev/null
fi
if ! probe; then
    echo "capi: FAIL: cc -fsanitize=address,undefined still does not build and run a program" >&2
    exit 1
fi
