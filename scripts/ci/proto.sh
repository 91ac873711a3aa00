#!/usr/bin/env bash
# The password provider's test-only API is unreachable in a production
# build: its library is built alone (its own dev-dependency turns the
# `test-support` feature on for its tests, and the workspace test run unifies
# it on for everything, so this needs its own build, of one crate), then
# providers/password/compile-fail/*.rs are compiled against it with rustc.
# control.rs must compile; every other file must fail, naming its item.
# Needs only cargo, rustc and python3 (to read cargo's JSON messages).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=providers/password/compile-fail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

msgs=$(cargo build -p share-backup-password --lib --message-format=json)
rlib=$(python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "share_backup_password":
        feats = m.get("features", [])
        assert "test-support" not in feats, "test-support is on in this build: %s" % feats
        print([f for f in m["filenames"] if f.endswith(".rlib")][0])
' <<<"$msgs")
deps=$(dirname "$rlib")
[[ -d "$deps/deps" ]] && deps="$deps/deps"
echo "checking against $rlib (features off)"

compile() {
    rustc --edition 2024 --crate-type lib --crate-name "check_$(basename "$1" .rs)" "$1" \
        --extern share_backup_password="$rlib" -L dependency="$deps" --out-dir "$out" 2>&1
}

compile "$dir/control.rs" >/dev/null || { compile "$dir/control.rs"; echo "FAIL: control.rs does not compile (broken setup)"; exit 1; }
echo "ok: control.rs compiles"
for f in "$dir/private_seal.rs:__private" "$dir/below_floor.rs:insecure_allow_costs_below_floor"; do
    file=${f%%:*} item=${f##*:}
    if msg=$(compile "$file"); then
        echo "FAIL: $file compiles without the test-support feature: $item is public"; exit 1
    fi
    grep -q "$item" <<<"$msg" || { echo "$msg"; echo "FAIL: $file fails for another reason than $item"; exit 1; }
    echo "ok: $file does not compile ($item unreachable without test-support)"
done
