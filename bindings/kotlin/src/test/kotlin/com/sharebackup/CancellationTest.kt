package com.sharebackup

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import org.junit.jupiter.api.Test
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/** Cancelling the Kotlin coroutine drops the Rust future: nothing acknowledged, nothing lost. */
class CancellationTest {
    @Test
    fun `cancelling the coroutine mid-backup acknowledges nothing and the previous backup still recovers`() = runBlocking {
        val store = KotlinStore()
        val notifier = KotlinNotifier()
        appShareBackup(store, notifier).use { sb ->
            val first = sb.backup("alice", share("first"), CallConfigs(password = GOOD_PASSWORD), "password")

            // The next backup stops inside the app's store (staging the new cipher text).
            val gate = CountDownLatch(1)
            store.writeGate = gate
            val second = async(Dispatchers.Default) {
                sb.backup("alice", share("second"), CallConfigs(password = GOOD_PASSWORD), "password")
            }
            val reached = withContext(Dispatchers.IO) { store.writeReached.await(30, TimeUnit.SECONDS) }
            assertTrue(reached, "the backup reached the store")
            second.cancel()
            assertFailsWith<CancellationException> { second.await() }
            store.writeGate = null
            gate.countDown()

            // The Rust task is aborted asynchronously (at its next poll on
            // the runtime), so the per-user lock can still be held for a
            // moment after the coroutine is cancelled: InProgress (retryable)
            // until then, and nothing else. Had the Rust backup gone on, it
            // would have acknowledged its own id (checked below).
            var got: BackupReceipt? = null
            for (attempt in 1..500) {
                try {
                    got = sb.backup("alice", share("third"), CallConfigs(password = GOOD_PASSWORD), "password")
                    break
                } catch (e: ShareBackupException.Failed) {
                    assertEquals(ErrorKind.IN_PROGRESS, e.kind, e.reason)
                    withContext(Dispatchers.IO) { Thread.sleep(10) }
                }
            }
            val third = checkNotNull(got) { "the cancelled backup still held the user after 500 attempts" }
            assertEquals(listOf(first.backupId, third.backupId), notifier.told.filter { it.second }.map { it.first })
            assertEquals(first.backupId, third.previousBackupId, "the cancelled backup never became current")
            assertContentEquals(share("third"), sb.recover("alice", CallConfigs(password = GOOD_PASSWORD)))
        }
    }

    @Test
    fun `cancelling during the key derivation leaves the previous backup current`() = runBlocking {
        // Default KDF costs: the derivation takes long enough to cancel inside it.
        ShareBackup(ShareBackupConfig(StoreConfig.Url("memory://"), NotifierConfig.Recording)).use { sb ->
            val first = sb.backup("bob", share("first"), CallConfigs(password = GOOD_PASSWORD), "password")
            val deriving = CountDownLatch(1)
            val listener = progressListener { status, _ -> if (status == ProgressStatus.DERIVING_KEY) deriving.countDown() }
            val second = async(Dispatchers.Default) {
                sb.backup("bob", share("second"), CallConfigs(password = GOOD_PASSWORD), "password", listener)
            }
            assertTrue(withContext(Dispatchers.IO) { deriving.await(30, TimeUnit.SECONDS) })
            second.cancel()
            assertFailsWith<CancellationException> { second.await() }
            assertEquals(listOf(first.backupId), sb.notifications().filter { it.success }.map { it.backupId })
            assertContentEquals(share("first"), sb.recover("bob", CallConfigs(password = GOOD_PASSWORD)))
            assertEquals(listOf(first.backupId), sb.notifications().filter { it.success }.map { it.backupId })
        }
    }
}
