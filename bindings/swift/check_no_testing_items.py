#!/usr/bin/env python3
"""Checks that Swift sources match a build of share-backup-ffi WITHOUT the
`testing` feature: no function, constructor, method or checksum of an item
that only the `testing` build exports is named in them (an app's build
does not have those symbols, so the Swift module would not link, and its
checksum checks would fail at initialisation).

The testing-only items are the uniffi exports of bindings/ffi/src/testing.rs
(the module lib.rs compiles only with `testing`). Any other
`cfg(feature = "testing")` in the crate's sources is refused, so that the
list here cannot miss one: put testing-only exports in testing.rs.

Usage: check_no_testing_items.py [DIR]   (DIR holds Sources/ and Headers/;
default: the directory of this script). Exits 1 and says what to do on a
failure. No build needed.
"""

import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE.parent / "ffi" / "src"
PREFIX = "uniffi_share_backup_ffi_"
TESTING_CFG = re.compile(r'cfg\(\s*feature\s*=\s*"testing"\s*\)')


def fail(msg):
    print(f"check_no_testing_items: {msg}", file=sys.stderr)
    sys.exit(1)


def testing_only_items():
    for path in sorted(SRC.rglob("*.rs")):
        if path.name == "testing.rs":
            continue
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if not TESTING_CFG.search(line):
                continue
            following = lines[i + 1].strip() if i + 1 < len(lines) else ""
            gates_module = path.name == "lib.rs" and (
                following == "mod testing;" or following.startswith("pub use testing::")
            )
            if not gates_module:
                fail(
                    f"{path.relative_to(HERE.parent.parent)}:{i + 1} gates `{following}` on the `testing` "
                    "feature outside testing.rs; move testing-only exports into bindings/ffi/src/testing.rs "
                    "(this check only knows that file)"
                )
    text = (SRC / "testing.rs").read_text()
    functions = re.findall(r"^#\[uniffi::export[^\]]*\]\s*\npub (?:async )?fn (\w+)", text, re.M)
    objects = re.findall(r"^#\[derive\([^)]*uniffi::Object[^)]*\)\]\s*\npub struct (\w+)", text, re.M)
    if not functions and not objects:
        fail("found no uniffi export in bindings/ffi/src/testing.rs; has its layout changed? update this check")
    return functions, objects


def excluded_in_toml():
    toml = (HERE / "uniffi.toml").read_text()
    m = re.search(r"^exclude\s*=\s*\[(.*?)\]", toml, re.M | re.S)
    return set(re.findall(r'"([^"]+)"', m.group(1))) if m else set()


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    functions, objects = testing_only_items()
    missing = [n for n in functions + objects if n not in excluded_in_toml()]
    if missing:
        fail(f"bindings/swift/uniffi.toml does not exclude the testing-only {', '.join(missing)}; add them to `exclude`")
    patterns = [(f, re.compile(rf"{PREFIX}(?:fn|checksum)_func_{f}\b")) for f in functions]
    patterns += [
        (o, re.compile(rf"{PREFIX}(?:fn|checksum)_(?:clone|free|constructor|method)_{o.lower()}(?:_\w+)?\b"))
        for o in objects
    ]
    files = [out / "Headers" / "ShareBackupFFI.h", out / "Sources" / "ShareBackup" / "ShareBackup.swift"]
    for path in files:
        if not path.is_file():
            fail(f"{path} is missing")
        text = path.read_text()
        for name, pattern in patterns:
            m = pattern.search(text)
            if m:
                fail(
                    f"{path} names `{m.group(0)}` of the testing-only `{name}`, which a build without the "
                    "`testing` feature does not export; exclude it in bindings/swift/uniffi.toml and run "
                    "bindings/swift/generate.sh"
                )
    names = ", ".join(functions + objects)
    print(f"ok: no testing-only item ({names}) in {', '.join(str(p.relative_to(out)) for p in files)}")


main()
