package com.sharebackup

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue

class PasswordTest {
    @Test
    fun `a password backup recovers the same share and is acknowledged once`() = runBlocking {
        memoryShareBackup().use { sb ->
            val receipt = sb.backup("alice", share(), passwordConfigs(GOOD_PASSWORD.toByteArray()), "password")
            assertEquals("password", receipt.method)
            assertTrue(receipt.cipherText.startsWith("sb1."), "an sb1 envelope")
            assertEquals(listOf(Notification("alice", "password", receipt.backupId, true)), sb.notifications())
            assertEquals(listOf("password"), sb.methods("alice"))

            val back = sb.recover("alice", CallConfigs(password = GOOD_PASSWORD))
            assertContentEquals(share(), back)
        }
    }

    @Test
    fun `a wrong password is the WrongSecret kind and recovers nothing`() = runBlocking {
        memoryShareBackup().use { sb ->
            sb.backup("bob", share(), CallConfigs(password = GOOD_PASSWORD), "password")
            val e = failure { sb.recover("bob", CallConfigs(password = "not the password at all 99")) }
            assertEquals(ErrorKind.WRONG_SECRET, e.kind)
            assertEquals("password", e.method)
            assertFalse(e.message!!.contains("not the password"), "the message never repeats the password")
        }
    }

    @Test
    fun `the live policy check reports violations while typing and ok once the password is good`() {
        val policy = PasswordPolicy(emptyMap())
        assertTrue(policy.requirements().isNotEmpty())
        val typed = GOOD_PASSWORD
        val checks = (1..typed.length).map { policy.check(typed.substring(0, it), "alice") }
        assertTrue(checks.first().violations.any { it.kind is ViolationKind.TooShort }, "one character is too short")
        assertFalse(checks.first().ok)
        assertTrue(checks.last().ok, "the whole password meets the policy: ${checks.last().violations}")
        assertTrue(checks.last().strength.score >= checks.first().strength.score)
        for (c in checks) {
            for (v in c.violations) assertFalse(v.message.contains("horse"), "a violation never quotes the text")
        }

        val common = checkPassword(emptyMap(), "password1", "alice")
        assertEquals(listOf("common"), common.violations.filter { it.code == "common" }.map { it.code })
        assertTrue(checkPassword(emptyMap(), "alice-secret-words 77", "alice").violations.any { it.kind == ViolationKind.ContainsUserId })
    }

    @Test
    fun `a password breaking the policy is refused with the typed violations and nothing is stored`() = runBlocking {
        memoryShareBackup().use { sb ->
            val e = failure { sb.backup("carol", share(), CallConfigs(password = "123456"), "password") }
            assertEquals(ErrorKind.POLICY_VIOLATION, e.kind)
            assertTrue(e.violations.isNotEmpty())
            assertEquals(emptyList(), sb.methods("carol"))
            assertTrue(sb.notifications().none { it.success })
        }
    }

    @Test
    fun `a password of one MiB is a typed error, not a crash, and nothing is acknowledged`() = runBlocking {
        memoryShareBackup().use { sb ->
            val huge = ByteArray(1 shl 20) { 'a'.code.toByte() }
            val e = failure { sb.backup("dave", share(), passwordConfigs(huge), "password") }
            assertEquals(ErrorKind.POLICY_VIOLATION, e.kind)
            assertTrue(e.violations.any { it.kind is ViolationKind.TooLong }, "${e.violations.map { it.code }}")
            assertTrue(sb.notifications().none { it.success })
            assertEquals(emptyList(), sb.methods("dave"))
        }
    }

    @Test
    fun `an empty user id is InvalidInput for every call`() = runBlocking {
        memoryShareBackup().use { sb ->
            assertEquals(ErrorKind.INVALID_INPUT, failure { sb.backup("", share(), CallConfigs(password = GOOD_PASSWORD), "password") }.kind)
            assertEquals(ErrorKind.INVALID_INPUT, failure { sb.recover("", CallConfigs(password = GOOD_PASSWORD)) }.kind)
            assertEquals(ErrorKind.INVALID_INPUT, failure { sb.methods("") }.kind)
            assertTrue(sb.notifications().isEmpty())
        }
    }

    @Test
    fun `password bytes never show in the configs' toString`() {
        val configs = passwordConfigs(GOOD_PASSWORD.toByteArray())
        assertFalse(configs.toString().contains("horse"), configs.toString())
    }

    @Test
    fun `rotate re-wraps the backup under a new password and the old one stops working`() = runBlocking {
        memoryShareBackup().use { sb ->
            val first = sb.backup("erin", share(), CallConfigs(password = GOOD_PASSWORD), "password")
            val newPassword = "a different long passphrase 7"
            val second = sb.rotate("erin", "password", CallConfigs(password = GOOD_PASSWORD), CallConfigs(password = newPassword))
            assertEquals(first.backupId, second.previousBackupId)
            assertContentEquals(share(), sb.recover("erin", CallConfigs(password = newPassword)))
            assertEquals(ErrorKind.WRONG_SECRET, failure { sb.recover("erin", CallConfigs(password = GOOD_PASSWORD)) }.kind)
        }
    }
}
