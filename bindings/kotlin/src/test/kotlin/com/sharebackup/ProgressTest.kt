package com.sharebackup

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertTrue

class ProgressTest {
    private fun RecordingListener.awaitDone(): List<Pair<ProgressStatus, Boolean>> {
        assertTrue(finished.await(10, TimeUnit.SECONDS), "a done event arrives")
        return events.toList()
    }

    /** The order a password backup goes through, each step at most once, nothing after done. */
    private fun assertOrdered(events: List<Pair<ProgressStatus, Boolean>>, last: ProgressStatus) {
        assertTrue(events.isNotEmpty())
        assertEquals(last to true, events.last(), "the last event is $last with done = true: $events")
        assertTrue(events.dropLast(1).none { it.second }, "only the last event is done: $events")
        val statuses = events.map { it.first }
        assertEquals(statuses.distinct(), statuses, "no step twice: $statuses")
    }

    @Test
    fun `backup progress arrives in protocol order and ends with Done`() = runBlocking {
        memoryShareBackup().use { sb ->
            val listener = RecordingListener()
            sb.backup("alice", share(), CallConfigs(password = GOOD_PASSWORD), "password", listener)
            val events = listener.awaitDone()
            assertOrdered(events, ProgressStatus.DONE)
            val statuses = events.map { it.first }
            val order = listOf(
                ProgressStatus.DERIVING_KEY,
                ProgressStatus.ENCRYPTING,
                ProgressStatus.VERIFYING,
                ProgressStatus.STORING,
                ProgressStatus.ACKNOWLEDGING,
                ProgressStatus.DONE,
            )
            assertEquals(order, statuses.filter { it in order }, "the protocol's steps in order: $statuses")
        }
    }

    @Test
    fun `a failing recovery still ends with one done event, Failed`() = runBlocking {
        memoryShareBackup().use { sb ->
            sb.backup("bob", share(), CallConfigs(password = GOOD_PASSWORD), "password")
            val listener = RecordingListener()
            val e = failure { sb.recover("bob", CallConfigs(password = "wrong wrong wrong 123"), null, listener) }
            assertEquals(ErrorKind.WRONG_SECRET, e.kind)
            assertOrdered(listener.awaitDone(), ProgressStatus.FAILED)
        }
    }

    @Test
    fun `a backup failing at the store ends with Failed after Storing`() = runBlocking {
        val store = KotlinStore().apply { failWrites = shareBackupError(ErrorKind.UNAVAILABLE, "exchange API down") }
        appShareBackup(store, KotlinNotifier()).use { sb ->
            val listener = RecordingListener()
            failure { sb.backup("carol", share(), CallConfigs(password = GOOD_PASSWORD), "password", listener) }
            val events = listener.awaitDone()
            assertOrdered(events, ProgressStatus.FAILED)
            assertTrue(events.any { it.first == ProgressStatus.STORING }, "$events")
            assertTrue(events.none { it.first == ProgressStatus.ACKNOWLEDGING }, "never acknowledging: $events")
        }
    }

    @Test
    fun `recovery progress ends with Done and a throwing listener does not break the operation`() = runBlocking {
        memoryShareBackup().use { sb ->
            sb.backup("dave", share(), CallConfigs(password = GOOD_PASSWORD), "password")
            val listener = RecordingListener()
            sb.recover("dave", CallConfigs(password = GOOD_PASSWORD), null, listener)
            assertOrdered(listener.awaitDone(), ProgressStatus.DONE)

            val throwing = progressListener { _, _ -> throw IllegalStateException("UI gone") }
            val back = sb.recover("dave", CallConfigs(password = GOOD_PASSWORD), null, throwing)
            assertEquals(String(share()), String(back))
        }
    }
}
