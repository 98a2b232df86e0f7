#!/usr/bin/env bash
# The no_std builds for a bare-metal target (thumbv7em-none-eabihf, a Cortex-M4F): the runtime
# core, the Modbus codec and the EtherNet/IP codec without default features, each with and
# without `log`, and the bare-metal example (a protothread over the codec, without the event loop). A crate that
# pulled in `std` would fail here, as the target has none. Adds the target with rustup when
# it is missing, and fails if it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=thumbv7em-none-eabihf

if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    echo "embedded: adding the $TARGET target"
    if ! rustup target add "$TARGET"; then
        echo "embedded: FAILED: cannot add the $TARGET target with rustup" >&2
        exit 1
    fi
fi

build() {
    echo "embedded: cargo build $* --target $TARGET"
    cargo build "$@" --target "$TARGET"
}

build -p ptk-runtime --no-default-features
build -p ptk-runtime --no-default-features --features log
build -p ptk-modbus --no-default-features
build -p ptk-modbus --no-default-features --features log
build -p ptk-enip --no-default-features
build -p ptk-enip --no-default-features --features log
build -p ptk-bare-metal-example
