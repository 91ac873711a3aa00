#!/usr/bin/env bash
# PostgreSQL for the realm's tests (share-backup-realm, guarded-pin): installs
# Debian's `postgresql` when no server binaries are present, starts a
# throw-away cluster on 127.0.0.1 in a temporary directory as the postgres
# user, and prints the `export` line the tests read:
#   eval "$(scripts/ci/realm.sh)"
# Logs go to stderr. Idempotent: a cluster it started earlier (same port file)
# is reused. `scripts/ci/realm.sh stop` stops it.
#
# Without root: an existing SHARE_BACKUP_REALM_TEST_POSTGRES_URL is used as
# it is; installed server binaries run as the current user (no runuser);
# with no PostgreSQL installed, nothing can be installed, so it prints one
# SKIPPED line (the realm tests then run on SQLite only and skip their
# PostgreSQL cases), unless CI=true or SHARE_BACKUP_REQUIRE_SERVERS=1, when
# it fails (scripts/ci/require.sh).
set -euo pipefail
source "$(dirname "$0")/require.sh"
log() { echo "realm.sh: $*" >&2; }
if is_root; then
    STATE=${SHARE_BACKUP_REALM_PG_DIR:-/tmp/share-backup-realm-pg}
else
    STATE=${SHARE_BACKUP_REALM_PG_DIR:-/tmp/share-backup-realm-pg-$(id -u)}
fi
# Runs a server binary as the postgres user when root (initdb refuses root), else as the caller.
as_pg() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" ]] && { echo "$d"; return 0; }
    done
    return 1
}

if [[ "${1:-start}" == "stop" ]]; then
    if BIN=$(bindir) && [[ -d "$STATE/data" ]]; then
        as_pg "$BIN/pg_ctl" -D "$STATE/data" -m fast stop >&2 || true
    fi
    exit 0
fi

if [[ -n "${SHARE_BACKUP_REALM_TEST_POSTGRES_URL:-}" ]]; then
    log "using the caller's SHARE_BACKUP_REALM_TEST_POSTGRES_URL; starting nothing"
    echo "export SHARE_BACKUP_REALM_TEST_POSTGRES_URL=$(printf '%q' "$SHARE_BACKUP_REALM_TEST_POSTGRES_URL")"
    exit 0
fi

if ! BIN=$(bindir) && ! is_root; then
    skip_or_fail "the realm tests on PostgreSQL" \
        "PostgreSQL is not installed and installing it needs root" \
        "sudo apt-get install postgresql (then this script starts a cluster as you), run as root, or set SHARE_BACKUP_REALM_TEST_POSTGRES_URL to a server of yours"
    exit 0
elif [[ -z "${BIN:-}" ]]; then
    log "installing PostgreSQL (Debian package postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN=$(bindir)
else
    log "PostgreSQL found in $BIN; not installing"
fi

PORT=${SHARE_BACKUP_REALM_PG_PORT:-55432}
if [[ -f "$STATE/data/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$STATE/data" status >/dev/null 2>&1; then
    log "reusing the running cluster in $STATE"
else
    rm -rf "$STATE"
    mkdir -p "$STATE"
    if is_root; then chown postgres "$STATE"; fi
    as_pg "$BIN/initdb" -D "$STATE/data" --auth=trust -U postgres >/dev/null
    as_pg "$BIN/pg_ctl" -D "$STATE/data" -l "$STATE/log" -w \
        -o "-h 127.0.0.1 -p $PORT -k $STATE -c fsync=off -c max_connections=300" start >&2
    log "PostgreSQL on 127.0.0.1:$PORT (data in $STATE)"
fi
echo "export SHARE_BACKUP_REALM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
