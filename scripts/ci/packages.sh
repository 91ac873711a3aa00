#!/usr/bin/env bash
# Builds the binding packages the way a user gets them and uses each from
# outside the repository's test set-up:
#   1. the Python wheel with maturin (bindings/python/pyproject.toml,
#      `bindings = "uniffi"`, dev profile so it reuses the shared target
#      directory; a release wheel is the same command with --release), then
#      installs it into a fresh venv and runs a backup and a recovery with
#      `import share_backup`;
#   2. the Kotlin/JVM jar (`mvn package`, tests skipped: the bindings-kotlin
#      step ran them), checks that it carries the host's native library
#      under JNA's resource path, and calls the bindings from a Java program
#      whose class path is that jar and its Maven dependencies only (so the
#      library is loaded from the jar, not from target/classes).
# Runs after scripts/ci/bindings-kotlin.sh, which generates the Kotlin
# sources and lays out the native library the jar packs.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$TARGET/packages"
START=$SECONDS
say() { echo "--- packages: $*"; }

rm -rf "$WORK"
mkdir -p "$WORK"

say "maturin in a venv"
TOOLS="$TARGET/packages-tools-venv"
if ! [[ -x "$TOOLS/bin/maturin" ]]; then
    rm -rf "$TOOLS"
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.7,<2"
fi

say "maturin build --profile dev (bindings/python), with the workspace's pinned uniffi-bindgen on PATH"
[[ -x "$TARGET/debug/uniffi-bindgen" ]] || cargo build -p share-backup-uniffi-bindgen
(cd bindings/python && PATH="$TARGET/debug:$PATH" "$TOOLS/bin/maturin" build --profile dev --out "$WORK/wheels")
WHEEL=$(ls "$WORK"/wheels/share_backup-*.whl)
echo "built ${WHEEL#"$TARGET"/}"

say "install the wheel into a fresh venv and back up and recover"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$WHEEL"
(cd "$WORK" && "$WORK/venv/bin/python" - <<'PY'
import asyncio
import share_backup as sb

s = sb.ShareBackup(sb.ShareBackupConfig(
    store=sb.StoreConfig.URL(url="memory://", options={}),
    notifier=sb.NotifierConfig.RECORDING(),
    provider_settings={},  # the password provider's default costs
))
share = bytes(range(32))
cfg = sb.CallConfigs(password="correct horse battery staple")

async def main():
    receipt = await s.backup("wheel-user", share, configs=cfg, method="password")
    back = await s.recover("wheel-user", configs=cfg)
    return receipt, back

receipt, back = asyncio.run(main())
assert back == share, "the installed wheel did not round-trip the share"
assert [(n.backup_id, n.success) for n in s.notifications()] == [(receipt.backup_id, True)]
assert sb.__file__.startswith(__import__("sys").prefix), f"imported from {sb.__file__}, not the venv"
print(f"wheel ok: {receipt.method} backup {receipt.backup_id} recovered from {sb.__file__}")
PY
)

KT="$ROOT/bindings/kotlin"
source scripts/ci/require.sh
if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
    # bindings-kotlin.sh installs them as root; without root it skipped too.
    skip_or_fail "the Kotlin jar package check" \
        "mvn or javac is missing and installing them needs root" \
        "sudo apt-get install maven openjdk-17-jdk-headless, then scripts/ci/bindings-kotlin.sh and scripts/ci/packages.sh"
    exit 0
fi
if [[ ! -d "$KT/target/uniffi/native" ]]; then
    echo "packages: run scripts/ci/bindings-kotlin.sh first (it generates what the jar packs)" >&2
    exit 1
fi
say "mvn package -DskipTests (bindings/kotlin)"
(cd "$KT" && mvn -B -q -Dstyle.color=never -DskipTests package)
JAR="$KT/target/share-backup-0.1.0.jar"
[[ -f "$JAR" ]] || { echo "packages: $JAR was not built" >&2; exit 1; }
if ! python3 - "$JAR" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
sys.exit(0 if "linux-x86-64/libshare_backup_ffi.so" in names else 1)
PY
then
    echo "packages: $JAR does not carry linux-x86-64/libshare_backup_ffi.so" >&2
    exit 1
fi
(cd "$KT" && mvn -B -q -Dstyle.color=never dependency:build-classpath \
    -Dmdep.includeScope=runtime -Dmdep.outputFile="$WORK/classpath.txt" >/dev/null)
cat >"$WORK/FromJar.java" <<'JAVA'
import java.util.Map;

/** Calls the bindings with only the packaged jar and its runtime dependencies on the class path. */
public class FromJar {
    public static void main(String[] args) throws Exception {
        var fns = Class.forName(args[0]);
        var requirements = fns.getMethod("passwordRequirements", Map.class).invoke(null, Map.of());
        var where = com.sun.jna.NativeLibrary.getInstance("share_backup_ffi").getFile();
        System.out.println("jar ok: " + requirements + " from " + where);
        if (!String.valueOf(where).contains("jna")) {
            throw new IllegalStateException("the native library did not come from the jar's resources: " + where);
        }
    }
}
JAVA
# The class holding the generated top-level functions (share_backup_ffi.kt).
FNS=com.sharebackup.Share_backup_ffiKt
(cd "$WORK" && java -cp "$JAR:$(cat "$WORK/classpath.txt")" FromJar.java "$FNS")

echo "packages: passed in $((SECONDS - START)) s"
