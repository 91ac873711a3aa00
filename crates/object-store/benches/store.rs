//! Store benchmarks (a plain binary, `harness = false`):
//!
//! - `ratio`: orchestrated backups per second ÷ raw `object_store` puts per
//!   second of the same bytes, on a local directory and on moto's S3 server,
//!   with a provider whose key custody is free (`MemoryKeyProvider`), at
//!   concurrency 1 and 16; plus the backend requests one backup costs.
//! - `faults`: N users (`--users`, 10,000 by default) backed up and then
//!   recovered through the orchestrator, `--conc` (64) at a time, on moto S3
//!   and/or Azurite (`--backend s3|azure|all`, default all), with
//!   `--fault-rate` (0.05) of store requests failing with an injected 503
//!   before they reach the server and every request delayed by a uniformly
//!   random `--latency-ms MIN,MAX` (1,20), both seeded (`--seed`). Checks,
//!   for every user: backed up, recovered with the same share, nothing lost
//!   (acknowledged but not recoverable) and the notifier's acknowledged
//!   backup id equal to the store's current one (read without faults);
//!   exits 1 otherwise. Prints a line and a Markdown table row per backend;
//!   peak RSS is process-wide, so run one backend per invocation for a clean
//!   figure.
//!
//! ```text
//! eval "$(scripts/test-servers.sh start)"
//! cargo bench -p share-backup-object-store --bench store -- ratio
//! cargo bench -p share-backup-object-store --bench store -- faults --backend s3 --users 10000
//! cargo bench -p share-backup-object-store --bench store -- faults --backend azure --users 10000
//! scripts/test-servers.sh stop
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use share_backup_core::{BackupId, BackupShare, ExposeSecret, MethodId, UserId};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_object_store::object_store::path::Path;
use share_backup_object_store::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use share_backup_object_store::testing::{CountingObjectStore, FaultPlan, FaultTiming, FaultyObjectStore};
use share_backup_orchestrator::testing::MemoryKeyProvider;
use share_backup_orchestrator::{
    BackupRequest, CipherTextStore, Orchestrator, RecordingNotifier, RecoverRequest, RetryPolicy,
};

const METHOD: MethodId = MemoryKeyProvider::METHOD;

fn orchestrator(store: ObjectCipherTextStore, notifier: RecordingNotifier) -> Orchestrator {
    Orchestrator::builder()
        .provider(Arc::new(MemoryKeyProvider::new()))
        .store(Arc::new(store))
        .notifier(Arc::new(notifier))
        .retry(
            RetryPolicy::default().with_min_delay(Duration::from_millis(10)).with_max_delay(Duration::from_millis(200)),
        )
        .build()
        .expect("orchestrator")
}

fn share(i: usize) -> BackupShare {
    let mut b = vec![0u8; 32];
    share_backup_core::fill_random(&mut b).unwrap();
    b[..8].copy_from_slice(&(i as u64).to_be_bytes());
    BackupShare::new(b).unwrap()
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn raw_puts(backend: Arc<dyn ObjectStore>, prefix: &str, bytes: bytes::Bytes, n: usize, conc: usize) -> f64 {
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let backend = backend.clone();
            let path = Path::from(format!("{prefix}/raw/{i:08}"));
            let payload = PutPayload::from_bytes(bytes.clone());
            async move { backend.put(&path, payload).await.expect("raw put") }
        })
        .buffer_unordered(conc)
        .collect::<Vec<_>>()
        .await;
    n as f64 / start.elapsed().as_secs_f64()
}

async fn backups(orch: &Orchestrator, tag: &str, n: usize, conc: usize) -> f64 {
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let user = UserId::new(format!("{tag}-user-{i}")).unwrap();
            let req = BackupRequest::new(user, share(i)).with_method(METHOD);
            async move { orch.backup(req).await.expect("backup") }
        })
        .buffer_unordered(conc)
        .collect::<Vec<_>>()
        .await;
    n as f64 / start.elapsed().as_secs_f64()
}

async fn ratio(backend_name: &str, n: usize) {
    let Some((raw, prefix, _dir)) = support::backend(backend_name) else { return };
    let counter = Arc::new(CountingObjectStore::new(raw.clone()));
    let store = ObjectCipherTextStore::builder(counter.clone()).prefix(&prefix).unwrap().build();
    let orch = orchestrator(store, RecordingNotifier::new());

    // One backup, counted, gives the envelope (the bytes the raw puts write).
    counter.reset();
    let receipt =
        orch.backup(BackupRequest::new(UserId::new("probe").unwrap(), share(0)).with_method(METHOD)).await.unwrap();
    let per_backup = counter.counts();
    let bytes = bytes::Bytes::from(receipt.envelope.clone().into_bytes());
    counter.reset();
    orch.recover(RecoverRequest::new(UserId::new("probe").unwrap()).with_method(METHOD)).await.unwrap();
    let per_recover = counter.counts();

    println!(
        "[{backend_name}] envelope {} B; one backup = {} requests ({per_backup:?}); one recovery = {} requests",
        bytes.len(),
        per_backup.total(),
        per_recover.total()
    );
    for conc in [1usize, 16] {
        let puts = raw_puts(raw.clone(), &prefix, bytes.clone(), n, conc).await;
        let bps = backups(&orch, &format!("c{conc}"), n, conc).await;
        let ratio = bps / puts;
        let per_request = bps * per_backup.total() as f64 / puts;
        println!(
            "[{backend_name}] concurrency {conc:>2}: raw puts {puts:>8.1}/s, orchestrated backups {bps:>8.1}/s, \
             ratio {ratio:.3} (per backend request: {per_request:.3}), n = {n}"
        );
    }
}

/// The `faults` run's settings.
#[derive(Clone, Copy, Debug)]
struct FaultRun {
    users: usize,
    conc: usize,
    probability: f64,
    latency: (Duration, Duration),
    seed: u64,
}

/// Tries of a whole backup (or recovery) by the simulated integrator.
const TRIES: u32 = 5;

/// Returns whether every user was backed up, acknowledged as current and recovered.
async fn faults(backend: &str, run: FaultRun) -> bool {
    let support_name = if backend == "azure" { "azurite" } else { backend };
    let Some((raw, prefix, _dir)) = support::backend(support_name) else { return false };
    let FaultRun { users, conc, probability, latency: (min, max), seed } = run;
    let faulty = Arc::new(
        FaultyObjectStore::new(raw.clone(), FaultPlan::Random { probability, seed }, FaultTiming::Before)
            .with_latency(min, max),
    );
    let store = ObjectCipherTextStore::builder(faulty.clone()).prefix(&prefix).unwrap().build();
    // The same objects seen without faults or latency, for the final check.
    let truth = ObjectCipherTextStore::builder(raw.clone()).prefix(&prefix).unwrap().build();
    let notifier = RecordingNotifier::new();
    let orch = orchestrator(store, notifier.clone());
    let label = format!(
        "{backend} + {:.0}% injected 503 + {}-{} ms latency",
        probability * 100.0,
        min.as_millis(),
        max.as_millis()
    );
    eprintln!("[{label}] {users} users, {conc} in flight, prefix {prefix}");

    let start = Instant::now();
    let results: Vec<(UserId, Vec<u8>, u32, bool)> = futures::stream::iter(0..users)
        .map(|i| {
            let orch = &orch;
            async move {
                let user = UserId::new(format!("faults-user-{i}")).unwrap();
                let s = share(i);
                let bytes = s.expose_secret().to_vec();
                // The integrator retries a failed backup as a whole, a few times.
                let mut tries = 0;
                let ok = loop {
                    tries += 1;
                    match orch.backup(BackupRequest::new(user.clone(), s.clone()).with_method(METHOD)).await {
                        Ok(_) => break true,
                        Err(_) if tries < TRIES => continue,
                        Err(e) => {
                            eprintln!("[{user}] backup failed {tries} times: {e}");
                            break false;
                        }
                    }
                };
                (user, bytes, tries, ok)
            }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    let backup_secs = start.elapsed().as_secs_f64();
    let backup_requests = faulty.calls();
    let backed_up = results.iter().filter(|r| r.3).count();
    let whole_retries: u32 = results.iter().map(|r| r.2 - 1).sum();
    eprintln!("[{label}] backups done in {backup_secs:.0} s ({backed_up} of {users})");

    let start = Instant::now();
    let expected: HashMap<UserId, Vec<u8>> = results.iter().map(|r| (r.0.clone(), r.1.clone())).collect();
    let recovered: HashMap<UserId, Option<bool>> = futures::stream::iter(results.iter().map(|r| r.0.clone()))
        .map(|user| {
            let orch = &orch;
            let expected = &expected;
            async move {
                let mut tries = 0;
                loop {
                    tries += 1;
                    match orch.recover(RecoverRequest::new(user.clone()).with_method(METHOD)).await {
                        Ok(r) => break (user.clone(), Some(r.share().expose_secret() == expected[&user].as_slice())),
                        Err(_) if tries < TRIES => continue,
                        Err(e) => {
                            eprintln!("[{user}] recovery failed {tries} times: {e}");
                            break (user, None);
                        }
                    }
                }
            }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    let recover_secs = start.elapsed().as_secs_f64();
    let recover_requests = faulty.calls() - backup_requests;
    eprintln!("[{label}] recoveries done in {recover_secs:.0} s");
    let start = Instant::now();

    // For every user: the id the wallet service was told last is the one
    // the store calls current (read without faults).
    let acked: HashMap<UserId, Option<BackupId>> =
        results.iter().map(|r| (r.0.clone(), notifier.acknowledged(&r.0, &METHOD))).collect();
    let current: Vec<(UserId, Option<BackupId>)> = futures::stream::iter(results.iter().map(|r| r.0.clone()))
        .map(|user| {
            let truth = &truth;
            async move {
                let cur = truth.current(&(&user).into(), &METHOD).await.expect("current, read without faults");
                (user, cur.map(|c| c.backup_id))
            }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    eprintln!("[{label}] acknowledged and current read in {:.0} s", start.elapsed().as_secs_f64());
    let acknowledged = acked.values().filter(|a| a.is_some()).count();
    let mut ack_is_current = 0;
    let mut mismatched = 0;
    for (user, cur) in &current {
        match (acked[user], *cur) {
            (Some(a), Some(c)) if a == c => ack_is_current += 1,
            (None, None) => {}
            (a, c) => {
                mismatched += 1;
                if mismatched <= 10 {
                    eprintln!("[{user}] acknowledged {a:?} but current {c:?}");
                }
            }
        }
    }
    let recovered_ok = recovered.values().filter(|r| **r == Some(true)).count();
    let wrong = recovered.values().filter(|r| **r == Some(false)).count();
    // Acknowledged but not recovered with the right share.
    let lost = acked.iter().filter(|(u, a)| a.is_some() && recovered[*u] != Some(true)).count();

    let (injected, delay) = (faulty.injected(), faulty.injected_latency());
    let requests = faulty.calls();
    println!(
        "[{label}] users {users}, in flight {conc}: backed up {backed_up} ({:.1}/s, {backup_requests} requests, \
         {whole_retries} whole-backup retries), acknowledged {acknowledged}, acknowledged == current \
         {ack_is_current} (mismatched {mismatched}), recovered {recovered_ok} ({:.1}/s, {recover_requests} requests), \
         wrong share {wrong}, lost {lost}; store requests {requests} ({:.2}/user), injected 503s {injected} ({:.2}%), \
         mean injected latency {:.1} ms; peak RSS {:.1} MiB (process-wide)",
        users as f64 / backup_secs,
        users as f64 / recover_secs,
        requests as f64 / users as f64,
        100.0 * injected as f64 / requests.max(1) as f64,
        delay.as_secs_f64() * 1000.0 / requests.max(1) as f64,
        peak_rss_mib()
    );
    println!(
        "| {backend} | {users} | {backed_up} | {acknowledged} | {ack_is_current} | {recovered_ok} | {lost} | \
         {requests} | {injected} | {whole_retries} | {:.1} | {:.1} | {:.1} |",
        users as f64 / backup_secs,
        users as f64 / recover_secs,
        peak_rss_mib()
    );
    let ok = lost == 0
        && wrong == 0
        && mismatched == 0
        && backed_up == users
        && ack_is_current == users
        && recovered_ok == users;
    if !ok {
        eprintln!("[{label}] FAILED: every user must be backed up, acknowledged as current and recovered");
    }
    ok
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "{msg}\nusage: store [ratio|faults|all] [--n N] [--users N] [--conc N] [--backend s3|azure|all] \
         [--latency-ms MIN,MAX] [--fault-rate P] [--seed N]"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    fn parse<T: std::str::FromStr>(name: &str, v: Option<String>, default: T) -> T {
        v.map_or(default, |v| v.parse().unwrap_or_else(|_| usage(&format!("bad {name} {v:?}"))))
    }
    let what = args.iter().find(|a| ["ratio", "faults", "all"].contains(&a.as_str())).cloned().unwrap_or("all".into());
    let n: usize = parse("--n", arg("--n"), 1000);
    let backend = arg("--backend").unwrap_or("all".into());
    let backends: Vec<&str> = match backend.as_str() {
        "all" => vec!["s3", "azure"],
        "s3" => vec!["s3"],
        "azure" | "azurite" => vec!["azure"],
        other => usage(&format!("unknown backend {other:?}")),
    };
    let latency = match arg("--latency-ms") {
        None => (Duration::from_millis(1), Duration::from_millis(20)),
        Some(v) => {
            let ms: Vec<u64> =
                v.split(',').map(|x| x.trim().parse().unwrap_or_else(|_| usage("bad --latency-ms"))).collect();
            match ms[..] {
                [a] => (Duration::from_millis(a), Duration::from_millis(a)),
                [a, b] if a <= b => (Duration::from_millis(a), Duration::from_millis(b)),
                _ => usage("--latency-ms takes MIN,MAX with MIN <= MAX"),
            }
        }
    };
    let run = FaultRun {
        users: parse("--users", arg("--users"), 10_000),
        conc: parse("--conc", arg("--conc"), 64),
        probability: parse("--fault-rate", arg("--fault-rate"), 0.05),
        latency,
        seed: parse("--seed", arg("--seed"), 0x5eed),
    };
    if run.conc == 0 || !(0.0..=1.0).contains(&run.probability) {
        usage("--conc must be positive and --fault-rate in 0..=1");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let ok = rt.block_on(async {
        if what == "ratio" || what == "all" {
            ratio("local", n).await;
            ratio("s3", n).await;
        }
        let mut ok = true;
        if what == "faults" || what == "all" {
            println!(
                "| backend | users | backed up | acknowledged | ack == current | recovered | lost | store requests | \
                 injected 503s | whole-backup retries | backups/s | recoveries/s | peak RSS MiB |"
            );
            for b in &backends {
                ok &= faults(b, run).await;
            }
        }
        ok
    });
    if !ok {
        std::process::exit(1);
    }
}
