#!/usr/bin/env bash
# Modbus interoperability with pymodbus, both ways (ptk-modbus/tests/interop.rs).
# Installs pymodbus into a venv under target/ (once), then runs the interop tests, which
# `cargo test` alone ignores, with `--ignored`.
# When python3, its venv module or the pip install is missing: with CI=true the script fails
# (CI must not pass without having run the tests); elsewhere it skips, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."

PYMODBUS_VERSION=3.16.1
VENV=target/interop-venv

unavailable() {
    if [ "${CI:-}" = "true" ]; then
        echo "interop: FAILED ($1; CI=true, so the interop tests must run)" >&2
        exit 1
    fi
    echo "interop: SKIPPED ($1)"
    exit 0
}

if ! command -v python3 >/dev/null 2>&1; then
    unavailable "no python3"
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import pymodbus" 2>/dev/null; then
    echo "interop: installing pymodbus==$PYMODBUS_VERSION into $VENV"
    if ! python3 -m venv "$VENV" || ! "$VENV/bin/pip" install -q "pymodbus==$PYMODBUS_VERSION"; then
        unavailable "cannot create the venv or install pymodbus"
    fi
fi
echo "interop: pymodbus $("$VENV/bin/python" -c 'import pymodbus; print(pymodbus.__version__)')"
PTK_INTEROP_PYTHON="$PWD/$VENV/bin/python" \
    cargo test -p ptk-modbus --test interop -- --ignored --nocapture
