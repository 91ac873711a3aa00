#!/usr/bin/env bash
# The passkey provider's browser test: headless Chromium (Debian's package) on
# a DevTools virtual authenticator with PRF, driven by playwright-core from
# npm. Installs both when missing, then runs tests/browser.rs with
# SHARE_BACKUP_BROWSER_TEST=1 (a missing piece fails instead of skipping).
# Reuses the test-profile build of `cargo test --workspace`; warm: ~10 s.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ -x /usr/bin/chromium ]]; then
    echo "skip: chromium is installed ($(/usr/bin/chromium --version 2>/dev/null | tail -1))"
else
    echo "installing chromium (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

BROWSER_DIR=providers/passkey/browser
if [[ -d $BROWSER_DIR/node_modules/playwright-core ]]; then
    echo "skip: playwright-core is installed in $BROWSER_DIR"
else
    echo "installing playwright-core (npm ci, from $BROWSER_DIR/package-lock.json)"
    # playwright-core downloads no browser; the test uses /usr/bin/chromium.
    (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund)
fi

python3 providers/passkey/testdata/check_vectors.py
SHARE_BACKUP_BROWSER_TEST=1 cargo test -p share-backup-passkey --test browser
