package com.sharebackup

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Tag
import org.junit.jupiter.api.Test
import java.util.concurrent.atomic.AtomicInteger

/**
 * The Kotlin figures of BENCHMARKS.md ("Bindings — Kotlin"). Not part of the
 * test run (tag `bench`, excluded in pom.xml); run after
 * scripts/ci/bindings-kotlin.sh with
 * `mvn -B -q test -Dgroups=bench -DexcludedGroups=none -Dtest=BindingsBench -Dsurefire.failIfNoSpecifiedTests=false`.
 * The Rust side runs in the same process on the same ShareBackup and library
 * (`benchRustBackups`, `benchRustMethods`, `benchProgress` of the FFI crate's
 * `testing` feature), in rounds interleaved with the Kotlin ones. Prints only.
 */
@Tag("bench")
class BindingsBench {
    private val password = "correct horse battery staple"
    private val share = ByteArray(64) { it.toByte() }

    @Test
    fun `password backup, methods and progress callback overhead`() = runBlocking {
        ShareBackup(
            ShareBackupConfig(
                store = StoreConfig.Url("memory://"),
                notifier = NotifierConfig.Recording,
                providerSettings = mapOf("password" to mapOf("space_cost" to "16384", "time_cost" to "3", "insecure_below_cost_floor" to "true")),
            ),
        ).use { sb ->
            val n = 20
            // warm-up: JIT, JNA, the runtime
            repeat(3) { sb.backup("bench-kt", share, CallConfigs(password = password), "password") }
            val ratios = mutableListOf<Double>()
            repeat(5) {
                val rust = benchRustBackups(sb, "bench-rust", share, password, n.toUInt())
                val t = System.nanoTime()
                repeat(n) { sb.backup("bench-kt", share, CallConfigs(password = password), "password") }
                val kt = (System.nanoTime() - t) / 1e9
                ratios += kt / rust
                println("round: kotlin %.2f ms/backup, rust %.2f ms/backup, ratio %.3f".format(kt / n * 1e3, rust / n * 1e3, kt / rust))
            }
            println("backup kotlin/rust median ratio: %.3f".format(ratios.sorted()[ratios.size / 2]))

            val calls = 2000
            repeat(200) { sb.methods("bench-kt") }
            repeat(3) {
                val rust = benchRustMethods(sb, "bench-kt", calls.toUInt())
                val t = System.nanoTime()
                repeat(calls) { sb.methods("bench-kt") }
                val kt = (System.nanoTime() - t) / 1e9
                println("methods: kotlin %.1f us/call, rust %.1f us/call".format(kt / calls * 1e6, rust / calls * 1e6))
            }

            repeat(3) {
                val count = AtomicInteger()
                val listener = progressListener { _, _ -> count.incrementAndGet() }
                val (app, rust) = benchProgress(listener, 10_000u)
                println(
                    "progress: kotlin listener %.2f us/callback (%d callbacks), rust closure %.3f us/callback"
                        .format(app / maxOf(count.get(), 1) * 1e6, count.get(), rust / 10_000 * 1e6),
                )
            }
        }
    }

    /**
     * The password backup ratio alone, robust against the load of a shared
     * machine: `pairs` (system property `bench.pairs`, default 100) pairs of
     * one Kotlin and one Rust backup in alternating order (ABBA), the median
     * of the per-pair ratios with a distribution-free 95 % interval (order
     * statistics n/2 -/+ 0.98 sqrt(n)), as bindings/python/bench/bench.py's
     * `ratio` mode does. Run with `-Dtest='BindingsBench#password*ratio*'`.
     */
    @Test
    fun `password backup ratio, ABBA pairs`() = runBlocking {
        val pairs = System.getProperty("bench.pairs")?.toInt() ?: 100
        // `-Dbench.space_cost=131072` gives the password provider's default costs.
        val space = System.getProperty("bench.space_cost") ?: "16384"
        println("KDF space cost $space x time cost 3")
        ShareBackup(
            ShareBackupConfig(
                store = StoreConfig.Url("memory://"),
                notifier = NotifierConfig.Recording,
                providerSettings = mapOf("password" to mapOf("space_cost" to space, "time_cost" to "3", "insecure_below_cost_floor" to "true")),
            ),
        ).use { sb ->
            suspend fun kotlinOnce(): Double {
                val t = System.nanoTime()
                sb.backup("bench-kt", share, CallConfigs(password = password), "password")
                return (System.nanoTime() - t) / 1e9
            }
            suspend fun rustOnce(): Double = benchRustBackups(sb, "bench-rust", share, password, 1u)
            repeat(3) {
                kotlinOnce()
                rustOnce()
            }
            val ratios = mutableListOf<Double>()
            val kts = mutableListOf<Double>()
            val rusts = mutableListOf<Double>()
            for (i in 0 until pairs) {
                val (kt, rust) = if (i % 2 == 0) {
                    val k = kotlinOnce()
                    k to rustOnce()
                } else {
                    val r = rustOnce()
                    kotlinOnce() to r
                }
                kts += kt
                rusts += rust
                ratios += kt / rust
            }
            ratios.sort()
            val half = 0.98 * Math.sqrt(pairs.toDouble())
            val lo = ratios[maxOf(0, (pairs / 2.0 - half).toInt() - 1)]
            val hi = ratios[minOf(pairs - 1, (pairs / 2.0 + half).toInt())]
            fun median(v: List<Double>): Double = v.sorted().let { if (it.size % 2 == 1) it[it.size / 2] else (it[it.size / 2 - 1] + it[it.size / 2]) / 2 }
            println("pairs: $pairs (ABBA order, after 3 warm-up backups each)")
            println("kotlin backup: median %.1f ms; rust backup: median %.1f ms".format(median(kts) * 1e3, median(rusts) * 1e3))
            println(
                "kotlin/rust: median of per-pair ratios %.4f (95 %% interval %.4f-%.4f); ratio of medians %.4f"
                    .format(median(ratios), lo, hi, median(kts) / median(rusts)),
            )
        }
    }
}
