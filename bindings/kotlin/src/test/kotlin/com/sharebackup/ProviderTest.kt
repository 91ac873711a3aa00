package com.sharebackup

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import java.security.MessageDigest
import java.security.SecureRandom
import java.util.concurrent.ConcurrentHashMap
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** A provider written in Kotlin, registered at run time (Portal's CUSTOM). */
class ProviderTest {
    @Test
    fun `a Kotlin provider passes the framework's conformance suite`() = runBlocking {
        val report = runProviderConformance("kotlin-vault", KotlinProvider.CAPABILITIES, KotlinProvider(), emptyMap())
        val failed = report.cases.filter { it.outcome == CaseOutcome.FAILED }
        assertEquals(emptyList(), failed, "failed cases")
        assertTrue(report.passed)
        assertTrue(report.cases.any { it.name.startsWith("roundtrip") && it.outcome == CaseOutcome.PASSED }, "${report.cases}")
    }

    @Test
    fun `a Kotlin provider that needs a PIN passes the conformance suite given a wrong PIN`() = runBlocking {
        val report = runProviderConformance(
            "kotlin-pin",
            PinProvider.CAPABILITIES,
            PinProvider(),
            mapOf("pin" to "right-pin-482915"),
            wrongConfigs = mapOf("pin" to "wrong-pin-730264"),
        )
        val failed = report.cases.filter { it.outcome == CaseOutcome.FAILED }
        assertEquals(emptyList(), failed, "failed cases")
        assertTrue(report.passed)
        assertEquals(CaseOutcome.PASSED, report.cases.single { it.name == "wrong_secret" }.outcome)
    }

    @Test
    fun `a provider without a user secret reports the wrong-secret case as skipped, not passed`() = runBlocking {
        val report = runProviderConformance("kotlin-vault", KotlinProvider.CAPABILITIES, KotlinProvider(), emptyMap())
        val wrong = report.cases.single { it.name == "wrong_secret" }
        assertEquals(CaseOutcome.SKIPPED, wrong.outcome, wrong.detail)
        assertTrue(wrong.detail.contains("needs_user_secret"), wrong.detail)
    }

    @Test
    fun `the conformance suite fails a Kotlin provider that hands back 3-byte keys`() = runBlocking {
        val report = runProviderConformance("short-keys", KotlinProvider.CAPABILITIES, KotlinProvider(KotlinProvider.Fault.SHORT_KEY), emptyMap())
        assertFalse(report.passed)
    }

    @Test
    fun `a Kotlin provider registered at run time backs up and recovers like a built-in one`() = runBlocking {
        memoryShareBackup().use { sb ->
            val provider = KotlinProvider()
            sb.registerProvider("kotlin-vault", KotlinProvider.CAPABILITIES, provider)
            val info = sb.providers().single { it.id == "kotlin-vault" }
            assertTrue(info.registeredByApp)
            val receipt = sb.backup("alice", share(), CallConfigs(), "kotlin-vault")
            assertEquals("kotlin-vault", receipt.method)
            assertEquals(1, provider.keys.size, "the provider keeps custody of one data key")
            assertContentEquals(share(), sb.recover("alice", CallConfigs(), "kotlin-vault"))
            val health = sb.verify("alice", "kotlin-vault")
            assertTrue(health.keyChecked)
        }
    }

    @Test
    fun `a provider returning a 3-byte key is InvalidInput and nothing is acknowledged`() = runBlocking {
        memoryShareBackup().use { sb ->
            sb.registerProvider("short", KotlinProvider.CAPABILITIES, KotlinProvider(KotlinProvider.Fault.SHORT_KEY))
            val e = failure { sb.backup("bob", share(), CallConfigs(), "short") }
            assertEquals(ErrorKind.INVALID_INPUT, e.kind, e.reason)
            assertTrue(e.reason.contains("3-byte"), e.reason)
            assertEquals("short", e.method)
            assertTrue(sb.notifications().none { it.success })
            assertEquals(emptyList(), sb.methods("bob"))
        }
    }

    @Test
    fun `a provider throwing a plain exception is Internal and nothing is acknowledged`() = runBlocking {
        memoryShareBackup().use { sb ->
            sb.registerProvider("throws", KotlinProvider.CAPABILITIES, KotlinProvider(KotlinProvider.Fault.THROWS_PLAIN))
            val e = failure { sb.backup("carol", share(), CallConfigs(), "throws") }
            assertEquals(ErrorKind.INTERNAL, e.kind, e.reason)
            assertTrue(e.reason.contains("keychain locked"), e.reason)
            assertTrue(sb.notifications().none { it.success })
        }
    }

    @Test
    fun `a provider throwing ShareBackupException keeps its kind and retryable flag`() = runBlocking {
        memoryShareBackup().use { sb ->
            sb.registerProvider("typed", KotlinProvider.CAPABILITIES, KotlinProvider(KotlinProvider.Fault.THROWS_TYPED))
            val e = failure { sb.backup("carol", share(), CallConfigs(), "typed") }
            assertEquals(ErrorKind.UNAVAILABLE, e.kind, e.reason)
            assertTrue(e.retryable)
            assertEquals("typed", e.method)
            assertTrue(sb.notifications().none { it.success })
        }
    }

    @Test
    fun `a provider opening with the wrong key is refused before anything is acknowledged`() = runBlocking {
        memoryShareBackup().use { sb ->
            sb.registerProvider("wrong", KotlinProvider.CAPABILITIES, KotlinProvider(KotlinProvider.Fault.WRONG_KEY))
            val e = failure { sb.backup("dave", share(), CallConfigs(), "wrong") }
            assertTrue(e.kind in setOf(ErrorKind.INTEGRITY, ErrorKind.INTERNAL), "${e.kind}: ${e.reason}")
            assertTrue(sb.notifications().none { it.success })
            assertEquals(emptyList(), sb.methods("dave"))
        }
    }
}

/**
 * A toy provider that needs the user's PIN on every call (in the call's
 * provider configs): random data keys kept beside a salted PIN hash; a
 * wrong PIN throws WRONG_SECRET, a missing one INVALID_INPUT.
 */
class PinProvider : BackupProvider {
    private class Entry(val salt: ByteArray, val digest: ByteArray, val key: ByteArray)

    private val keys = ConcurrentHashMap<String, Entry>()
    private val random = SecureRandom()

    private fun pin(ctx: ProviderContext): ByteArray =
        ctx.configs["pin"]?.takeIf { it.isNotEmpty() }?.toByteArray()
            ?: throw shareBackupError(ErrorKind.INVALID_INPUT, "pass the PIN in providerConfigs[method][\"pin\"]")

    private fun digest(salt: ByteArray, pin: ByteArray): ByteArray =
        MessageDigest.getInstance("SHA-256").run { update(salt); update(pin); digest() }

    private fun slot(header: ByteArray, ctx: ProviderContext) = "${ctx.userId}/${String(header)}"

    override fun probe(ctx: ProviderContext) {
        pin(ctx)
    }

    override fun sealKey(ctx: ProviderContext): SealedKey {
        val pin = pin(ctx)
        val salt = ByteArray(16).also(random::nextBytes)
        val key = ByteArray(64).also(random::nextBytes)
        val header = "pin:${ctx.backupId}".toByteArray()
        keys.putIfAbsent(slot(header, ctx), Entry(salt, digest(salt, pin), key.copyOf()))
        pin.fill(0)
        return SealedKey(key, header)
    }

    override fun openKey(header: ByteArray, ctx: ProviderContext): ByteArray {
        val pin = pin(ctx)
        val entry = keys[slot(header, ctx)] ?: throw shareBackupError(ErrorKind.NOT_FOUND, "no key for this backup")
        val ok = MessageDigest.isEqual(digest(entry.salt, pin), entry.digest)
        pin.fill(0)
        if (!ok) throw shareBackupError(ErrorKind.WRONG_SECRET, "wrong PIN")
        return entry.key.copyOf()
    }

    override fun deleteKey(header: ByteArray, ctx: ProviderContext) {
        keys.remove(slot(header, ctx))
    }

    companion object {
        val CAPABILITIES = ProviderCapabilities(needsUserSecret = true, remote = false, deletes = true, probes = true)
    }
}
