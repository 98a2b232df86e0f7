#!/usr/bin/env bash
# Packaging of the publishable crates (every workspace member without `publish = false`):
# each package must hold its README and both license files and list without warnings, and
# `cargo publish --workspace --dry-run` (which packages them in dependency order against a
# local registry of the others, builds each from its package and uploads nothing) must pass
# without warnings. Checks the files on disk, committed or not.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "package: FAILED: $*" >&2
    exit 1
}

# The publishable members: `publish` is null (anywhere) or a non-empty list of registries.
CRATES=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["publish"] is None or p["publish"]:
        print(p["name"])
')
[ -n "$CRATES" ] || fail "no publishable crate found"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for crate in $CRATES; do
    if ! cargo package -p "$crate" --list --allow-dirty >"$WORK/$crate.list" 2>"$WORK/$crate.err"; then
        cat "$WORK/$crate.err" >&2
        fail "cargo package -p $crate --list"
    fi
    if grep -q '^warning' "$WORK/$crate.err"; then
        cat "$WORK/$crate.err" >&2
        fail "$crate: cargo package warns"
    fi
    for file in README.md LICENSE-MIT LICENSE-APACHE; do
        grep -qx "$file" "$WORK/$crate.list" || fail "$crate: $file is not in the package"
    done
    echo "package: $crate: $(wc -l <"$WORK/$crate.list") files, README and licenses in"
done

if ! cargo publish --workspace --dry-run --allow-dirty >"$WORK/publish.log" 2>&1; then
    cat "$WORK/publish.log" >&2
    fail "cargo publish --workspace --dry-run"
fi
if grep '^warning' "$WORK/publish.log" | grep -v 'aborting upload due to dry run' >&2; then
    fail "cargo publish --workspace --dry-run warns"
fi
echo "package: cargo publish --workspace --dry-run: $(grep -c '^ *Uploading' "$WORK/publish.log") crates ready ($(echo $CRATES))"
