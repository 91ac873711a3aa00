package com.sharebackup

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import java.util.Collections
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * Written the way the seed's Kotlin Activity is:
 *
 * ```kotlin
 * portal.backupWallet(backupMethod, backupConfigs) { status -> ... }
 * exchangeApi.storeCipherText(user.id, backupShare)
 * portal.api.storedClientBackupShare(true)
 * ```
 *
 * With share-backup the app hands its exchange API (as the store) and
 * Portal's API (as the notifier) to the framework once; `backup { status -> }`
 * then stores the cipher text through the exchange API and only then calls
 * `storedClientBackupShare(true)`, or `false` when anything failed.
 */
class SeedActivityTest {
    /** The app's own backend client: a key-value API (here in memory). */
    class ExchangeApi(private val log: MutableList<String>) : KeyValueStore {
        private val objects = java.util.concurrent.ConcurrentHashMap<String, ByteArray>()
        @Volatile var down = false

        fun storeCipherText(key: String, value: ByteArray, createOnly: Boolean): Boolean {
            if (down) throw shareBackupError(ErrorKind.UNAVAILABLE, "exchange API unreachable", retryable = true)
            log += "exchangeApi.storeCipherText"
            return if (createOnly) objects.putIfAbsent(key, value) == null else { objects[key] = value; true }
        }

        override fun putIfAbsent(key: String, value: ByteArray) = storeCipherText(key, value, createOnly = true)
        override fun put(key: String, value: ByteArray) { storeCipherText(key, value, createOnly = false) }
        override fun get(key: String): ByteArray? = objects[key]
        override fun list(prefix: String): List<String> = objects.keys.filter { it.startsWith(prefix) }
        override fun delete(key: String) { objects.remove(key) }
    }

    /** Portal's client API as the app calls it. */
    class PortalApi(private val log: MutableList<String>) : Notifier {
        override fun storedClientBackupShare(userId: String, method: String, backupId: String, success: Boolean) {
            log += "portal.api.storedClientBackupShare($success)"
        }
    }

    /** The Activity: its state is what the UI would show. */
    class BackupActivity(exchangeApi: ExchangeApi, portalApi: PortalApi) {
        private val portal = ShareBackup(
            ShareBackupConfig(
                store = StoreConfig.App(exchangeApi),
                notifier = NotifierConfig.App(portalApi),
                providerSettings = mapOf("password" to FAST_PASSWORD),
                maxRetries = 0u,
            ),
        )
        val statuses: MutableList<String> = Collections.synchronizedList(mutableListOf())
        var shown = ""

        suspend fun onBackupClicked(userId: String, backupShare: ByteArray, password: ByteArray) {
            val backupMethod = "password"
            val backupConfigs = passwordConfigs(password)
            try {
                val receipt = portal.backup(userId, backupShare, backupMethod, backupConfigs) { status, done ->
                    statuses += "$status${if (done) " (done)" else ""}"
                }
                shown = "Backed up with ${receipt.method}"
            } catch (e: ShareBackupException.Failed) {
                shown = "Backup failed (${e.kind}): ${e.reason}"
            } finally {
                password.fill(0)
            }
        }
    }

    @Test
    fun `the seed's flow - backup with a progress lambda, the exchange API stores, then true`() = runBlocking {
        val log = Collections.synchronizedList(mutableListOf<String>())
        val activity = BackupActivity(ExchangeApi(log), PortalApi(log))
        activity.onBackupClicked("user-1", share(), GOOD_PASSWORD.toByteArray())

        assertEquals("Backed up with password", activity.shown)
        assertEquals("DONE (done)", activity.statuses.last())
        // The cipher text is staged through the exchange API, then Portal
        // hears true (once), then the framework commits its current pointer.
        assertEquals(listOf("portal.api.storedClientBackupShare(true)"), log.filter { it.startsWith("portal.api") })
        val told = log.indexOf("portal.api.storedClientBackupShare(true)")
        assertTrue(log.subList(0, told).contains("exchangeApi.storeCipherText"), "$log")
    }

    @Test
    fun `the seed's false branch - the exchange API is down, Portal hears false`() = runBlocking {
        val log = Collections.synchronizedList(mutableListOf<String>())
        val exchangeApi = ExchangeApi(log).apply { down = true }
        val activity = BackupActivity(exchangeApi, PortalApi(log))
        activity.onBackupClicked("user-1", share(), GOOD_PASSWORD.toByteArray())

        assertTrue(activity.shown.startsWith("Backup failed (UNAVAILABLE)"), activity.shown)
        assertEquals("FAILED (done)", activity.statuses.last())
        assertEquals(listOf("portal.api.storedClientBackupShare(false)"), log.toList())
    }
}
