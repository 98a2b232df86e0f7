#!/usr/bin/env bash
# EtherNet/IP + CIP interoperability: pylogix and pycomm3 against our server
# (ptk-enip/tests/interop.rs), our client against cpppo's simulator and the Python stand-in
# server (ptk-enip/tests/interop_client.rs).
# Installs the three Python packages into a venv under target/ (once, reused after), then runs
# the interop tests, which `cargo test` alone ignores, with `--ignored`.
# When python3, its venv module or the pip install is missing: with CI=true the script fails
# (CI must not pass without having run the tests); elsewhere it skips, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."

CPPPO_VERSION=5.2.5
PYLOGIX_VERSION=1.1.6
PYCOMM3_VERSION=1.2.16
VENV=target/enip-venv
PACKAGES=("cpppo==$CPPPO_VERSION" "pylogix==$PYLOGIX_VERSION" "pycomm3==$PYCOMM3_VERSION")

unavailable() {
    if [ "${CI:-}" = "true" ]; then
        echo "enip-interop: FAILED ($1; CI=true, so the interop tests must run)" >&2
        exit 1
    fi
    echo "enip-interop: SKIPPED ($1)"
    exit 0
}

# Prints the installed versions, and fails unless they are exactly the pinned ones.
installed() {
    "$VENV/bin/python" - "$CPPPO_VERSION" "$PYLOGIX_VERSION" "$PYCOMM3_VERSION" <<'PY'
import sys
from importlib.metadata import version
import cpppo.server.enip, pylogix, pycomm3  # noqa: F401  (each must import, not only be listed)
want = dict(zip(("cpppo", "pylogix", "pycomm3"), sys.argv[1:]))
have = {name: version(name) for name in want}
print(" ".join(f"{name} {have[name]}" for name in want))
sys.exit(0 if have == want else 1)
PY
}

if ! command -v python3 >/dev/null 2>&1; then
    unavailable "no python3"
fi
if [ ! -x "$VENV/bin/python" ] || ! installed >/dev/null 2>&1; then
    echo "enip-interop: installing ${PACKAGES[*]} into $VENV"
    if ! python3 -m venv "$VENV" || ! "$VENV/bin/pip" install -q "${PACKAGES[@]}"; then
        unavailable "cannot create the venv or install ${PACKAGES[*]}"
    fi
fi
if ! versions=$(installed); then
    unavailable "the venv at $VENV does not import ${PACKAGES[*]} (found: ${versions:-none})"
fi
echo "enip-interop: $versions"

# The test targets must exist: a missing one is a failure, never a silent pass.
for t in interop interop_client; do
    if [ ! -f "ptk-enip/tests/$t.rs" ]; then
        echo "enip-interop: FAILED (ptk-enip/tests/$t.rs does not exist)" >&2
        exit 1
    fi
done
PTK_ENIP_PYTHON="$PWD/$VENV/bin/python" \
    cargo test -p ptk-enip --test interop --test interop_client -- --ignored --nocapture
