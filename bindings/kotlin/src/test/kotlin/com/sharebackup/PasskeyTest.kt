package com.sharebackup

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import org.junit.jupiter.api.Test
import java.io.File
import java.security.MessageDigest
import java.security.SecureRandom
import java.util.Base64
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

private const val RP = "wallet.example.com"
private val random = SecureRandom()

private fun bytes(n: Int) = ByteArray(n).also(random::nextBytes)

private fun hex(b: ByteArray) = b.joinToString("") { "%02x".format(it) }

private fun unhex(s: String) = ByteArray(s.length / 2) { s.substring(2 * it, 2 * it + 2).toInt(16).toByte() }

/**
 * What a platform returns as `prf.results.first`: the WebAuthn input hashed
 * into the CTAP2 hmac-secret salt, SHA-256("WebAuthn PRF" || 0x00 || input),
 * then HMAC-SHA-256 under the credential's secret (providers/passkey/SPEC.md).
 */
fun softPrf(credRandom: ByteArray, input: ByteArray): ByteArray {
    val salt = MessageDigest.getInstance("SHA-256").run {
        update("WebAuthn PRF".toByteArray())
        update(0)
        update(input)
        digest()
    }
    return Mac.getInstance("HmacSHA256").run {
        init(SecretKeySpec(credRandom, "HmacSHA256"))
        doFinal(salt)
    }
}

/**
 * A software authenticator and WebAuthn client written in Kotlin: credentials
 * with a random secret each; answers with the first allowed one it holds, the
 * way Credential Manager does for `allowCredentials`.
 */
class SoftPasskeys(n: Int = 1, @Volatile var mode: Mode = Mode.NORMAL) : PasskeyAuthenticator {
    enum class Mode { NORMAL, NO_PRF, CANCEL }

    /** Credential id (hex) to (id, secret). */
    val creds = LinkedHashMap<String, Pair<ByteArray, ByteArray>>()
    val requests: MutableList<PasskeyRequest> = Collections.synchronizedList(mutableListOf())

    init {
        repeat(n) { add(bytes(16), bytes(32)) }
    }

    fun add(id: ByteArray, secret: ByteArray) = apply { creds[hex(id)] = id to secret }

    fun ids(): List<ByteArray> = creds.values.map { it.first }

    /** The same passkey on another device holding only [id] (synced). */
    fun only(id: ByteArray) = SoftPasskeys(0, mode).add(id, creds.getValue(hex(id)).second)

    override fun evaluate(request: PasskeyRequest): PasskeyAssertion {
        requests += request
        if (mode == Mode.CANCEL) throw shareBackupError(ErrorKind.CANCELLED, "the user dismissed the passkey prompt")
        for (c in request.credentials) {
            val (_, secret) = creds[hex(c.credentialId)] ?: continue
            if (mode == Mode.NO_PRF) throw shareBackupError(ErrorKind.UNSUPPORTED, "prf.results absent")
            return PasskeyAssertion(c.credentialId, softPrf(secret, c.prfInput))
        }
        throw shareBackupError(ErrorKind.NOT_FOUND, "no allowed passkey on this device")
    }
}

private fun pk(auth: PasskeyAuthenticator, enroll: List<ByteArray> = emptyList()) =
    CallConfigs(passkey = PasskeyCallConfig(auth, enroll))

private fun passkeyShareBackup(callTimeoutMs: ULong? = null) = ShareBackup(
    ShareBackupConfig(
        store = StoreConfig.Url("memory://"),
        notifier = NotifierConfig.Recording,
        providerSettings = mapOf("passkey" to passkeySettings(RP)),
        callTimeoutMs = callTimeoutMs,
    ),
)

/** An authenticator whose user never answers: it waits at [gate] after counting down [reached]. */
class HangingPasskeys(val inner: SoftPasskeys = SoftPasskeys(1)) : PasskeyAuthenticator {
    val gate = CountDownLatch(1)
    val reached = CountDownLatch(1)

    override fun evaluate(request: PasskeyRequest): PasskeyAssertion {
        reached.countDown()
        gate.await(60, TimeUnit.SECONDS)
        return inner.evaluate(request)
    }
}

/** The passkey method (WebAuthn PRF) driven by a Kotlin authenticator. */
class PasskeyTest {
    @Test
    fun `the Kotlin PRF computes the spec's vectors`() {
        val text = File("../../providers/passkey/testdata/vectors.json").readText()
        val re = Regex(""""cred_random": "(\w+)",\s*"prf_input": "(\w+)",\s*"hmac_secret_salt": "\w+",\s*"prf_output": "(\w+)"""")
        val found = re.findAll(text).toList()
        assertTrue(found.isNotEmpty(), "no vector parsed")
        for (m in found) {
            val (secret, input, output) = m.destructured
            assertEquals(output, hex(softPrf(unhex(secret), unhex(input))))
        }
    }

    @Test
    fun `two passkeys back up and either one recovers`() = runBlocking {
        passkeyShareBackup().use { sb ->
            assertTrue(sb.providers().any { it.id == "passkey" })
            val auth = SoftPasskeys(2)
            val (a, b) = auth.ids()
            val receipt = sb.backup("alice", share(), pk(auth, listOf(a, b)), "passkey")
            assertEquals("passkey", receipt.method)
            val enrol = auth.requests.filter { it.purpose == PasskeyPurpose.ENROLL }
            assertEquals(listOf(hex(a), hex(b)), enrol.map { hex(it.credentials.single().credentialId) })
            for (id in listOf(a, b)) {
                val device = auth.only(id)
                assertContentEquals(share(), sb.recover("alice", pk(device), "passkey"))
                assertEquals(PasskeyPurpose.RECOVER, device.requests.last().purpose)
                assertEquals(2, device.requests.last().credentials.size)
            }
            assertEquals(listOf(true), sb.notifications().map { it.success })
        }
    }

    @Test
    fun `an unenrolled passkey is WRONG_SECRET`() = runBlocking {
        passkeyShareBackup().use { sb ->
            val auth = SoftPasskeys(1)
            sb.backup("bob", share(), pk(auth, auth.ids()), "passkey")
            val stranger = failure { sb.recover("bob", pk(SoftPasskeys(1)), "passkey") }
            assertEquals(ErrorKind.WRONG_SECRET, stranger.kind, stranger.reason)
            val impostor = SoftPasskeys(0).add(auth.ids().single(), bytes(32))
            val e = failure { sb.recover("bob", pk(impostor), "passkey") }
            assertEquals(ErrorKind.WRONG_SECRET, e.kind, e.reason)
            assertContentEquals(share(), sb.recover("bob", pk(auth), "passkey"))
        }
    }

    @Test
    fun `an authenticator without PRF is UNSUPPORTED and nothing is acknowledged`() = runBlocking {
        failedCeremony(SoftPasskeys.Mode.NO_PRF, ErrorKind.UNSUPPORTED)
    }

    @Test
    fun `a cancelled ceremony is CANCELLED and nothing is acknowledged`() = runBlocking {
        failedCeremony(SoftPasskeys.Mode.CANCEL, ErrorKind.CANCELLED)
    }

    private suspend fun failedCeremony(mode: SoftPasskeys.Mode, kind: ErrorKind) {
        passkeyShareBackup().use { sb ->
            val good = SoftPasskeys(1)
            sb.backup("carol", share(), pk(good, good.ids()), "passkey")
            val bad = good.only(good.ids().single()).also { it.mode = mode }
            val e = failure { sb.backup("carol", share("newer"), pk(bad, bad.ids()), "passkey") }
            assertEquals(kind, e.kind, e.reason)
            assertEquals("passkey", e.method)
            val r = failure { sb.recover("carol", pk(bad), "passkey") }
            assertEquals(kind, r.kind, r.reason)
            assertEquals(listOf(true, false), sb.notifications().map { it.success })
            assertContentEquals(share(), sb.recover("carol", pk(good), "passkey"))
        }
    }

    @Test
    fun `a ceremony hanging past the call timeout is UNAVAILABLE and nothing is acknowledged`() = runBlocking {
        passkeyShareBackup(callTimeoutMs = 300u).use { sb ->
            val auth = HangingPasskeys()
            try {
                val e = failure { sb.backup("erin", share(), pk(auth, auth.inner.ids()), "passkey") }
                assertEquals(ErrorKind.UNAVAILABLE, e.kind, e.reason)
                assertTrue(e.reason.contains("did not return within 300 ms"), e.reason)
                assertEquals(listOf(false), sb.notifications().map { it.success })
                assertEquals(emptyList(), sb.methods("erin"))
            } finally {
                auth.gate.countDown()
            }
        }
    }

    @Test
    fun `cancelling the coroutine mid-ceremony acknowledges nothing and the previous backup still recovers`() = runBlocking {
        passkeyShareBackup().use { sb ->
            val good = SoftPasskeys(1)
            val first = sb.backup("fay", share("first"), pk(good, good.ids()), "passkey")
            val auth = HangingPasskeys(good)
            val second = async(Dispatchers.Default) { sb.backup("fay", share("second"), pk(auth, good.ids()), "passkey") }
            assertTrue(withContext(Dispatchers.IO) { auth.reached.await(30, TimeUnit.SECONDS) }, "the ceremony started")
            second.cancel()
            assertFailsWith<CancellationException> { second.await() }
            auth.gate.countDown()
            // The abort of the Rust task lands on the runtime after the
            // coroutine has seen its cancellation: until then the user is
            // still IN_PROGRESS (no other outcome is possible), so wait for it.
            var third: BackupReceipt? = null
            while (third == null) {
                try {
                    third = sb.backup("fay", share("third"), pk(good, good.ids()), "passkey")
                } catch (e: ShareBackupException.Failed) {
                    assertEquals(ErrorKind.IN_PROGRESS, e.kind, e.reason)
                    withContext(Dispatchers.IO) { Thread.sleep(10) }
                }
            }
            assertEquals(listOf(first.backupId, third.backupId), sb.notifications().filter { it.success }.map { it.backupId })
            assertEquals(first.backupId, third.previousBackupId, "the cancelled backup never became current")
            assertContentEquals(share("third"), sb.recover("fay", pk(good), "passkey"))
        }
    }

    @Test
    fun `no PRF output shows in toString or in an error`() = runBlocking {
        val secret = ByteArray(32) { it.toByte() }
        val a = PasskeyAssertion(byteArrayOf(1, 2), secret)
        val c = pk(SoftPasskeys(1), listOf(ByteArray(16) { 9 }))
        for (text in listOf(a.toString(), c.toString(), c.passkey.toString())) {
            assertFalse(text.contains(hex(secret)), text)
            assertFalse(text.contains(secret.contentToString()), text)
            assertFalse(text.contains(Base64.getUrlEncoder().withoutPadding().encodeToString(secret)), text)
        }
        assertTrue(a.toString().contains("[REDACTED]"), a.toString())
        val seen = Collections.synchronizedList(mutableListOf<ByteArray>())
        val auth = object : PasskeyAuthenticator {
            val inner = SoftPasskeys(1)
            override fun evaluate(request: PasskeyRequest) = inner.evaluate(request).also { seen += it.prfOutput.copyOf() }
        }
        passkeyShareBackup().use { sb ->
            sb.backup("dan", share(), pk(auth, auth.inner.ids()), "passkey")
            val wrong = SoftPasskeys(0).add(auth.inner.ids().single(), bytes(32))
            val e = failure { sb.recover("dan", pk(wrong), "passkey") }
            for (out in seen) {
                assertFalse(e.toString().contains(hex(out)))
                assertFalse(e.toString().contains(out.contentToString()))
            }
        }
    }

    @Test
    fun `the registration options request PRF`() {
        val json = passkeyRegistrationOptionsJson(RP, "Example Wallet", "user-1".toByteArray(), "alice", bytes(32), emptyList())
        assertTrue(json.contains(""""prf":{}"""), json)
        assertTrue(json.contains(""""userVerification":"required""""), json)
    }

    @Test
    fun `the passkey provider passes the conformance suite with a Kotlin authenticator`() = runBlocking {
        val auth = SoftPasskeys(1)
        val wrong = SoftPasskeys(0).add(auth.ids().single(), bytes(32))
        val report = runPasskeyConformance(RP, auth, wrong, auth.ids())
        val failed = report.cases.filter { it.outcome == CaseOutcome.FAILED }
        assertEquals(emptyList(), failed, "failed cases")
        assertTrue(report.passed)
        assertTrue(report.cases.any { it.name.startsWith("roundtrip") && it.outcome == CaseOutcome.PASSED }, "${report.cases}")
    }
}
