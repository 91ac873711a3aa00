//! The orchestrator's protocol on this store, on every backend: backups
//! recover, supersede and prune; with store failures injected, nothing is
//! acknowledged that is not durably stored.

mod support;

use std::sync::Arc;
use std::time::Duration;

use share_backup_core::{BackupShare, ExposeSecret, UserId};
use share_backup_object_store::testing::{CountingObjectStore, FaultPlan, FaultTiming, FaultyObjectStore};
use share_backup_object_store::{ObjectCipherTextStore, RetryPolicy as StoreRetry};
use share_backup_orchestrator::testing::MemoryKeyProvider;
use share_backup_orchestrator::{
    BackupRequest, CipherTextStore, Orchestrator, RecordingNotifier, RecoverRequest, RetryPolicy,
};

const M: share_backup_core::MethodId = MemoryKeyProvider::METHOD;

fn orchestrator(
    store: ObjectCipherTextStore,
    provider: MemoryKeyProvider,
    notifier: RecordingNotifier,
) -> Orchestrator {
    Orchestrator::builder()
        .provider(Arc::new(provider))
        .store(Arc::new(store))
        .notifier(Arc::new(notifier))
        .retry(RetryPolicy::default().with_min_delay(Duration::from_millis(1)).with_max_delay(Duration::from_millis(5)))
        .prune_grace(share_backup_orchestrator::MIN_PRUNE_GRACE)
        .build()
        .unwrap()
}

fn share(tag: u8) -> BackupShare {
    BackupShare::new(vec![tag; 48]).unwrap()
}

async fn successive_backups_recover_the_latest_and_prune_the_rest(backend: &str) {
    let Some((raw, prefix, _dir)) = support::backend(backend) else { return };
    let store = ObjectCipherTextStore::builder(raw).prefix(&prefix).unwrap().build();
    let provider = MemoryKeyProvider::new();
    let notifier = RecordingNotifier::new();
    let orch = orchestrator(store.clone(), provider.clone(), notifier.clone());
    let user = UserId::new("orchestrated-user").unwrap();
    let mut last = None;
    for tag in 1..=3u8 {
        let receipt = orch.backup(BackupRequest::new(user.clone(), share(tag)).with_method(M)).await.unwrap();
        assert_eq!(receipt.previous, last);
        assert_eq!(notifier.acknowledged(&user, &M), Some(receipt.backup_id));
        let got = orch.recover(RecoverRequest::new(user.clone()).with_method(M)).await.unwrap();
        assert_eq!(got.share().expose_secret(), share(tag).expose_secret());
        assert_eq!(got.backup_id(), receipt.backup_id);
        last = Some(receipt.backup_id);
    }
    assert_eq!(orch.methods(&user).await.unwrap(), vec![M]);
    let versions = store.versions(&(&user).into(), &M).await.unwrap();
    assert_eq!(versions.iter().map(|v| v.backup_id).collect::<Vec<_>>(), vec![last.unwrap()], "superseded pruned");
    assert_eq!(provider.key_count(), 1, "and their keys");
}

async fn store_failures_never_acknowledge_what_is_not_stored(backend: &str) {
    let Some((raw, prefix, _dir)) = support::backend(backend) else { return };
    let faulty = Arc::new(FaultyObjectStore::new(
        raw.clone(),
        FaultPlan::Random { probability: 0.15, seed: 11 },
        FaultTiming::After,
    ));
    // No retries inside the store: every failure reaches the orchestrator.
    let store = ObjectCipherTextStore::builder(faulty).prefix(&prefix).unwrap().retry(StoreRetry::none()).build();
    let clean = ObjectCipherTextStore::builder(raw).prefix(&prefix).unwrap().build();
    let provider = MemoryKeyProvider::new();
    let notifier = RecordingNotifier::new();
    let orch = orchestrator(store, provider.clone(), notifier.clone());
    let (mut ok, mut failed) = (0, 0);
    for i in 0..24u8 {
        let user = UserId::new(format!("faulty-{i}")).unwrap();
        match orch.backup(BackupRequest::new(user.clone(), share(i)).with_method(M)).await {
            Ok(receipt) => {
                ok += 1;
                let cur = clean.current(&(&user).into(), &M).await.unwrap().expect("a successful backup is current");
                assert_eq!(cur.backup_id, receipt.backup_id);
            }
            Err(_) => failed += 1,
        }
        // Whatever happened, an acknowledged backup is durably stored.
        if let Some(acked) = notifier.acknowledged(&user, &M) {
            clean.get(&(&user).into(), &M, acked).await.expect("acknowledged means stored");
        }
    }
    assert!(ok > 0, "some backups get through ({ok} ok, {failed} failed)");
    assert_eq!(ok + failed, 24);
}

/// The orchestrator's whole first backup of a new user is 4 store
/// requests (GET commit 1, PUT the version, PUT the acknowledgement record,
/// PUT commit 1); a recovery after it is 3 (the commit log, the envelope,
/// the acknowledgement record over the current version).
async fn an_orchestrated_first_backup_is_four_store_requests(backend: &str) {
    let Some((raw, prefix, _dir)) = support::backend(backend) else { return };
    let counter = Arc::new(CountingObjectStore::new(raw));
    let store = ObjectCipherTextStore::builder(counter.clone()).prefix(&prefix).unwrap().build();
    let notifier = RecordingNotifier::new();
    let orch = orchestrator(store, MemoryKeyProvider::new(), notifier.clone());
    let user = UserId::new("counted-user").unwrap();
    counter.reset();
    let receipt = orch.backup(BackupRequest::new(user.clone(), share(1)).with_method(M)).await.unwrap();
    let c = counter.counts();
    assert_eq!((c.get, c.put, c.total()), (1, 3, 4), "{c:?}");
    assert_eq!(notifier.acknowledged(&user, &M), Some(receipt.backup_id));
    counter.reset();
    let got = orch.recover(RecoverRequest::new(user.clone()).with_method(M)).await.unwrap();
    assert_eq!(got.backup_id(), receipt.backup_id);
    let c = counter.counts();
    assert_eq!((c.get, c.total()), (3, 3), "{c:?}");
}

macro_rules! on_backends {
    ($($backend:ident),*) => {
        $(
            mod $backend {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn successive_backups_recover_the_latest_and_prune_the_rest() {
                    super::successive_backups_recover_the_latest_and_prune_the_rest(stringify!($backend)).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn an_orchestrated_first_backup_is_four_store_requests() {
                    super::an_orchestrated_first_backup_is_four_store_requests(stringify!($backend)).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn store_failures_never_acknowledge_what_is_not_stored() {
                    super::store_failures_never_acknowledge_what_is_not_stored(stringify!($backend)).await;
                }
            }
        )*
    };
}

on_backends!(memory, local, s3, azurite);
