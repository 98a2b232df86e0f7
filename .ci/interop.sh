#!/usr/bin/env bash
# Modbus interoperability with pymodbus, both ways (ptk-modbus/tests/interop.rs).
# Installs pymodbus into a venv under target/ (once), then runs the interop tests with it.
# Skips, saying so, when python3 or its venv module is missing or pip cannot install.
set -euo pipefail
cd "$(dirname "$0")/.."

PYMODBUS_VERSION=3.16.1
VENV=target/interop-venv

if ! command -v python3 >/dev/null 2>&1; then
    echo "interop: SKIPPED (no python3)"
    exit 0
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import pymodbus" 2>/dev/null; then
    echo "interop: installing pymodbus==$PYMODBUS_VERSION into $VENV"
    if ! python3 -m venv "$VENV" || ! "$VENV/bin/pip" install -q "pymodbus==$PYMODBUS_VERSION"; then
        echo "interop: SKIPPED (cannot create the venv or install pymodbus)"
        exit 0
    fi
fi
echo "interop: pymodbus $("$VENV/bin/python" -c 'import pymodbus; print(pymodbus.__version__)')"
PTK_INTEROP_PYTHON="$PWD/$VENV/bin/python" \
    cargo test -p ptk-modbus --test interop -- --nocapture
