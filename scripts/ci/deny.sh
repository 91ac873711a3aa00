#!/usr/bin/env bash
# cargo-deny: licenses, bans, sources and RustSec advisories (policy in
# deny.toml). Runs on any clone, from any directory; never fails for where a
# directory is. Where the advisory database comes from, in this order:
#
#   1. CI's snapshot: a directory `advisory-db` beside the clone
#      (../shared/advisory-db from the workspace root) or the directory named
#      by SHARE_BACKUP_ADVISORY_DB. It is copied into target/advisory-dbs
#      as a fresh git repository, and checked with --offline.
#   2. Otherwise cargo-deny fetches the database itself (`cargo deny fetch db`,
#      network to github.com).
#   3. When that fails (no network), `cargo deny check licenses bans sources`
#      runs, and one line says that advisories were skipped and why.
#
# Installs cargo-deny when it is missing. Run alone: scripts/ci/deny.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

if ! command -v cargo-deny >/dev/null 2>&1; then
    echo "installing cargo-deny (not found on PATH)"
    # cargo-deny's own release profile is fat LTO with one codegen unit (over
    # 5 minutes on 2 cores); a checker gains nothing from that.
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
        cargo install cargo-deny --locked
fi

# deny.toml sets db-path = "target/advisory-dbs" (relative to the workspace
# root, where this script runs cargo-deny); the subdirectory name is the one
# cargo-deny derives from the default RustSec URL. Only this copy inside
# target/ is ever replaced, never $CARGO_HOME's.
DB_PARENT="$ROOT/target/advisory-dbs"
DB_DIR="$DB_PARENT/advisory-db-3157b0e258782691"
SNAPSHOT="${SHARE_BACKUP_ADVISORY_DB:-$ROOT/../shared/advisory-db}"

# Every package of the lock file, so that --offline finds them all (a no-op
# when an earlier build downloaded them).
cargo fetch --locked --quiet

if [[ -d "$SNAPSHOT" ]]; then
    echo "advisories: the snapshot in $SNAPSHOT"
    rm -rf "$DB_DIR"
    mkdir -p "$DB_DIR"
    cp -R "$SNAPSHOT/." "$DB_DIR/"
    rm -rf "$DB_DIR/.git"
    git -C "$DB_DIR" init -q
    git -C "$DB_DIR" add -A
    git -C "$DB_DIR" -c user.name=ci -c user.email=ci@localhost commit -qm "advisory-db snapshot" --no-verify
    cargo deny --offline check
    exit 0
fi

mkdir -p "$DB_PARENT"
fetch_log=$(mktemp)
trap 'rm -f "$fetch_log"' EXIT
if cargo deny fetch db >"$fetch_log" 2>&1; then
    echo "advisories: the RustSec database, fetched by cargo-deny into target/advisory-dbs"
    cargo deny --offline check
else
    # The last line of cargo-deny's output says why (DNS, refused, timeout).
    why=$(grep -v '^[[:space:]]*$' "$fetch_log" | tail -n 1 | cut -c1-200)
    cargo deny --offline check licenses bans sources
    echo "advisories: SKIPPED: cargo-deny could not fetch the RustSec advisory database (no network?): ${why:-no output}"
fi
