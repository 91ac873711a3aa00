//! A stale writer of the acknowledgement record (issue 13, item 5), with two
//! store instances on one store (two processes, as far as the store can
//! tell), on a local directory and on moto S3.
//!
//! Acknowledgement records are create-only per version they are made over:
//! of two writers that read the same current version, only the first to
//! record its acknowledgement may tell `true`. Forced with gates: writer X
//! reads V1 as current and pauses before writing its record; writer Y backs
//! up V2 over V1 to the end (its record over V1 is the first); X then tries
//! to write its record over V1. It must be refused (`Conflict`), X must
//! never tell `true` or `false`, and a fresh orchestrator on a third
//! instance must keep V2 current, recover V2, and never prune V2.

use std::sync::Arc;

use share_backup_core::{BackupShare, Configs, ErrorKind, ExposeSecret, Registry, UserId};
use share_backup_orchestrator::testing::{Fault, FaultPlan, FaultyNotifier, FaultyStore, Gate, MemoryKeyProvider};
use share_backup_orchestrator::{
    BackupRequest, CipherTextStore, IncompleteBackup, Orchestrator, RecordingNotifier, RecoverRequest, RetryPolicy,
};
use share_backup_tests::{Backend, backend, unique};

fn orchestrator(
    store: Arc<dyn CipherTextStore>,
    keys: &MemoryKeyProvider,
    notifier: Arc<dyn share_backup_orchestrator::Notifier>,
) -> Orchestrator {
    Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(keys.clone()))
        .store(store)
        .notifier(notifier)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn req(u: &UserId, share: &[u8]) -> BackupRequest {
    BackupRequest::new(u.clone(), BackupShare::from_slice(share).unwrap()).with_method(MemoryKeyProvider::METHOD)
}

async fn stale_ack_on(b: &Backend) {
    let keys = MemoryKeyProvider::new();
    let u = UserId::new(unique("stale-ack")).unwrap();
    let m = MemoryKeyProvider::METHOD;
    let y = orchestrator(Arc::new(b.reopen().unwrap()), &keys, Arc::new(RecordingNotifier::new()));
    let v1 = y.backup(req(&u, b"one")).await.unwrap().backup_id;

    // X: paused before its acknowledgement record.
    let plan = FaultPlan::new();
    let gate = Gate::new();
    plan.set_at_label("store.record_acknowledgement", 1, Fault::Pause(gate.clone()));
    let x_store = Arc::new(FaultyStore::new(Arc::new(b.reopen().unwrap()), plan.clone()));
    let x_notifier = Arc::new(FaultyNotifier::new(Arc::new(RecordingNotifier::new()), plan.clone()));
    let x = orchestrator(x_store, &keys, x_notifier);
    let xreq = req(&u, b"stale");
    let x_task = tokio::spawn(async move { x.backup(xreq).await });
    gate.wait_reached().await;

    // Y backs up V2 over V1, to the end.
    let v2 = y.backup(req(&u, b"two")).await.unwrap();
    assert_eq!(v2.previous, Some(v1), "{}", b.name);
    let v2 = v2.backup_id;

    // X tries to write its (now stale) record over V1: refused, and X lost.
    gate.open();
    let e = x_task.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Conflict, "{}: {e}", b.name);
    let inc = IncompleteBackup::find(&e).expect("X reports its staged version");
    assert!(!inc.acknowledged, "{}", b.name);
    assert_eq!(inc.current, Some(v2), "{}: X's error names the version that is current", b.name);
    let trace = plan.trace();
    assert!(!trace.contains(&"notifier.ack_true"), "{}: the loser said true: {trace:?}", b.name);
    assert!(!trace.contains(&"notifier.ack_false"), "{}: the loser said false after the winner: {trace:?}", b.name);
    let stored = b.reopen().unwrap();
    let ack = stored.acknowledgement(&(&u).into(), &m, Some(v1)).await.unwrap().expect("Y's record");
    assert_eq!(ack.backup_id, v2, "{}: the record over V1 is the winner's", b.name);
    assert!(!ack.withdrawn, "{}", b.name);

    // A fresh orchestrator: V2 stays current and recovers; nothing prunes it.
    let z = orchestrator(Arc::new(b.reopen().unwrap()), &keys, Arc::new(RecordingNotifier::new()));
    z.methods(&u).await.unwrap();
    let current = stored.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id;
    assert_eq!(current, v2, "{}: a stale acknowledgement rolled an older version forward", b.name);
    let back = z.recover(RecoverRequest::new(u.clone()).with_method(m.clone())).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"two", "{}", b.name);
    z.prune(&u, &m, Configs::new()).await.unwrap();
    assert!(keys.has_key(&u, v2), "{}: the current version's key was pruned", b.name);
    let back = z.recover(RecoverRequest::new(u.clone()).with_method(m.clone())).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"two", "{}", b.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_writer_from_another_store_instance_is_refused_its_acknowledgement_and_the_current_version_stands_on_a_local_directory()
 {
    stale_ack_on(&backend("local").unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_writer_from_another_store_instance_is_refused_its_acknowledgement_and_the_current_version_stands_on_s3()
 {
    if let Some(b) = backend("s3") {
        stale_ack_on(&b).await;
    }
}
