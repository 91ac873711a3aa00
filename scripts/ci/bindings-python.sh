#!/usr/bin/env bash
# The Python bindings' CI step: builds share-backup-ffi (dev profile, the
# shared target directory, feature `testing` for the fake Drive), generates
# the Python module with the pinned uniffi-bindgen, lays it out as the
# `share_backup` package beside the library (as the maturin wheel does),
# and runs the pytest suite in a venv. No release build: the wheel itself is
# built with `maturin build` (bindings/python/README.md), not here.
#
# Exits non-zero when a test fails, and when pytest collects no test (its
# exit code 5), so an empty or broken suite cannot pass.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$TARGET/bindings-python"
VENV="$TARGET/bindings-python-venv"
START=$SECONDS

echo "--- bindings-python: cargo build -p share-backup-ffi (dev profile, feature testing) and the pinned uniffi-bindgen"
cargo build -p share-backup-ffi --features testing -p share-backup-uniffi-bindgen

LIB="$TARGET/debug/libshare_backup_ffi.so"
if [[ ! -f "$LIB" ]]; then
    echo "bindings-python: $LIB was not built" >&2
    exit 1
fi

echo "--- bindings-python: generate the Python module"
rm -rf "$OUT"
mkdir -p "$OUT/share_backup"
"$TARGET/debug/uniffi-bindgen" generate --library "$LIB" --language python --out-dir "$OUT/share_backup"
cp "$LIB" "$OUT/share_backup/"
# The package's own __init__.py, as maturin puts it into the wheel
# (python-source), so the tests import the package exactly as users do.
cp "$ROOT/bindings/python/python/share_backup/__init__.py" "$OUT/share_backup/__init__.py"

echo "--- bindings-python: venv with pytest"
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import pytest' 2>/dev/null; then
    echo "reusing $VENV (pytest installed)"
else
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pytest==9.0.3"
fi

echo "--- bindings-python: pytest"
set +e
PYTHONPATH="$OUT" "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/bindings/python/tests"
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "bindings-python: pytest collected no tests; that is a failure" >&2
    exit 1
fi
if [[ $status -ne 0 ]]; then
    echo "bindings-python: pytest failed (exit $status)" >&2
    exit "$status"
fi
echo "bindings-python: passed in $((SECONDS - START)) s"
