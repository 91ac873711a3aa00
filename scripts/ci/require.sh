# Sourced by scripts/ci/*.sh: what a step does when a piece of its test
# environment cannot be set up here (installing a Debian package needs root,
# npm is missing, ...).
#
#   - CI=true or SHARE_BACKUP_REQUIRE_SERVERS=1: that part is required, the
#     step fails (CI has root and installs everything);
#   - otherwise (a newcomer's clone, no root): the part is skipped with one
#     line on stderr saying what, why, and how to enable it.
#
# scripts/test.sh calls the steps with the caller's own
# SHARE_BACKUP_REQUIRE_SERVERS, not the one it sets for the test servers.

is_root() { [[ $(id -u) -eq 0 ]]; }

parts_required() { [[ "${CI:-}" == "true" || "${SHARE_BACKUP_REQUIRE_SERVERS:-}" == "1" ]]; }

# skip_or_fail <what> <why> <how to enable it>: returns only when skipping.
skip_or_fail() {
    if parts_required; then
        echo "error: $1 cannot run: $2; CI=true or SHARE_BACKUP_REQUIRE_SERVERS=1 make it required. $3" >&2
        exit 1
    fi
    echo "SKIPPED $1: $2. To run it: $3" >&2
}
