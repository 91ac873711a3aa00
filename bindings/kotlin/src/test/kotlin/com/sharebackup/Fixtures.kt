package com.sharebackup

import java.security.SecureRandom
import java.util.Collections
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/** Password settings with cheap KDF costs, so a backup takes milliseconds here. */
val FAST_PASSWORD = mapOf("space_cost" to "1024", "time_cost" to "1", "parallelism" to "1", "insecure_below_cost_floor" to "true")

/** A password the default policy accepts. */
const val GOOD_PASSWORD = "correct horse battery staple 42"

fun share(text: String = "client key share"): ByteArray = text.toByteArray()

/** One call an app callback saw, in the order of a log shared by the store and the notifier. */
data class Call(val what: String, val detail: String)

/**
 * A key-value store written in Kotlin: the shape of an app's store over its
 * own API (the seed's `exchangeApi.storeCipherText`), here a map. Faults can
 * be switched on to check what share-backup makes of them.
 */
class KotlinStore(private val log: MutableList<Call> = Collections.synchronizedList(mutableListOf())) : KeyValueStore {
    val map = ConcurrentHashMap<String, ByteArray>()

    /** When set, every write throws this. */
    @Volatile var failWrites: Throwable? = null

    /** When set, every read throws this. */
    @Volatile var failReads: Throwable? = null

    /** When set, a write waits here until it is counted down (a hang). */
    @Volatile var writeGate: CountDownLatch? = null

    /** Counted down when a write reaches the gate. */
    val writeReached = CountDownLatch(1)

    /** When set, `get` returns these bytes instead of what was stored. */
    @Volatile var corruptReads: ByteArray? = null

    private fun write(key: String) {
        failWrites?.let { throw it }
        writeGate?.let {
            writeReached.countDown()
            it.await(30, TimeUnit.SECONDS)
        }
        log += Call("store.write", key)
    }

    override fun putIfAbsent(key: String, value: ByteArray): Boolean {
        write(key)
        return map.putIfAbsent(key, value.copyOf()) == null
    }

    override fun put(key: String, value: ByteArray) {
        write(key)
        map[key] = value.copyOf()
    }

    override fun get(key: String): ByteArray? {
        failReads?.let { throw it }
        val v = map[key] ?: return null
        return corruptReads ?: v.copyOf()
    }

    override fun list(prefix: String): List<String> {
        failReads?.let { throw it }
        return map.keys.filter { it.startsWith(prefix) }
    }

    override fun delete(key: String) {
        failWrites?.let { throw it }
        map.remove(key)
    }

    /** Whether some stored value contains [text] (the cipher text is stored framed). */
    fun holds(text: String): Boolean = map.values.any { String(it, Charsets.ISO_8859_1).contains(text) }
}

/** The wallet service's acknowledgement, written in Kotlin, logging into the same log as the store. */
class KotlinNotifier(
    private val log: MutableList<Call> = Collections.synchronizedList(mutableListOf()),
    private val onNotify: (success: Boolean) -> Unit = {},
) : Notifier {
    val told: MutableList<Pair<String, Boolean>> = Collections.synchronizedList(mutableListOf())

    override fun storedClientBackupShare(userId: String, method: String, backupId: String, success: Boolean) {
        onNotify(success)
        told += backupId to success
        log += Call("notifier", "$userId/$method/$backupId/$success")
    }
}

/** Collects progress events in the order delivered; `done` latches the last one. */
class RecordingListener : ProgressListener {
    val events: MutableList<Pair<ProgressStatus, Boolean>> = Collections.synchronizedList(mutableListOf())
    val finished = CountDownLatch(1)

    override fun onProgress(status: ProgressStatus, done: Boolean) {
        events += status to done
        if (done) finished.countDown()
    }
}

/**
 * A provider written in Kotlin (Portal's CUSTOM): random 64-byte data keys
 * kept in a map, found again by a header naming the backup. Faults select the
 * bad inputs of the issue.
 */
class KotlinProvider(
    private val fault: Fault = Fault.NONE,
) : BackupProvider {
    enum class Fault { NONE, SHORT_KEY, WRONG_KEY, THROWS_PLAIN, THROWS_TYPED }

    val keys = ConcurrentHashMap<String, ByteArray>()
    private val random = SecureRandom()

    override fun probe(ctx: ProviderContext) {
        if (fault == Fault.THROWS_PLAIN) throw IllegalStateException("keychain locked")
    }

    override fun sealKey(ctx: ProviderContext): SealedKey {
        if (fault == Fault.THROWS_TYPED) throw shareBackupError(ErrorKind.UNAVAILABLE, "keychain unavailable", retryable = true)
        val key = ByteArray(if (fault == Fault.SHORT_KEY) 3 else 64).also(random::nextBytes)
        val header = "kt:${ctx.backupId}"
        keys.putIfAbsent(slot(header.toByteArray(), ctx), key.copyOf())
        return SealedKey(key, header.toByteArray())
    }

    override fun openKey(header: ByteArray, ctx: ProviderContext): ByteArray {
        val key = keys[slot(header, ctx)] ?: throw shareBackupError(ErrorKind.NOT_FOUND, "no key for this backup")
        return if (fault == Fault.WRONG_KEY) ByteArray(64) { 7 } else key.copyOf()
    }

    override fun deleteKey(header: ByteArray, ctx: ProviderContext) {
        keys.remove(slot(header, ctx))
    }

    /** Keys are scoped to their user: another user's context never finds them. */
    private fun slot(header: ByteArray, ctx: ProviderContext) = "${ctx.userId}/${String(header)}"

    companion object {
        val CAPABILITIES = ProviderCapabilities(needsUserSecret = false, remote = true, deletes = true, probes = false)
    }
}

/** share-backup on the in-memory object store and the recording notifier, with fast password costs. */
fun memoryShareBackup(callTimeoutMs: ULong? = null): ShareBackup = ShareBackup(
    ShareBackupConfig(
        store = StoreConfig.Url("memory://"),
        notifier = NotifierConfig.Recording,
        providerSettings = mapOf("password" to FAST_PASSWORD),
        callTimeoutMs = callTimeoutMs,
    ),
)

/** share-backup on an app store and an app notifier (retries off, so faults show at once). */
fun appShareBackup(store: KeyValueStore, notifier: Notifier, callTimeoutMs: ULong? = null): ShareBackup = ShareBackup(
    ShareBackupConfig(
        store = StoreConfig.App(store),
        notifier = NotifierConfig.App(notifier),
        providerSettings = mapOf("password" to FAST_PASSWORD),
        callTimeoutMs = callTimeoutMs,
        maxRetries = 0u,
    ),
)

/** Runs [block] and returns the share-backup exception it throws (fails when it throws none). */
inline fun failure(block: () -> Unit): ShareBackupException.Failed {
    try {
        block()
    } catch (e: ShareBackupException.Failed) {
        return e
    }
    throw AssertionError("expected a ShareBackupException, got none")
}
