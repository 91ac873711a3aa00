//! Store benchmarks (a plain binary, `harness = false`):
//!
//! - `ratio`: orchestrated backups per second ÷ raw `object_store` puts per
//!   second of the same bytes, on a local directory and on moto's S3 server,
//!   with a provider whose key custody is free (`MemoryKeyProvider`), at
//!   concurrency 1 and 16; plus the backend requests one backup costs.
//! - `faults`: N users (10,000 by default) backed up and recovered through
//!   moto S3 with 5% of store requests failing with an injected 503; counts
//!   lost backups (acknowledged but not recoverable: must be 0) and reports
//!   peak memory.
//!
//! ```text
//! eval "$(scripts/test-servers.sh start)"
//! cargo bench -p share-backup-object-store --bench store -- ratio
//! cargo bench -p share-backup-object-store --bench store -- faults --users 10000
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use share_backup_core::{BackupShare, ExposeSecret, MethodId, UserId};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_object_store::object_store::path::Path;
use share_backup_object_store::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use share_backup_object_store::testing::{CountingObjectStore, FaultPlan, FaultTiming, FaultyObjectStore};
use share_backup_orchestrator::testing::MemoryKeyProvider;
use share_backup_orchestrator::{BackupRequest, Orchestrator, RecordingNotifier, RecoverRequest, RetryPolicy};

const METHOD: MethodId = MemoryKeyProvider::METHOD;

fn orchestrator(store: ObjectCipherTextStore, notifier: RecordingNotifier) -> Orchestrator {
    Orchestrator::builder()
        .provider(Arc::new(MemoryKeyProvider::new()))
        .store(Arc::new(store))
        .notifier(Arc::new(notifier))
        .retry(
            RetryPolicy::default()
                .with_base_delay(Duration::from_millis(10))
                .with_max_delay(Duration::from_millis(200)),
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

async fn faults(users: usize, conc: usize) {
    let Some((raw, prefix, _dir)) = support::backend("s3") else { return };
    let faulty = Arc::new(FaultyObjectStore::new(
        raw.clone(),
        FaultPlan::Random { probability: 0.05, seed: 0x5eed },
        FaultTiming::Before,
    ));
    let store = ObjectCipherTextStore::builder(faulty.clone()).prefix(&prefix).unwrap().build();
    let notifier = RecordingNotifier::new();
    let orch = orchestrator(store, notifier.clone());

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
                        Err(_) if tries < 5 => continue,
                        Err(_) => break false,
                    }
                };
                (user, bytes, tries, ok)
            }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    let backup_secs = start.elapsed().as_secs_f64();
    let backed_up = results.iter().filter(|r| r.3).count();
    let whole_retries: u32 = results.iter().map(|r| r.2 - 1).sum();

    let start = Instant::now();
    let expected: HashMap<UserId, Vec<u8>> = results.iter().map(|r| (r.0.clone(), r.1.clone())).collect();
    let recovered: Vec<(UserId, Option<bool>)> = futures::stream::iter(results.iter().map(|r| r.0.clone()))
        .map(|user| {
            let orch = &orch;
            let expected = &expected;
            async move {
                let mut tries = 0;
                loop {
                    tries += 1;
                    match orch.recover(RecoverRequest::new(user.clone()).with_method(METHOD)).await {
                        Ok(r) => break (user.clone(), Some(r.share().expose_secret() == expected[&user].as_slice())),
                        Err(_) if tries < 5 => continue,
                        Err(_) => break (user, None),
                    }
                }
            }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    let recover_secs = start.elapsed().as_secs_f64();
    let acknowledged = results.iter().filter(|r| notifier.acknowledged(&r.0, &METHOD).is_some()).count();
    let recovered_ok = recovered.iter().filter(|r| r.1 == Some(true)).count();
    let wrong = recovered.iter().filter(|r| r.1 == Some(false)).count();
    let lost = results
        .iter()
        .zip(recovered.iter())
        .filter(|(r, _)| notifier.acknowledged(&r.0, &METHOD).is_some())
        .count()
        .saturating_sub(recovered_ok);
    println!(
        "[s3 + 5% injected 503] users {users}, concurrency {conc}: backed up {backed_up} ({:.0}/s, {whole_retries} whole-backup retries), \
         acknowledged {acknowledged}, recovered {recovered_ok} ({:.0}/s), wrong share {wrong}, lost {lost}; \
         store requests {}, injected failures {}; peak RSS {:.1} MiB",
        users as f64 / backup_secs,
        users as f64 / recover_secs,
        faulty.calls(),
        faulty.injected(),
        peak_rss_mib()
    );
    if lost > 0 || wrong > 0 || recovered_ok != users {
        eprintln!("FAILED: every user must be backed up and recovered");
        std::process::exit(1);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let what = args.iter().find(|a| ["ratio", "faults", "all"].contains(&a.as_str())).cloned().unwrap_or("all".into());
    let n: usize = arg("--n").and_then(|v| v.parse().ok()).unwrap_or(1000);
    let users: usize = arg("--users").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        if what == "ratio" || what == "all" {
            ratio("local", n).await;
            ratio("s3", n).await;
        }
        if what == "faults" || what == "all" {
            faults(users, 32).await;
        }
    });
}
