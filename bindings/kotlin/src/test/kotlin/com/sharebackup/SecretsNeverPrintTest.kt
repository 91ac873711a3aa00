package com.sharebackup

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** The string forms (toString, exception messages) of everything that holds or meets a secret never contain it. */
class SecretsNeverPrintTest {
    private val password = "pw-3f9a1c-never-printed-long-enough"
    private val token = "ya29.token-7d2e-never-printed"
    private val apiKey = "portal-client-api-key-5b8e"
    private val accessKey = "aws-secret-access-key-c41d"

    private fun assertNoSecret(text: String) {
        for (s in listOf(password, token, apiKey, accessKey)) {
            assertFalse(text.contains(s), "a secret printed: $text")
        }
    }

    @Test
    fun `configs, notifier and store configs and the provider context print no password, token, API key or access key`() {
        val configs = CallConfigs(
            password = password,
            passwordBytes = password.toByteArray(),
            googleAccessToken = token,
            providerConfigs = mapOf("custom" to mapOf("token" to token)),
        )
        val portal = NotifierConfig.Portal("https://api.example", "v1", apiKey, false)
        val store = StoreConfig.Url("s3://bucket/prefix", mapOf("aws_secret_access_key" to accessKey))
        val config = ShareBackupConfig(store = store, notifier = portal)
        val sealed = SealedKey(key = password.toByteArray(), header = byteArrayOf(1))
        val ctx = ProviderContext("alice", "0".repeat(32), null, null, mapOf("token" to token))
        for (text in listOf(configs, portal, store, config, sealed, ctx).map { it.toString() }) {
            assertNoSecret(text)
        }
        assertTrue(configs.toString().contains("REDACTED"), configs.toString())
    }

    @Test
    fun `errors and receipts print no password`() = runBlocking {
        memoryShareBackup().use { sb ->
            val receipt = sb.backup("alice", share(), CallConfigs(password = password), "password")
            assertNoSecret(receipt.toString())
            val wrong = failure { sb.recover("alice", CallConfigs(password = "$password-but-wrong")) }
            assertNoSecret(wrong.toString())
            assertNoSecret(wrong.message ?: "")
            assertFalse(wrong.toString().contains("-but-wrong"), wrong.toString())
            // A password the policy refuses is not echoed in its violations either.
            val weak = failure { sb.backup("alice", share(), CallConfigs(password = "short1"), "password") }
            assertFalse(weak.toString().contains("short1"), weak.toString())
        }
    }
}
