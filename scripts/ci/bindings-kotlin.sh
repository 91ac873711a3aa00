#!/usr/bin/env bash
# The Kotlin/JVM bindings' CI step, and the check that the committed Swift
# sources are up to date.
#
#   1. builds the share-backup-ffi cdylib (dev profile, feature `testing` for
#      the fake Drive; no release build) and the pinned uniffi-bindgen,
#   2. generates the Kotlin into bindings/kotlin/target/uniffi/kotlin and
#      copies the host's library to bindings/kotlin/target/uniffi/native/<os-arch>/
#      (JNA's resource layout; neither is committed),
#   3. runs the JUnit 5 suite through Maven (`mvn -B -q test`) and prints the
#      totals of the surefire reports; fails when a test fails or none ran,
#   4. regenerates the Swift sources into a temporary directory and fails
#      when they differ from bindings/swift (run bindings/swift/generate.sh),
#      and fails when the committed Swift names any item that only the
#      `testing` build exports (bindings/swift/check_no_testing_items.py, a
#      check of the sources against testing.rs: no second build without
#      `testing` is needed, and an app's build has none of those symbols).
#
# Installs Maven and a JDK 17 from Debian when they are missing. Maven
# downloads its plugins and the dependencies into ~/.m2 on the first run
# (about 20 s); later runs need no network.
#
# Usage: scripts/ci/bindings-kotlin.sh [--no-swift-check] [extra mvn args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
START=$SECONDS
say() { printf -- '--- [bindings-kotlin %ss] %s\n' "$((SECONDS - START))" "$*"; }

SWIFT_CHECK=1
if [[ "${1:-}" == "--no-swift-check" ]]; then
    SWIFT_CHECK=0
    shift
fi

# Without root, Maven and the JDK cannot be installed: the JUnit suite is
# skipped with one SKIPPED line (the Swift check still runs), unless CI=true
# or SHARE_BACKUP_REQUIRE_SERVERS=1, when the step fails (scripts/ci/require.sh).
source scripts/ci/require.sh
KOTLIN=1
if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
    if is_root; then
        say "installing Maven and a JDK 17 (Debian packages)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven openjdk-17-jdk-headless >/dev/null
    else
        skip_or_fail "the Kotlin bindings' JUnit suite" \
            "mvn or javac is missing and installing them needs root" \
            "sudo apt-get install maven openjdk-17-jdk-headless, then scripts/ci/bindings-kotlin.sh"
        KOTLIN=0
    fi
fi

# Exactly the build of scripts/ci/bindings-python.sh (same packages, same
# features), so the second of the two steps finds the library built.
say "cargo build -p share-backup-ffi --features testing -p share-backup-uniffi-bindgen (dev profile)"
cargo build -p share-backup-ffi --features testing -p share-backup-uniffi-bindgen

TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
LIB="$TARGET_DIR/debug/libshare_backup_ffi.so"
BINDGEN="$TARGET_DIR/debug/uniffi-bindgen"
[[ -f "$LIB" ]] || { echo "bindings-kotlin: $LIB was not built" >&2; exit 1; }

KT="$ROOT/bindings/kotlin"
GEN="$KT/target/uniffi/kotlin"
NATIVE="$KT/target/uniffi/native/linux-x86-64"
say "generating Kotlin into ${GEN#"$ROOT"/}"
rm -rf "$GEN" "$NATIVE"
mkdir -p "$GEN" "$NATIVE"
# Work on copies from here on: another build in a shared target directory
# may replace the library while Maven runs, and the Swift check below must
# see the library the Kotlin tests ran on.
cp "$LIB" "$NATIVE/"
cp "$BINDGEN" "$KT/target/uniffi/uniffi-bindgen"
LIB="$NATIVE/$(basename "$LIB")"
BINDGEN="$KT/target/uniffi/uniffi-bindgen"
"$BINDGEN" generate --library "$LIB" --language kotlin --no-format \
    --config "$KT/uniffi.toml" --out-dir "$GEN"

if [[ $KOTLIN -eq 1 ]]; then
say "mvn -B -q test (bindings/kotlin)"
rm -rf "$KT/target/surefire-reports"
status=0
(cd "$KT" && mvn -B -q -Dstyle.color=never test "$@") || status=$?
echo

# Maven's -q hides the totals: sum the surefire reports (one XML per class).
read -r tests failures errors skipped < <(python3 - "$KT/target/surefire-reports" <<'PY'
import glob, os, sys
import xml.etree.ElementTree as ET
t = f = e = s = 0
for path in glob.glob(os.path.join(sys.argv[1], "TEST-*.xml")):
    r = ET.parse(path).getroot()
    t += int(r.get("tests", 0)); f += int(r.get("failures", 0))
    e += int(r.get("errors", 0)); s += int(r.get("skipped", 0))
print(t, f, e, s)
PY
)
echo "Tests run: $tests, Failures: $failures, Errors: $errors, Skipped: $skipped"
echo "kotlin: $((tests - failures - errors - skipped)) passed, $((failures + errors)) failed, $skipped skipped"
if [[ $status -ne 0 ]]; then
    echo "bindings-kotlin: Maven failed (exit $status)" >&2
    exit "$status"
fi
if [[ $tests -eq 0 ]]; then
    echo "bindings-kotlin: no Kotlin test ran" >&2
    exit 1
fi
if [[ $((failures + errors)) -ne 0 ]]; then
    exit 1
fi
fi # KOTLIN

if [[ $SWIFT_CHECK -eq 1 ]]; then
    say "Swift sources name nothing that only the testing build exports"
    python3 bindings/swift/check_no_testing_items.py bindings/swift
    say "Swift sources up to date with the crate (regenerate and diff)"
    FRESH=$(mktemp -d)
    trap 'rm -rf "$FRESH"' EXIT
    bindings/swift/generate.sh --lib "$LIB" --bindgen "$BINDGEN" --out "$FRESH" >/dev/null
    for d in Sources Headers; do
        if ! diff -ru "$FRESH/$d" "bindings/swift/$d" >/dev/null; then
            diff -ru "$FRESH/$d" "bindings/swift/$d" | head -40 >&2 || true
            echo "bindings-kotlin: bindings/swift/$d is stale; run bindings/swift/generate.sh and commit" >&2
            exit 1
        fi
    done
    echo "ok: bindings/swift/{Sources,Headers} match the crate"
fi
say "done"
