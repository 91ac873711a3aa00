#!/usr/bin/env bash
# Starts (and stops) the real storage servers the tests and benchmarks use,
# on free ports of 127.0.0.1:
#   - moto's S3-compatible server (PyPI: moto[server]), with a test bucket;
#   - Azurite's blob service (npm: azurite), with a test container.
# Installs each one only when it is missing (moto with pip; Azurite with npm
# into $SHARE_BACKUP_SERVERS_DIR/npm, not globally). What the system Python
# lacks (moto, azure-storage-blob) goes into a venv, $SHARE_BACKUP_SERVERS_DIR/venv:
# Debian's python3 refuses `pip install` outside one (PEP 668), and a venv
# needs no root.
#
# Usage:
#   eval "$(scripts/test-servers.sh start)"   # start both; print export lines
#   scripts/test-servers.sh env               # print the export lines again
#   scripts/test-servers.sh status            # are they up?
#   scripts/test-servers.sh stop              # stop what `start` started
#
# Only the export lines go to stdout; progress and errors go to stderr. The
# variables (read by share-backup-object-store's tests and benchmarks):
#   SHARE_BACKUP_S3_ENDPOINT, SHARE_BACKUP_S3_BUCKET, SHARE_BACKUP_S3_REGION,
#   SHARE_BACKUP_S3_ACCESS_KEY_ID, SHARE_BACKUP_S3_SECRET_ACCESS_KEY,
#   SHARE_BACKUP_AZURITE_ENDPOINT, SHARE_BACKUP_AZURITE_ACCOUNT,
#   SHARE_BACKUP_AZURITE_KEY, SHARE_BACKUP_AZURITE_CONTAINER.
# Tests skip (with a message) when they are unset, unless
# SHARE_BACKUP_REQUIRE_SERVERS=1, when they fail.
set -euo pipefail

DIR="${SHARE_BACKUP_SERVERS_DIR:-/tmp/share-backup-servers}"
STATE="$DIR/state"
BUCKET="share-backup-test"
CONTAINER="share-backup-test"
# moto accepts any credentials; these are placeholders, not secrets.
S3_KEY_ID="testing"
S3_SECRET="testing"
S3_REGION="us-east-1"
# Azurite's documented, well-known development account (public, not a secret).
AZ_ACCOUNT="devstoreaccount1"
AZ_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

log() { printf 'test-servers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url, name, pid
    local url=$1 name=$2 pid=$3 i
    for i in $(seq 1 120); do
        if curl -s -o /dev/null --max-time 1 "$url"; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            die "$name exited during start-up; see $DIR/$name.log"
        fi
        sleep 0.25
    done
    die "$name did not answer at $url within 30 s; see $DIR/$name.log"
}

VENV="$DIR/venv"
ensure_venv() {
    [[ -x "$VENV/bin/python" ]] && return
    log "creating a Python venv in $VENV"
    python3 -m venv "$VENV" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
}

MOTO=moto_server
ensure_moto() {
    if command -v moto_server >/dev/null 2>&1; then
        return
    fi
    MOTO="$VENV/bin/moto_server"
    [[ -x "$MOTO" ]] && return
    ensure_venv
    log "installing moto[server] with pip into $VENV"
    "$VENV/bin/python" -m pip install --quiet 'moto[server]' >&2 || die "pip install 'moto[server]' failed"
    [[ -x "$MOTO" ]] || die "$MOTO is missing after installing moto[server]"
}

AZURITE_BIN="$DIR/npm/node_modules/.bin/azurite-blob"
ensure_azurite() {
    if [[ -x "$AZURITE_BIN" ]]; then
        return
    fi
    command -v npm >/dev/null 2>&1 || die "npm is needed to install Azurite (apt-get install npm)"
    log "installing azurite with npm into $DIR/npm"
    mkdir -p "$DIR/npm"
    npm install --silent --no-audit --no-fund --prefix "$DIR/npm" azurite >&2 || die "npm install azurite failed"
    [[ -x "$AZURITE_BIN" ]] || die "azurite-blob missing after npm install"
}

AZ_PYTHON=python3
ensure_azure_sdk() {
    if python3 -c 'import azure.storage.blob' 2>/dev/null; then
        return
    fi
    AZ_PYTHON="$VENV/bin/python"
    if [[ -x "$AZ_PYTHON" ]] && "$AZ_PYTHON" -c 'import azure.storage.blob' 2>/dev/null; then
        return
    fi
    ensure_venv
    log "installing azure-storage-blob with pip into $VENV (to create the test container)"
    "$AZ_PYTHON" -m pip install --quiet azure-storage-blob >&2 || die "pip install azure-storage-blob failed"
}

print_env() {
    # shellcheck disable=SC1090
    source "$STATE"
    cat <<EOF
export SHARE_BACKUP_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export SHARE_BACKUP_S3_BUCKET=$BUCKET
export SHARE_BACKUP_S3_REGION=$S3_REGION
export SHARE_BACKUP_S3_ACCESS_KEY_ID=$S3_KEY_ID
export SHARE_BACKUP_S3_SECRET_ACCESS_KEY=$S3_SECRET
export SHARE_BACKUP_AZURITE_ENDPOINT=http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT
export SHARE_BACKUP_AZURITE_ACCOUNT=$AZ_ACCOUNT
export SHARE_BACKUP_AZURITE_KEY=$AZ_KEY
export SHARE_BACKUP_AZURITE_CONTAINER=$CONTAINER
EOF
}

is_running() {
    [[ -f "$STATE" ]] || return 1
    # shellcheck disable=SC1090
    source "$STATE"
    kill -0 "$S3_PID" 2>/dev/null && kill -0 "$AZ_PID" 2>/dev/null
}

start() {
    mkdir -p "$DIR"
    if is_running; then
        log "already running (moto pid $S3_PID, azurite pid $AZ_PID)"
        print_env
        return
    fi
    stop_servers quiet
    local tool
    for tool in curl python3 setsid; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is needed (apt-get install curl python3 util-linux)"
    done
    ensure_moto
    ensure_azurite
    ensure_azure_sdk

    local s3_port az_port s3_pid az_pid
    s3_port=$(free_port)
    az_port=$(free_port)

    # setsid + redirected fds: the servers outlive this script and never hold
    # the stdout of `$(...)` open.
    setsid "$MOTO" -H 127.0.0.1 -p "$s3_port" </dev/null >"$DIR/moto.log" 2>&1 &
    s3_pid=$!
    rm -rf "$DIR/azurite-data"
    mkdir -p "$DIR/azurite-data"
    # --disableTelemetry: Azurite otherwise tries to reach Azure (the network is
    # closed; loopback only), logging each failure; --silent: no access log.
    setsid "$AZURITE_BIN" --blobHost 127.0.0.1 --blobPort "$az_port" --loose --skipApiVersionCheck \
        --disableTelemetry --silent \
        --location "$DIR/azurite-data" </dev/null >"$DIR/azurite.log" 2>&1 &
    az_pid=$!
    printf 'S3_PORT=%s\nS3_PID=%s\nAZ_PORT=%s\nAZ_PID=%s\n' "$s3_port" "$s3_pid" "$az_port" "$az_pid" >"$STATE"

    wait_http "http://127.0.0.1:$s3_port/" moto "$s3_pid"
    wait_http "http://127.0.0.1:$az_port/" azurite "$az_pid"

    # moto does not check signatures: an unsigned PUT creates the bucket.
    curl -sf -o /dev/null -X PUT "http://127.0.0.1:$s3_port/$BUCKET" || die "could not create bucket $BUCKET in moto"
    "$AZ_PYTHON" - "$az_port" "$AZ_ACCOUNT" "$AZ_KEY" "$CONTAINER" <<'PY' || die "could not create container in Azurite"
import sys
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient
port, account, key, container = sys.argv[1:]
conn = (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{account};")
try:
    BlobServiceClient.from_connection_string(conn).create_container(container)
except ResourceExistsError:
    pass
PY
    log "moto S3 on 127.0.0.1:$s3_port (pid $s3_pid), Azurite blob on 127.0.0.1:$az_port (pid $az_pid)"
    print_env
}

stop_servers() {
    local quiet=${1:-}
    [[ -f "$STATE" ]] || { [[ -n "$quiet" ]] || log "nothing to stop"; return 0; }
    # shellcheck disable=SC1090
    source "$STATE"
    local pid
    for pid in "${S3_PID:-}" "${AZ_PID:-}"; do
        [[ -n "$pid" ]] || continue
        # Only a process that is still one of ours (a stale state file may
        # name a pid the system has since given to something else).
        if ! ps -o args= -p "$pid" 2>/dev/null | grep -qE 'moto_server|azurite'; then
            continue
        fi
        # Each server leads its own session (setsid): end that process group.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 1 40); do
        if ! kill -0 "${S3_PID:-0}" 2>/dev/null && ! kill -0 "${AZ_PID:-0}" 2>/dev/null; then
            break
        fi
        sleep 0.25
    done
    for pid in "${S3_PID:-}" "${AZ_PID:-}"; do
        [[ -n "$pid" ]] || continue
        if ps -o args= -p "$pid" 2>/dev/null | grep -qE 'moto_server|azurite'; then
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    done
    rm -f "$STATE"
    [[ -n "$quiet" ]] || log "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop_servers ;;
    env) is_running || die "not running; run: eval \"\$($0 start)\""; print_env ;;
    status)
        if is_running; then log "running (moto pid $S3_PID port $S3_PORT, azurite pid $AZ_PID port $AZ_PORT)"
        else log "not running"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
