"""The Python bindings' figures for BENCHMARKS.md ("Bindings").

Run after scripts/ci/bindings-python.sh (it builds the library with the
`testing` feature and lays out the package):

    PYTHONPATH=target/bindings-python python3 bindings/python/bench/bench.py [overhead|rss]

`overhead`: a password backup from Python / the same backup from Rust
(same library, same costs, same process, interleaved rounds), and the
per-call cost of `methods` on a memory store and of one progress callback.
`rss`: peak RSS of 1,000 backups and recoveries (after 100 and after 1,000).
`ratio [PAIRS]`: the password backup ratio alone, made robust against the
load of shared cores: a warm-up, then PAIRS (default 60) pairs of one
Python and one Rust backup in alternating order (ABBA), the median of the
per-pair ratios with a distribution-free 95 % interval (order statistics).
"""

import asyncio
import os
import resource
import statistics
import sys
import threading
import time

import share_backup as sb

PASSWORD = "correct horse battery staple"
# SHARE_BACKUP_BENCH_SPACE_COST=131072 gives the password provider's default costs.
KDF = {"space_cost": os.environ.get("SHARE_BACKUP_BENCH_SPACE_COST", "16384"), "time_cost": "3", "insecure_below_cost_floor": "true"}


def make(kdf):
    return sb.ShareBackup(
        sb.ShareBackupConfig(
            store=sb.StoreConfig.URL(url="memory://", options={}),
            notifier=sb.NotifierConfig.RECORDING(),
            provider_settings={"password": kdf},
        )
    )


class Count(sb.ProgressListener):
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def on_progress(self, status, done):
        with self.lock:
            self.n += 1


async def overhead():
    s = make(KDF)
    share = bytes(range(64))
    n = 20
    ratios = []
    for _ in range(5):
        rust = await sb.bench_rust_backups(s, "bench-rust", share, PASSWORD, n)
        t = time.perf_counter()
        for _ in range(n):
            await s.backup("bench-py", share, configs=sb.CallConfigs(password=PASSWORD), method="password")
        py = time.perf_counter() - t
        ratios.append(py / rust)
        print(f"round: python {py / n * 1e3:.2f} ms/backup, rust {rust / n * 1e3:.2f} ms/backup, ratio {py / rust:.3f}")
    print(f"backup python/rust median ratio: {statistics.median(ratios):.3f}")

    await s.backup("m", share, configs=sb.CallConfigs(password=PASSWORD), method="password")
    calls = 2000
    for _ in range(3):
        rust = await sb.bench_rust_methods(s, "m", calls)
        t = time.perf_counter()
        for _ in range(calls):
            await s.methods("m")
        py = time.perf_counter() - t
        print(f"methods: python {py / calls * 1e6:.1f} us/call, rust {rust / calls * 1e6:.1f} us/call")

    for _ in range(3):
        c = Count()
        app, rust = await sb.bench_progress(c, 10000)
        print(f"progress: python listener {app / max(c.n, 1) * 1e6:.2f} us/callback ({c.n} callbacks), rust closure {rust / 10000 * 1e6:.3f} us/callback")


async def ratio(pairs):
    s = make(KDF)
    share = bytes(range(64))

    async def py_once():
        t = time.perf_counter()
        await s.backup("bench-py", share, configs=sb.CallConfigs(password=PASSWORD), method="password")
        return time.perf_counter() - t

    async def rust_once():
        return await sb.bench_rust_backups(s, "bench-rust", share, PASSWORD, 1)

    for _ in range(3):  # warm-up: allocator, first commit of each user
        await py_once()
        await rust_once()
    ratios, pys, rusts = [], [], []
    for i in range(pairs):
        if i % 2 == 0:
            py = await py_once()
            rust = await rust_once()
        else:
            rust = await rust_once()
            py = await py_once()
        pys.append(py)
        rusts.append(rust)
        ratios.append(py / rust)
    ratios.sort()
    # Distribution-free 95 % interval of the median: order statistics
    # n/2 -/+ 0.98 sqrt(n) (normal approximation of the binomial).
    half = 0.98 * (pairs ** 0.5)
    lo = ratios[max(0, int(pairs / 2 - half) - 1)]
    hi = ratios[min(pairs - 1, int(pairs / 2 + half))]
    print(f"pairs: {pairs} (ABBA order, after 3 warm-up backups each)")
    print(f"python backup: median {statistics.median(pys) * 1e3:.1f} ms; rust backup: median {statistics.median(rusts) * 1e3:.1f} ms")
    print(f"python/rust: median of per-pair ratios {statistics.median(ratios):.4f} (95 % interval {lo:.4f}-{hi:.4f}); ratio of medians {statistics.median(pys) / statistics.median(rusts):.4f}")


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def rss():
    s = make({"space_cost": "64", "time_cost": "1", "insecure_below_cost_floor": "true"})
    share = bytes(range(64))
    cfg = lambda: sb.CallConfigs(password=PASSWORD)  # noqa: E731
    for i in range(1, 1001):
        user = f"user-{i % 50}"
        await s.backup(user, share, configs=cfg(), method="password")
        assert await s.recover(user, configs=cfg()) == share
        if i in (100, 500, 1000):
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(f"after {i} backups+recoveries: VmRSS {rss_kib()} KiB, peak {peak} KiB")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "overhead"
    if mode == "ratio":
        asyncio.run(ratio(int(sys.argv[2]) if len(sys.argv) > 2 else 60))
    else:
        asyncio.run(overhead() if mode == "overhead" else rss())
