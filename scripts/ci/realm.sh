#!/usr/bin/env bash
# PostgreSQL for the realm's tests (share-backup-realm, guarded-pin): installs
# Debian's `postgresql` when no server binaries are present, starts a
# throw-away cluster on 127.0.0.1 in a temporary directory as the postgres
# user, and prints the `export` line the tests read:
#   eval "$(scripts/ci/realm.sh)"
# Logs go to stderr. Idempotent: a cluster it started earlier (same port file)
# is reused. `scripts/ci/realm.sh stop` stops it.
set -euo pipefail
STATE=${SHARE_BACKUP_REALM_PG_DIR:-/tmp/share-backup-realm-pg}
log() { echo "realm.sh: $*" >&2; }

bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" ]] && { echo "$d"; return 0; }
    done
    return 1
}

if [[ "${1:-start}" == "stop" ]]; then
    if BIN=$(bindir) && [[ -d "$STATE/data" ]]; then
        runuser -u postgres -- "$BIN/pg_ctl" -D "$STATE/data" -m fast stop >&2 || true
    fi
    exit 0
fi

if ! BIN=$(bindir); then
    log "installing PostgreSQL (Debian package postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN=$(bindir)
else
    log "PostgreSQL found in $BIN; not installing"
fi

PORT=${SHARE_BACKUP_REALM_PG_PORT:-55432}
if [[ -f "$STATE/data/postmaster.pid" ]] && runuser -u postgres -- "$BIN/pg_ctl" -D "$STATE/data" status >/dev/null 2>&1; then
    log "reusing the running cluster in $STATE"
else
    rm -rf "$STATE"
    mkdir -p "$STATE"
    chown postgres "$STATE"
    runuser -u postgres -- "$BIN/initdb" -D "$STATE/data" --auth=trust -U postgres >/dev/null
    runuser -u postgres -- "$BIN/pg_ctl" -D "$STATE/data" -l "$STATE/log" -w \
        -o "-h 127.0.0.1 -p $PORT -k $STATE -c fsync=off -c max_connections=300" start >&2
    log "PostgreSQL on 127.0.0.1:$PORT (data in $STATE)"
fi
echo "export SHARE_BACKUP_REALM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
