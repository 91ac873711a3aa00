package com.sharebackup

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import java.util.Collections
import java.util.concurrent.CountDownLatch
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** A store and a notifier written in Kotlin, and what share-backup makes of their faults. */
class AppStoreTest {
    @Test
    fun `the cipher text is in the app's store before the notifier is told true`() = runBlocking {
        val log = Collections.synchronizedList(mutableListOf<Call>())
        val store = KotlinStore(log)
        val storedWhenTold = mutableListOf<Boolean>()
        lateinit var cipherText: String
        val storeSnapshots = mutableListOf<Map<String, ByteArray>>()
        val notifier = KotlinNotifier(log) { storeSnapshots += HashMap(store.map) }
        appShareBackup(store, notifier).use { sb ->
            val receipt = sb.backup("alice", share(), CallConfigs(password = GOOD_PASSWORD), "password")
            cipherText = receipt.cipherText
            assertEquals(listOf(receipt.backupId to true), notifier.told.toList())
            // When the notifier ran, the store already held the cipher text.
            for (snap in storeSnapshots) {
                storedWhenTold += snap.values.any { String(it, Charsets.ISO_8859_1).contains(cipherText) }
            }
            assertEquals(listOf(true), storedWhenTold)
            val firstNotify = log.indexOfFirst { it.what == "notifier" }
            assertTrue(log.subList(0, firstNotify).any { it.what == "store.write" }, "store writes come first: $log")
            assertContentEquals(share(), sb.recover("alice", CallConfigs(password = GOOD_PASSWORD)))
        }
    }

    @Test
    fun `a store failure tells the notifier false and never true`() = runBlocking {
        val store = KotlinStore().apply { failWrites = shareBackupError(ErrorKind.UNAVAILABLE, "exchange API answered 503", retryable = true) }
        val notifier = KotlinNotifier()
        appShareBackup(store, notifier).use { sb ->
            val e = failure { sb.backup("bob", share(), CallConfigs(password = GOOD_PASSWORD), "password") }
            assertEquals(ErrorKind.UNAVAILABLE, e.kind)
            assertTrue(e.reason.contains("503"), e.reason)
            assertEquals(listOf(false), notifier.told.map { it.second })
            assertTrue(store.map.isEmpty())
        }
    }

    @Test
    fun `the kind the app's store throws reaches the caller, nothing acknowledged, the previous backup still recovers`() = runBlocking {
        val store = KotlinStore()
        val notifier = KotlinNotifier()
        appShareBackup(store, notifier).use { sb ->
            val first = sb.backup("frank", share("first"), CallConfigs(password = GOOD_PASSWORD), "password")
            for (kind in listOf(ErrorKind.PERMISSION_DENIED, ErrorKind.NOT_FOUND, ErrorKind.INTEGRITY)) {
                store.failWrites = shareBackupError(kind, "the exchange API refused: $kind", retryable = false)
                val e = failure { sb.backup("frank", share("second"), CallConfigs(password = GOOD_PASSWORD), "password") }
                assertEquals(kind, e.kind, e.reason)
                assertEquals(false, e.retryable)
                assertTrue(e.reason.contains("the exchange API refused: $kind"), e.reason)
                store.failWrites = null
                assertEquals(listOf(first.backupId), notifier.told.filter { it.second }.map { it.first })
                assertEquals(false, notifier.told.last().second)
                assertContentEquals(share("first"), sb.recover("frank", CallConfigs(password = GOOD_PASSWORD)))
            }
        }
    }

    @Test
    fun `a store throwing a plain exception is a typed error naming it, not a crash`() = runBlocking {
        val store = KotlinStore().apply { failWrites = IllegalStateException("NullPointer in the app's store") }
        val notifier = KotlinNotifier()
        appShareBackup(store, notifier).use { sb ->
            val e = failure { sb.backup("carol", share(), CallConfigs(password = GOOD_PASSWORD), "password") }
            // An exception that is not a ShareBackupException is a bug in
            // the app's store: Internal, with the exception named.
            assertEquals(ErrorKind.INTERNAL, e.kind, e.reason)
            assertTrue(e.reason.contains("NullPointer in the app's store"), e.reason)
            assertEquals(listOf(false), notifier.told.map { it.second })
        }
    }

    @Test
    fun `a store hanging past the call timeout is Unavailable, nothing acknowledged, the previous backup still recovers`() = runBlocking {
        val store = KotlinStore()
        val notifier = KotlinNotifier()
        appShareBackup(store, notifier, callTimeoutMs = 500u).use { sb ->
            val first = sb.backup("dave", share("first"), CallConfigs(password = GOOD_PASSWORD), "password")
            val gate = CountDownLatch(1)
            store.writeGate = gate
            try {
                val e = failure { sb.backup("dave", share("second"), CallConfigs(password = GOOD_PASSWORD), "password") }
                assertEquals(ErrorKind.UNAVAILABLE, e.kind, e.reason)
                // Two timeouts of the same length race here: the orchestrator's
                // around the whole store step ("store.stage did not answer within
                // 500ms") and the FFI's around each app callback ("the app's
                // callback did not return within 500 ms"). Either may fire first;
                // both name the call timeout.
                assertTrue(e.reason.contains("within 500"), e.reason)
            } finally {
                store.writeGate = null
                gate.countDown()
            }
            assertEquals(listOf(first.backupId to true), notifier.told.filter { it.second })
            assertContentEquals(share("first"), sb.recover("dave", CallConfigs(password = GOOD_PASSWORD)))
        }
    }

    @Test
    fun `a store returning wrong bytes is a typed error and recovers nothing`() = runBlocking {
        val store = KotlinStore()
        appShareBackup(store, KotlinNotifier()).use { sb ->
            sb.backup("erin", share(), CallConfigs(password = GOOD_PASSWORD), "password")
            store.corruptReads = "not what was stored".toByteArray()
            val e = failure { sb.recover("erin", CallConfigs(password = GOOD_PASSWORD)) }
            assertEquals(ErrorKind.INTEGRITY, e.kind, e.reason)
            store.corruptReads = null
            assertContentEquals(share(), sb.recover("erin", CallConfigs(password = GOOD_PASSWORD)))
        }
    }

    @Test
    fun `the conformance suite's store cases pass against the Kotlin store`() = runBlocking {
        val report = runStoreConformance(KotlinStore())
        val failed = report.cases.filter { it.outcome == CaseOutcome.FAILED }
        assertEquals(emptyList(), failed, "failed cases")
        assertTrue(report.passed)
        assertTrue(report.cases.count { it.outcome == CaseOutcome.PASSED } >= 3, "${report.cases}")
    }

    @Test
    fun `the store cases catch a Kotlin store whose create-only put overwrites`() = runBlocking {
        val inner = KotlinStore()
        val broken = object : KeyValueStore {
            override fun putIfAbsent(key: String, value: ByteArray): Boolean { inner.put(key, value); return true }
            override fun put(key: String, value: ByteArray) = inner.put(key, value)
            override fun get(key: String) = inner.get(key)
            override fun list(prefix: String) = inner.list(prefix)
            override fun delete(key: String) = inner.delete(key)
        }
        val report = runStoreConformance(broken)
        assertTrue(!report.passed, "a store that is not create-only must fail: ${report.cases}")
    }
}
