#!/usr/bin/env bash
# Runs every check and every test of share-backup, on a fresh machine:
# installs what is missing (cargo-deny; moto and Azurite through
# scripts/test-servers.sh), starts the test servers on 127.0.0.1, then runs
# fmt, clippy, the whole test suite, the provider linkage matrix, the
# independent check of the envelope vectors, the dependency guards and
# cargo-deny. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
# Whether the caller requires every part that needs a server or a package
# (CI=true or SHARE_BACKUP_REQUIRE_SERVERS=1), read before this script sets
# SHARE_BACKUP_REQUIRE_SERVERS=1 for the test servers it starts. Without it
# (a newcomer's clone, no root), the steps that cannot install what they need
# (PostgreSQL, Chromium, Maven) skip that part with one SKIPPED line saying
# why and how to enable it (scripts/ci/require.sh).
CALLER_REQUIRE=${SHARE_BACKUP_REQUIRE_SERVERS:-}
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A clean CI build gains nothing from incremental artifacts and they double
# the target directory (tens of GB across the test, clippy and feature builds).
if [[ "${CI:-}" == "true" ]]; then
    export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi

# Each step prints the seconds since the start when it begins and its own
# seconds when it ends; the last step prints a table of them all.
START=$SECONDS
STEP_START=$SECONDS
STEP_NAME=""
TIMES=()
step() {
    if [[ -n "$STEP_NAME" ]]; then
        printf '<== %ss: %s\n' "$((SECONDS - STEP_START))" "$STEP_NAME"
        TIMES+=("$(printf '%6ss  %s' "$((SECONDS - STEP_START))" "$STEP_NAME")")
    fi
    STEP_NAME="$*"
    STEP_START=$SECONDS
    printf '\n==> [%ss] %s\n' "$((SECONDS - START))" "$*"
}

step "toolchain"
cargo --version
rustc --version

if [[ -x scripts/test-servers.sh ]]; then
    step "test servers (moto S3, Azurite)"
    trap 'scripts/test-servers.sh stop >/dev/null 2>&1 || true' EXIT
    servers_env=$(scripts/test-servers.sh start)  # fails the run when they cannot start
    eval "$servers_env"
    export SHARE_BACKUP_REQUIRE_SERVERS=1
fi
step "PostgreSQL for the realm tests (scripts/ci/realm.sh)"
# Not `eval "$(...)"`: that would hide the script's failure.
pg_env=$(SHARE_BACKUP_REQUIRE_SERVERS="$CALLER_REQUIRE" scripts/ci/realm.sh)
eval "$pg_env"
if [[ -z "${SHARE_BACKUP_REALM_TEST_POSTGRES_URL:-}" ]]; then
    # realm.sh printed why (SKIPPED ...); the realm tests' PostgreSQL cases
    # then skip instead of failing. The S3 and Azurite variables are set, so
    # their tests still run.
    unset SHARE_BACKUP_REQUIRE_SERVERS
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

step "provider linkage matrix (facade features: none, password, gdrive, password+gdrive (the default), passkey+guarded-pin)"
# cargo unifies features within one invocation, so `cargo test --workspace`
# above builds the facade once, with the union of what its dependents ask
# for: the FFI turns on `passkey` and the examples `guarded-pin`, so that run
# covers no cell of the matrix, not even the default one. Each cell is its
# own build of the facade (not of its dependencies: the gdrive rows use
# gdrive's oauth feature, as above, so they reuse the Google stack), built
# once. See crates/share-backup/tests/linkage.rs.
for features in "" "password" "gdrive,share-backup-gdrive/oauth" "password,gdrive,share-backup-gdrive/oauth" "passkey,guarded-pin"; do
    echo "--- share-backup --no-default-features --features '$features'"
    cargo test -p share-backup --no-default-features --features "$features" --test linkage
done

# ---------------------------------------------------------------------------
# Extra steps: one line per scripts/ci/<name>.sh (bindings, realms, browser
# tests, ...), each as `step "<what>"` then `scripts/ci/<name>.sh`. Each
# script installs what it needs, prints what it skips and why, and reuses
# the test-profile build above (no separate release build in CI).
# ---------------------------------------------------------------------------

step "passkey: SPEC vectors (stdlib Python) and the headless-Chromium PRF test"
SHARE_BACKUP_REQUIRE_SERVERS="$CALLER_REQUIRE" scripts/ci/passkey.sh

step "Python bindings (share-backup-ffi, pytest)"
scripts/ci/bindings-python.sh

step "Kotlin bindings (JUnit 5 through Maven) and the Swift sources up to date"
SHARE_BACKUP_REQUIRE_SERVERS="$CALLER_REQUIRE" scripts/ci/bindings-kotlin.sh

step "binding packages: the maturin wheel in a fresh venv, the Kotlin jar on its own class path"
SHARE_BACKUP_REQUIRE_SERVERS="$CALLER_REQUIRE" scripts/ci/packages.sh

step "envelope vectors against an independent AES-SIV (OpenSSL, via python cryptography)"
if python3 -c 'import cryptography' 2>/dev/null; then
    python3 crates/core/testdata/check_vectors.py >/dev/null
    echo "ok: crates/core/testdata/envelope-v1.json agrees with OpenSSL's AES-SIV"
else
    echo "skipped: python3 cannot import cryptography (pip install cryptography)" >&2
fi

step "password provider: its test-only API does not compile without test-support (scripts/ci/proto.sh)"; scripts/ci/proto.sh

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

step "cargo package --list: every crate's metadata is publish-ready (no warning)"
# Each member must package without a warning (description, license, readme,
# keywords, categories, rust-version, and the readme file inside the crate).
# The workspace keeps `publish = false` until the project has its public
# repository URL (README, "Publishing").
members=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print("\n".join(p["name"] for p in json.load(sys.stdin)["packages"]))')
for m in $members; do
    out=$(cargo package --list --allow-dirty -p "$m" 2>&1 >/dev/null) || { echo "$out" >&2; exit 1; }
    if grep -q '^warning' <<<"$out"; then
        echo "cargo package --list -p $m warns:" >&2
        echo "$out" >&2
        exit 1
    fi
done
echo "ok: $(wc -w <<<"$members") crates package cleanly"

step "cargo deny (licenses, bans, sources; advisories from CI's snapshot, a fetch, or skipped with a line)"
scripts/ci/deny.sh

step "all checks passed"
printf '\nseconds per step:\n'
printf '%s\n' "${TIMES[@]}"
printf '%6ss  total\n' "$((SECONDS - START))"
