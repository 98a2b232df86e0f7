#!/usr/bin/env bash
# The 32-bit build: the whole workspace's tests on i686-unknown-linux-gnu (a 32-bit `usize`,
# so mio tokens cannot carry whole handles; see ptk-runtime/src/event_loop/backend/mod.rs).
# Installs what it needs (the Rust target through rustup, Debian's gcc-multilib for the
# 32-bit C runtime) and fails if it cannot: this check never skips.
set -euo pipefail
cd "$(dirname "$0")/.."

target=i686-unknown-linux-gnu

if ! rustup target list --installed | grep -qx "$target"; then
    echo "i686: installing the Rust target $target"
    rustup target add "$target"
fi
if [ ! -e /usr/lib/gcc/x86_64-linux-gnu/"$(gcc -dumpversion)"/32/libgcc.a ]; then
    echo "i686: installing gcc-multilib"
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd=sudo; fi
    if ! $sudo_cmd apt-get install -y -q gcc-multilib >/dev/null; then
        $sudo_cmd apt-get update -q >/dev/null
        $sudo_cmd apt-get install -y -q gcc-multilib >/dev/null
    fi
fi
echo "i686: cargo test --workspace --target $target"
cargo test --workspace --target "$target"
