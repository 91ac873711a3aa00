#!/usr/bin/env bash
# Runs every check and every test of share-backup, on a fresh machine:
# installs what is missing (cargo-deny; moto and Azurite through
# scripts/test-servers.sh), starts the test servers on 127.0.0.1, then runs
# fmt, clippy, the whole test suite, the provider linkage matrix, the
# independent check of the envelope vectors, the dependency guards and
# cargo-deny. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A clean CI build gains nothing from incremental artifacts and they double
# the target directory (tens of GB across the test, clippy and feature builds).
if [[ "${CI:-}" == "true" ]]; then
    export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi

START=$SECONDS
step() { printf '\n==> [%ss] %s\n' "$((SECONDS - START))" "$*"; }

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

# gdrive's optional `oauth` feature (yup-oauth2) is on in every build here:
# builds with and without it each compiled the Google stack again (about 8 of
# CI's 30 minutes). Without the feature gdrive only drops two entries of its
# settings list (`cfg!`, so that code compiles in both), which a test pins.
step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --features share-backup-gdrive/oauth -- -D warnings

step "cargo test --workspace (gdrive with its oauth feature)"
cargo test --workspace --features share-backup-gdrive/oauth

step "provider linkage matrix (facade features: none, password, gdrive, both)"
# `cargo test --workspace` above covers only the default cell (both): cargo
# unifies features within one invocation, so each other cell needs its own
# build of the facade (the gdrive rows with its oauth feature, as above, so
# they reuse the Google stack). See crates/share-backup/tests/linkage.rs.
for features in "--no-default-features" \
                "--no-default-features --features password" \
                "--no-default-features --features gdrive,share-backup-gdrive/oauth" \
                "--no-default-features --features password,gdrive,share-backup-gdrive/oauth"; do
    echo "--- share-backup $features"
    # shellcheck disable=SC2086
    cargo test -p share-backup $features --test linkage
done

step "Python bindings (share-backup-ffi, pytest)"
scripts/ci/bindings-python.sh

step "Kotlin bindings (JUnit 5 through Maven) and the Swift sources up to date"
scripts/ci/bindings-kotlin.sh

step "envelope vectors against an independent AES-SIV (OpenSSL, via python cryptography)"
if python3 -c 'import cryptography' 2>/dev/null; then
    python3 crates/core/testdata/check_vectors.py >/dev/null
    echo "ok: crates/core/testdata/envelope-v1.json agrees with OpenSSL's AES-SIV"
else
    echo "skipped: python3 cannot import cryptography (pip install cryptography)" >&2
fi

step "password KDF vectors against an independent stdlib-Python Balloon-M + HKDF"
python3 providers/password/testdata/check_vectors.py

step "dependency guard: share-backup-core pulls no HTTP, TLS, runtime or Google crate"
# A crate is forbidden when its name is one of these or starts with one of
# them followed by - or _ (google-drive3, aws-lc-rs, hyper-rustls, tokio-rustls,
# webpki-roots, ...). `cargo tree --format '{p}'` prints "name vX.Y.Z".
FORBIDDEN='^(hyper|http|h2|reqwest|rustls|tokio|webpki|openssl|native-tls|yup-oauth2|ring|object_store|google|aws-lc|aws-sdk|gcp_auth|tonic)([-_][^ ]*)? v'
forbidden_in() { grep -E "$FORBIDDEN" <<<"$1"; }
# The guard must be able to fail: it has to catch each of these.
canary=$'google-drive3 v7.0.0\naws-lc-rs v1.13.0\nhyper-rustls v0.27.7\nhyper-util v0.1.16\nh2 v0.4.12\nhttp-body v1.0.1\ntokio-rustls v0.26.2\nwebpki-roots v1.0.2\nring v0.17.14\nyup-oauth2 v12.1.0\nrustls v0.23.31'
if [[ $(forbidden_in "$canary" | wc -l) -ne $(wc -l <<<"$canary") ]]; then
    echo "the dependency guard pattern misses a forbidden crate of the canary list" >&2
    exit 1
fi
if forbidden_in $'httparse v1.10.1\nstring-interner v0.1.0\nhex v0.4.3' >/dev/null; then
    echo "the dependency guard pattern matches an allowed crate" >&2
    exit 1
fi
core_tree=$(cargo tree -p share-backup-core -e normal,build --target all --prefix none --format '{p}')
if forbidden_in "$core_tree"; then
    echo "share-backup-core must not depend on the crates above" >&2
    exit 1
fi
echo "ok: $(sort -u <<<"$core_tree" | wc -l) crates in core's tree, none of them HTTP/TLS/runtime/Google"

step "cargo deny (licenses, bans, sources, advisories from ../shared/advisory-db)"
if ! command -v cargo-deny >/dev/null 2>&1; then
    # cargo-deny's own release profile is fat LTO with one codegen unit (over
    # 5 minutes on 2 cores); a checker gains nothing from that.
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
        cargo install cargo-deny --locked
fi
DB_SRC="$ROOT/../shared/advisory-db"
# deny.toml sets db-path = "target/advisory-dbs" (relative to this directory);
# the subdirectory name is the one cargo-deny derives from the default RustSec
# URL. Only this copy inside target/ is replaced, never $CARGO_HOME's.
DB_DIR="$ROOT/target/advisory-dbs/advisory-db-3157b0e258782691"
if [[ -d "$DB_SRC" ]]; then
    rm -rf "$DB_DIR"
    mkdir -p "$DB_DIR"
    cp -R "$DB_SRC/." "$DB_DIR/"
    rm -rf "$DB_DIR/.git"
    git -C "$DB_DIR" init -q
    git -C "$DB_DIR" add -A
    git -C "$DB_DIR" -c user.name=ci -c user.email=ci@localhost commit -qm "advisory-db snapshot" --no-verify
else
    echo "warning: $DB_SRC not found; checking advisories against whatever is in $DB_DIR" >&2
fi
cargo fetch --locked --quiet # every package of the lock file, so --offline finds them all
cargo deny --offline check

step "all checks passed"
