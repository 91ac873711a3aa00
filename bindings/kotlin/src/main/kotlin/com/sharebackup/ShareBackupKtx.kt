// Hand-written Kotlin conveniences over the generated bindings
// (share_backup_ffi.kt, generated at build time by scripts/ci/bindings-kotlin.sh):
// lambdas where the generated API takes a one-method interface, and the
// exception an app callback throws. No logic of its own.
package com.sharebackup

/**
 * A [ProgressListener] from a lambda: `{ status, done -> ... }`.
 *
 * It is called on a share-backup thread, never the caller's: post to the UI
 * thread yourself. An exception it throws is ignored by share-backup.
 */
fun progressListener(onProgress: (status: ProgressStatus, done: Boolean) -> Unit): ProgressListener =
    object : ProgressListener {
        override fun onProgress(status: ProgressStatus, done: Boolean) = onProgress(status, done)
    }

/**
 * Backs up [share] for [userId] with a trailing progress lambda, the shape of
 * the seed's `portal.backupWallet(backupMethod, backupConfigs) { status -> ... }`.
 *
 * When it returns, the cipher text is stored in the configured store,
 * verified, acknowledged to the notifier (`storedClientBackupShare(true)`) and
 * current. It throws [ShareBackupException.Failed] otherwise; the notifier was
 * then told `false` unless the exception says the backup never started.
 * Cancelling the calling coroutine cancels the backup: nothing more is stored
 * or acknowledged, and the previous backup stays current.
 */
suspend fun ShareBackup.backup(
    userId: String,
    share: ByteArray,
    method: String?,
    configs: CallConfigs,
    onProgress: (status: ProgressStatus, done: Boolean) -> Unit,
): BackupReceipt = backup(userId, share, configs, method, progressListener(onProgress))

/** Recovers the share of [userId], with a trailing progress lambda (see [backup]). */
suspend fun ShareBackup.recover(
    userId: String,
    method: String?,
    configs: CallConfigs,
    onProgress: (status: ProgressStatus, done: Boolean) -> Unit,
): ByteArray = recover(userId, configs, method, progressListener(onProgress))

/**
 * The exception an app's callback (store, notifier, token source, provider)
 * throws to report a typed failure: `throw shareBackupError(ErrorKind.UNAVAILABLE,
 * "exchange API answered 503", retryable = true)`. Any other exception arrives
 * in share-backup as an `INTERNAL` error. Never put a secret in [reason].
 */
fun shareBackupError(kind: ErrorKind, reason: String, retryable: Boolean = false): ShareBackupException.Failed =
    ShareBackupException.Failed(kind, reason, retryable, null, emptyList(), null, null)

/**
 * Per-call configs holding the password as UTF-8 bytes. Prefer it to
 * `CallConfigs(password = ...)`: a `String` is immutable and stays in the
 * JVM heap until collected, a `ByteArray` can be wiped. (Neither shows in
 * `CallConfigs.toString()`, which prints `[REDACTED]`.) share-backup moves
 * its copy into a zeroizing buffer wiped when the call ends; the transfer
 * buffer UniFFI copies it through is freed without wiping. Wipe yours with
 * `password.fill(0)` when the call returns.
 */
fun passwordConfigs(password: ByteArray): CallConfigs = CallConfigs(passwordBytes = password)
