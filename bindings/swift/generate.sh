#!/usr/bin/env bash
# Generates the Swift bindings of share-backup with the workspace's pinned
# uniffi-bindgen (the UniFFI version of the scaffolding) and lays them out
# for Swift Package Manager and an XCFramework:
#
#   Sources/ShareBackup/ShareBackup.swift   the Swift API (module ShareBackup)
#   Headers/ShareBackupFFI.h                the C declarations it calls
#   Headers/module.modulemap                module ShareBackupFFI
#
# Usage: bindings/swift/generate.sh [--lib LIB] [--bindgen BIN] [--out DIR]
#   --lib, --bindgen  an already built library and bindgen (default: builds
#                     them, dev profile, as scripts/ci/bindings-*.sh do)
#   --out DIR         where to write Sources/ and Headers/ (default: bindings/swift)
# The output does not depend on the build profile, the host or the
# `testing` feature: every export of the test-only testing.rs is excluded in
# uniffi.toml, and check_no_testing_items.py fails the run if one is not.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LIB="" BINDGEN="" OUT="$HERE"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --lib) LIB="$2"; shift 2 ;;
        --bindgen) BINDGEN="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        *) echo "usage: $0 [--lib LIB] [--bindgen BIN] [--out DIR]" >&2; exit 2 ;;
    esac
done
if [[ -z "$LIB" || -z "$BINDGEN" ]]; then
    (cd "$ROOT" && cargo build -p share-backup-ffi --features testing -p share-backup-uniffi-bindgen)
    TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    case "$(uname -s)" in Darwin) EXT=dylib ;; *) EXT=so ;; esac
    LIB="${LIB:-$TARGET_DIR/debug/libshare_backup_ffi.$EXT}"
    BINDGEN="${BINDGEN:-$TARGET_DIR/debug/uniffi-bindgen}"
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$BINDGEN" generate --library "$LIB" --language swift --no-format \
    --config "$HERE/uniffi.toml" --out-dir "$TMP"
rm -rf "$OUT/Sources" "$OUT/Headers"
mkdir -p "$OUT/Sources/ShareBackup" "$OUT/Headers"
mv "$TMP/ShareBackup.swift" "$OUT/Sources/ShareBackup/ShareBackup.swift"
mv "$TMP/ShareBackupFFI.h" "$OUT/Headers/ShareBackupFFI.h"
mv "$TMP/ShareBackupFFI.modulemap" "$OUT/Headers/module.modulemap"
leftover=$(ls -A "$TMP")
if [[ -n "$leftover" ]]; then
    echo "generate.sh: unexpected generated files: $leftover" >&2
    exit 1
fi
# Nothing only the `testing` build exports (FakeDrive, bench_*) may be named:
# an app links a library built without `testing`.
python3 "$HERE/check_no_testing_items.py" "$OUT" >/dev/null
echo "wrote $OUT/Sources/ShareBackup/ShareBackup.swift and $OUT/Headers/{ShareBackupFFI.h,module.modulemap}"
