#!/usr/bin/env bash
# The passkey provider's SPEC vectors (stdlib Python) and its browser test:
# headless Chromium (Debian's package) on a DevTools virtual authenticator
# with PRF, driven by playwright-core from npm. Installs both when missing,
# then runs tests/browser.rs with SHARE_BACKUP_BROWSER_TEST=1 (a missing
# piece fails instead of skipping). Reuses the test-profile build of
# `cargo test --workspace`; warm: ~10 s.
#
# Without root, Chromium cannot be installed: the browser test is skipped
# with one SKIPPED line (how to enable it included), unless CI=true or
# SHARE_BACKUP_REQUIRE_SERVERS=1, when the step fails (scripts/ci/require.sh).
# CHROMIUM=/path/to/chromium uses another build.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/require.sh

python3 providers/passkey/testdata/check_vectors.py

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [[ -x $CHROMIUM ]]; then
    echo "skip: chromium is installed ($("$CHROMIUM" --version 2>/dev/null | tail -1))"
elif is_root && [[ $CHROMIUM == /usr/bin/chromium ]]; then
    echo "installing chromium (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
    skip_or_fail "the passkey browser test (headless Chromium)" \
        "$CHROMIUM is not installed and installing Debian's chromium needs root" \
        "sudo apt-get install chromium (or set CHROMIUM=/path/to/chromium), then scripts/ci/passkey.sh"
    exit 0
fi

BROWSER_DIR=providers/passkey/browser
if [[ -d $BROWSER_DIR/node_modules/playwright-core ]]; then
    echo "skip: playwright-core is installed in $BROWSER_DIR"
elif ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    skip_or_fail "the passkey browser test (headless Chromium)" \
        "node and npm are needed to install and run playwright-core" \
        "install Node.js with npm (Debian: apt-get install npm), then scripts/ci/passkey.sh"
    exit 0
else
    echo "installing playwright-core (npm ci, from $BROWSER_DIR/package-lock.json)"
    # playwright-core downloads no browser; the test uses $CHROMIUM.
    (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund)
fi

CHROMIUM=$CHROMIUM SHARE_BACKUP_BROWSER_TEST=1 cargo test -p share-backup-passkey --test browser
