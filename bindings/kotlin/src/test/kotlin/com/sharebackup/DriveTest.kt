package com.sharebackup

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** The default method, Google Drive, against the repository's fake Drive on 127.0.0.1, with a Kotlin token source. */
class DriveTest {
    /** The app's Google Sign-In: a first token, and a fresh one when Google refuses it. */
    class SignInTokens(private val first: String, private val fresh: String) : GoogleTokenSource {
        val refreshes = AtomicInteger()
        val scopesSeen = mutableSetOf<String>()

        override fun accessToken(scopes: List<String>): String {
            synchronized(scopesSeen) { scopesSeen += scopes }
            return if (refreshes.get() == 0) first else fresh
        }

        override fun refreshToken(scopes: List<String>): String {
            refreshes.incrementAndGet()
            return fresh
        }
    }

    private fun driveBackup(drive: FakeDrive) = ShareBackup(
        ShareBackupConfig(
            store = StoreConfig.Url("memory://"),
            notifier = NotifierConfig.Recording,
            providerSettings = mapOf("gdrive" to mapOf("endpoint" to drive.endpoint())),
        ),
    )

    @Test
    fun `a backup without a method goes to Drive and recovers with a Kotlin token source`() = runBlocking {
        FakeDrive.start().use { drive ->
            drive.addToken("kotlin-token")
            driveBackup(drive).use { sb ->
                assertEquals(listOf("gdrive"), sb.defaultChain())
                val tokens = SignInTokens("kotlin-token", "kotlin-token")
                val receipt = sb.backup("alice", share(), CallConfigs(googleTokenSource = tokens))
                assertEquals("gdrive", receipt.method)
                assertTrue(drive.fileCount() >= 1UL, "the key file is in the fake Drive")
                assertTrue(tokens.scopesSeen.any { it.contains("drive") }, "${tokens.scopesSeen}")
                assertEquals(listOf(true), sb.notifications().map { it.success })
                assertContentEquals(share(), sb.recover("alice", CallConfigs(googleTokenSource = tokens)))
            }
        }
    }

    @Test
    fun `a refused token is refreshed through the Kotlin token source`() = runBlocking {
        FakeDrive.start().use { drive ->
            drive.addToken("expired")
            drive.revokeToken("expired")
            drive.addToken("fresh")
            driveBackup(drive).use { sb ->
                val tokens = SignInTokens("expired", "fresh")
                sb.backup("bob", share(), CallConfigs(googleTokenSource = tokens), "gdrive")
                assertTrue(tokens.refreshes.get() >= 1, "the app was asked for a fresh token")
                assertContentEquals(share(), sb.recover("bob", CallConfigs(googleTokenSource = tokens)))
            }
        }
    }

    @Test
    fun `a token source that cannot sign in is Unauthenticated and nothing is acknowledged`() = runBlocking {
        FakeDrive.start().use { drive ->
            driveBackup(drive).use { sb ->
                val signedOut = object : GoogleTokenSource {
                    override fun accessToken(scopes: List<String>): String =
                        throw shareBackupError(ErrorKind.UNAUTHENTICATED, "the user signed out of Google")
                    override fun refreshToken(scopes: List<String>): String = accessToken(scopes)
                }
                val e = failure { sb.backup("carol", share(), CallConfigs(googleTokenSource = signedOut)) }
                assertEquals(ErrorKind.UNAUTHENTICATED, e.kind, e.reason)
                assertTrue(sb.notifications().none { it.success })
                assertEquals(0UL, drive.fileCount())
            }
        }
    }
}
