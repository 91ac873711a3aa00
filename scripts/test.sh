#!/usr/bin/env bash
# Runs every check and every test of share-backup, on a fresh machine:
# installs what is missing (cargo-deny; moto and Azurite through
# scripts/test-servers.sh), starts the test servers on 127.0.0.1, then runs
# fmt, clippy, the whole test suite, the provider linkage matrix, the
# dependency guards and cargo-deny. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A clean CI build gains nothing from incremental artifacts and they double
# the target directory (tens of GB across the test, clippy and feature builds).
if [[ "${CI:-}" == "true" ]]; then
    export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
cargo --version
rustc --version

if [[ -x scripts/test-servers.sh ]]; then
    step "test servers (moto S3, Azurite)"
    eval "$(scripts/test-servers.sh start)"
    trap 'scripts/test-servers.sh stop >/dev/null 2>&1 || true' EXIT
    export SHARE_BACKUP_REQUIRE_SERVERS=1
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
cargo test --workspace

step "optional features: gdrive with yup-oauth2"
cargo test -p share-backup-gdrive --features oauth
cargo clippy -p share-backup-gdrive --features oauth --all-targets -- -D warnings

step "provider linkage matrix (facade features: none, password, gdrive, both)"
for features in "--no-default-features" \
                "--no-default-features --features password" \
                "--no-default-features --features gdrive" \
                "--no-default-features --features password,gdrive"; do
    echo "--- share-backup $features"
    # shellcheck disable=SC2086
    cargo test -p share-backup $features --test linkage
done

step "dependency guard: share-backup-core pulls no HTTP, TLS, runtime or Google crate"
core_tree=$(cargo tree -p share-backup-core -e normal --prefix none --format '{p}')
if grep -E '^(hyper|http|reqwest|rustls|openssl|native-tls|tokio|google-|yup-oauth2|aws-lc|ring|object_store) ' <<<"$core_tree"; then
    echo "share-backup-core must not depend on the crates above" >&2
    exit 1
fi
echo "ok: $(wc -l <<<"$core_tree") crates in core's tree, none of them HTTP/TLS/runtime/Google"

step "cargo deny (licenses, bans, sources, advisories from ../shared/advisory-db)"
if ! command -v cargo-deny >/dev/null 2>&1; then
    cargo install cargo-deny --locked
fi
DB_SRC="$ROOT/../shared/advisory-db"
DB_DIR="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-3157b0e258782691"
if [[ -d "$DB_SRC" ]]; then
    rm -rf "$DB_DIR"
    mkdir -p "$DB_DIR"
    cp -R "$DB_SRC/." "$DB_DIR/"
    git -C "$DB_DIR" init -q
    git -C "$DB_DIR" add -A
    git -C "$DB_DIR" -c user.name=ci -c user.email=ci@localhost commit -qm "advisory-db snapshot" --no-verify
else
    echo "warning: $DB_SRC not found; checking advisories against whatever database is cached" >&2
fi
cargo fetch --locked --quiet # every package of the lock file, so --offline finds them all
cargo deny --offline check

step "all checks passed"
