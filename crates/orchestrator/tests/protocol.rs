//! The backup protocol's happy paths, guards and edge cases.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use share_backup_core::{Capabilities, Configs, ErrorKind, ExposeSecret, MethodId, Progress, Registry, Status, UserId};
use share_backup_orchestrator::testing::{Fault, FaultPlan, FaultyStore, Gate, MemoryKeyProvider};
use share_backup_orchestrator::{
    Acknowledgement, BackupRequest, CipherTextStore, IncompleteBackup, KeyCheck, MemoryStore, Orchestrator,
    RecordingNotifier, RecoverRequest, RetryPolicy, RotateRequest, Step, VerifyRequest, VersionState,
};

fn done(status: Status) -> Progress {
    Progress { status, done: true }
}

fn step(status: Status) -> Progress {
    Progress { status, done: false }
}

/// A first backup, then a second one (`share`) acknowledged but whose
/// commit fails for good: the first receipt, the second's backup id and
/// the version its error names as current.
async fn acknowledged_but_uncommitted(
    r: &Rig,
    u: &UserId,
    share: &[u8],
) -> (share_backup_orchestrator::Receipt, share_backup_core::BackupId, Option<share_backup_core::BackupId>) {
    let first = r.orch.backup(backup_req(u, b"old")).await.unwrap();
    r.plan.reset();
    // Calls: 1 current_id, 2 probe, 3 seal_key, 4 open_key, 5 stage, 6 record_acknowledgement, 7 ack, 8 commit.
    r.plan.set(8, Fault::Fail(ErrorKind::Unavailable));
    let e = r.orch.backup(backup_req(u, share)).await.unwrap_err();
    assert_eq!(r.plan.trace()[7], "store.commit");
    let inc = IncompleteBackup::find(&e).unwrap();
    assert!(inc.acknowledged);
    r.plan.clear();
    (first, inc.backup_id, inc.current)
}

#[tokio::test]
async fn backup_then_recover_gives_back_the_same_share_and_acknowledges_once() {
    let r = rig(RetryPolicy::none());
    let alice = user("alice");
    let receipt = r.orch.backup(backup_req(&alice, b"share-one")).await.unwrap();
    assert_eq!(receipt.method, MemoryKeyProvider::METHOD);
    assert_eq!(receipt.previous, None);
    assert!(receipt.envelope.starts_with("sb1."));
    let n = r.notifier.notifications();
    assert_eq!(n.len(), 1);
    assert!(n[0].success);
    assert_eq!(n[0].backup_id, receipt.backup_id);
    let cur = r.store.current(&(&alice).into(), &MemoryKeyProvider::METHOD).await.unwrap().unwrap();
    assert_eq!(cur.backup_id, receipt.backup_id);
    assert_eq!(cur.envelope, receipt.envelope);
    let back = r.orch.recover(RecoverRequest::new(alice.clone())).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"share-one");
    assert_eq!(back.backup_id(), receipt.backup_id);
    for s in [Step::Resolve, Step::Probe, Step::Seal, Step::Verify, Step::Stage, Step::Acknowledge, Step::Commit] {
        assert!(receipt.timings.get(s).is_some(), "no timing for {s}");
    }
}

#[tokio::test]
async fn backup_progress_follows_the_documented_order_and_ends_done() {
    let r = rig(RetryPolicy::none());
    let (sink, log) = recording();
    r.orch.backup(backup_req(&user("u"), b"s").with_progress(sink)).await.unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec![
            step(Status::Reading),
            step(Status::Generating),
            step(Status::UploadingKey),
            step(Status::Encrypting),
            step(Status::Verifying),
            step(Status::Storing),
            step(Status::Acknowledging),
            done(Status::Done),
        ]
    );
}

#[tokio::test]
async fn recovery_progress_follows_the_documented_order_and_ends_done() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    r.orch.backup(backup_req(&u, b"s")).await.unwrap();
    let (sink, log) = recording();
    r.orch.recover(RecoverRequest::new(u).with_progress(sink)).await.unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec![
            step(Status::Reading),
            step(Status::Parsing),
            step(Status::FetchingKey),
            step(Status::Decrypting),
            done(Status::Done),
        ]
    );
}

#[tokio::test]
async fn a_failed_recovery_ends_its_progress_with_failed_done() {
    let r = rig(RetryPolicy::none());
    let (sink, log) = recording();
    let e = r.orch.recover(RecoverRequest::new(user("nobody")).with_progress(sink)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    let log = log.lock().unwrap().clone();
    assert_eq!(log.last(), Some(&done(Status::Failed)));
    assert_progress_well_formed(&log);
}

#[tokio::test]
async fn a_second_backup_supersedes_the_first_and_prunes_its_version_and_key() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let first = r.orch.backup(backup_req(&u, b"old")).await.unwrap();
    let second = r.orch.backup(backup_req(&u, b"new")).await.unwrap();
    assert_eq!(second.previous, Some(first.backup_id));
    assert_eq!(second.pruned, vec![first.backup_id]);
    assert_eq!(second.prune_failures, 0);
    let versions = r.store.versions(&(&u).into(), &MemoryKeyProvider::METHOD).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].backup_id, second.backup_id);
    assert_eq!(versions[0].state, VersionState::Current);
    assert!(!r.keys.has_key(&u, first.backup_id), "the superseded key was not deleted");
    assert!(r.keys.has_key(&u, second.backup_id));
    let back = r.orch.recover(RecoverRequest::new(u)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"new");
}

#[tokio::test]
async fn with_pruning_off_every_version_and_key_is_kept() {
    let store = MemoryStore::new();
    let keys = MemoryKeyProvider::new();
    let orch = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(keys.clone()))
        .store(Arc::new(store.clone()))
        .notifier(Arc::new(RecordingNotifier::new()))
        .prune(false)
        .build()
        .unwrap();
    let u = user("u");
    for i in 0..3u8 {
        orch.backup(backup_req(&u, &[i + 1])).await.unwrap();
    }
    assert_eq!(store.versions(&(&u).into(), &MemoryKeyProvider::METHOD).await.unwrap().len(), 3);
    assert_eq!(keys.key_count(), 3);
}

#[tokio::test]
async fn staged_leftovers_are_pruned_only_once_older_than_the_grace_period() {
    let store = MemoryStore::new();
    let keys = MemoryKeyProvider::new();
    let build = |grace| {
        Orchestrator::builder()
            .registry(Registry::empty())
            .provider(Arc::new(keys.clone()))
            .store(Arc::new(store.clone()))
            .notifier(Arc::new(RecordingNotifier::new()))
            .prune_grace(grace)
            .build()
            .unwrap()
    };
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    // A leftover: staged by a backup that never finished.
    let leftover = share_backup_core::BackupId::generate().unwrap();
    store.stage(&(&u).into(), &m, leftover, "sb1.not-even-an-envelope").await.unwrap();
    let receipt = build(Duration::from_secs(3600)).backup(backup_req(&u, b"a")).await.unwrap();
    assert!(receipt.pruned.is_empty());
    assert!(store.get(&(&u).into(), &m, leftover).await.is_ok(), "a young staged version was pruned");
    assert!(store.backdate(&(&u).into(), &m, leftover, Duration::from_secs(120)));
    let receipt = build(share_backup_orchestrator::MIN_PRUNE_GRACE).backup(backup_req(&u, b"b")).await.unwrap();
    assert!(receipt.pruned.contains(&leftover), "{:?}", receipt.pruned);
    assert_eq!(store.get(&(&u).into(), &m, leftover).await.unwrap_err().kind(), &ErrorKind::NotFound);
}

#[tokio::test]
async fn a_second_concurrent_backup_of_the_same_user_fails_fast_with_in_progress() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let gate = Gate::new();
    // Call 4 is the provider's seal_key: hold the first backup there.
    r.plan.set(4, Fault::Pause(gate.clone()));
    let orch = r.orch.clone();
    let req = backup_req(&u, b"first");
    let first = tokio::spawn(async move { orch.backup(req).await });
    gate.wait_reached().await;
    let (sink, log) = recording();
    let e = r.orch.backup(backup_req(&u, b"second").with_progress(sink)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InProgress);
    assert!(e.retryable());
    assert_eq!(log.lock().unwrap().last(), Some(&done(Status::Failed)));
    let e = r.orch.rotate(RotateRequest::new(u.clone(), MemoryKeyProvider::METHOD)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InProgress);
    // Another user is not blocked.
    r.orch.backup(backup_req(&user("other"), b"x")).await.unwrap();
    gate.open();
    let receipt = first.await.unwrap().unwrap();
    // No `false` was sent for the rejected attempts.
    assert!(r.notifier.notifications().iter().all(|n| n.success));
    // The guard is released once the first backup is done.
    let again = r.orch.backup(backup_req(&u, b"third")).await.unwrap();
    assert_eq!(again.previous, Some(receipt.backup_id));
}

#[tokio::test]
async fn the_user_guard_is_released_when_a_backup_future_is_dropped() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    r.plan.set(3, Fault::Hang);
    let fut = r.orch.backup(backup_req(&u, b"x"));
    assert!(tokio::time::timeout(Duration::from_millis(20), fut).await.is_err());
    r.orch.backup(backup_req(&u, b"y")).await.unwrap();
}

#[tokio::test]
async fn two_processes_racing_on_one_store_one_wins_and_the_other_gets_a_conflict() {
    // Two orchestrators (two processes) on one store and one wallet service.
    let store = MemoryStore::new();
    let notifier = RecordingNotifier::new();
    let keys = MemoryKeyProvider::new();
    let plan = FaultPlan::new();
    let slow = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(keys.clone()))
        .store(Arc::new(FaultyStore::new(Arc::new(store.clone()), plan.clone())))
        .notifier(Arc::new(notifier.clone()))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let fast = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(keys.clone()))
        .store(Arc::new(store.clone()))
        .notifier(Arc::new(notifier.clone()))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let u = user("u");
    // The slow one's store calls: 1 current_id, 2 stage, 3 record_acknowledgement (over no version).
    let gate = Gate::new();
    plan.set(3, Fault::Pause(gate.clone()));
    let req = backup_req(&u, b"slow");
    let slow_task = tokio::spawn(async move { slow.backup(req).await });
    gate.wait_reached().await;
    let winner = fast.backup(backup_req(&u, b"fast")).await.unwrap();
    gate.open();
    let e = slow_task.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Conflict);
    let inc = IncompleteBackup::find(&e).expect("the loser reports its staged version");
    assert!(!inc.acknowledged);
    assert_eq!(inc.current, Some(winner.backup_id), "the detail names the version that is current now");
    assert!(!inc.current_reacknowledged);
    // The wallet service heard one success, the winner's, and no `false` after it.
    let n = notifier.notifications();
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].backup_id, winner.backup_id);
    assert_eq!(notifier.acknowledged(&u, &MemoryKeyProvider::METHOD), Some(winner.backup_id));
    let back = fast.recover(RecoverRequest::new(u)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"fast");
}

#[tokio::test]
async fn a_commit_that_loses_a_race_after_the_acknowledgement_is_a_conflict() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    // Calls: 1 current_id, 2 probe, 3 seal_key, 4 open_key, 5 stage, 6 record_acknowledgement, 7 ack,
    // 8 commit.
    let gate = Gate::new();
    r.plan.set(8, Fault::Pause(gate.clone()));
    let orch = r.orch.clone();
    let req = backup_req(&u, b"late");
    let task = tokio::spawn(async move { orch.backup(req).await });
    gate.wait_reached().await;
    // Another process commits a version first.
    let other = share_backup_core::BackupId::generate().unwrap();
    r.store.stage(&(&u).into(), &m, other, "sb1.other").await.unwrap();
    r.store.commit(&(&u).into(), &m, other, None).await.unwrap();
    gate.open();
    let e = task.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Conflict);
    let inc = IncompleteBackup::find(&e).unwrap();
    assert!(inc.acknowledged);
    assert_eq!(inc.current, Some(other), "the detail names the winner, not the version we expected");
    assert!(inc.current_reacknowledged);
    assert_eq!(r.store.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, other);
    // Nothing was withdrawn: the winner's acknowledgement must stand, and it
    // was said again after ours, so the wallet service's last word is the
    // version that is current.
    let told = r.notifier.notifications();
    assert!(told.iter().all(|n| n.success), "{told:?}");
    assert_eq!(told.iter().map(|n| n.backup_id).collect::<Vec<_>>(), [inc.backup_id, other]);
    assert_eq!(r.notifier.acknowledged(&u, &m), Some(other));
    assert!(e.to_string().contains("told about"), "{e}");
}

#[tokio::test]
async fn without_a_method_backup_uses_the_default_chain_and_says_so_when_it_is_empty() {
    let store = MemoryStore::new();
    let orch = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(MemoryKeyProvider::new()))
        .store(Arc::new(store.clone()))
        .notifier(Arc::new(RecordingNotifier::new()))
        .build()
        .unwrap();
    let e = orch.backup(BackupRequest::new(user("u"), share(b"x"))).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NoDefaultProvider);
    assert!(e.to_string().contains("gdrive"), "{e}");

    let mut reg = Registry::empty();
    reg.set_default_chain(vec![MemoryKeyProvider::METHOD]);
    let orch = Orchestrator::builder()
        .registry(reg)
        .provider(Arc::new(MemoryKeyProvider::new()))
        .store(Arc::new(store))
        .notifier(Arc::new(RecordingNotifier::new()))
        .build()
        .unwrap();
    let receipt = orch.backup(BackupRequest::new(user("u"), share(b"x"))).await.unwrap();
    assert_eq!(receipt.method, MemoryKeyProvider::METHOD);
}

#[tokio::test]
async fn an_unknown_method_is_refused_with_the_available_ones_and_told_false() {
    let r = rig(RetryPolicy::none());
    let bogus = MethodId::new("no-such-method").unwrap();
    let e = r.orch.backup(BackupRequest::new(user("u"), share(b"x")).with_method(bogus.clone())).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::UnknownMethod);
    assert!(e.to_string().contains("memory-key"), "{e}");
    let n = r.notifier.notifications();
    assert_eq!(n.len(), 1);
    assert!(!n[0].success);
    assert_eq!(n[0].method, bogus);
}

#[tokio::test]
async fn methods_lists_each_method_with_a_current_backup_and_recover_needs_a_choice_between_several() {
    let a = MethodId::new("vault-a").unwrap();
    let b = MethodId::new("vault-b").unwrap();
    let orch = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(MemoryKeyProvider::with_method(a.clone())))
        .provider(Arc::new(MemoryKeyProvider::with_method(b.clone())))
        .store(Arc::new(MemoryStore::new()))
        .notifier(Arc::new(RecordingNotifier::new()))
        .build()
        .unwrap();
    let u = user("u");
    assert!(orch.methods(&u).await.unwrap().is_empty());
    orch.backup(BackupRequest::new(u.clone(), share(b"A")).with_method(a.clone())).await.unwrap();
    let only = orch.recover(RecoverRequest::new(u.clone())).await.unwrap();
    assert_eq!(only.method(), &a);
    orch.backup(BackupRequest::new(u.clone(), share(b"B")).with_method(b.clone())).await.unwrap();
    assert_eq!(orch.methods(&u).await.unwrap(), vec![a.clone(), b.clone()]);
    let e = orch.recover(RecoverRequest::new(u.clone())).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().contains("vault-a, vault-b"), "{e}");
    let got = orch.recover(RecoverRequest::new(u).with_method(b)).await.unwrap();
    assert_eq!(got.share().expose_secret(), b"B");
}

#[tokio::test]
async fn an_envelope_bound_to_a_custodian_recovers_only_with_that_custodian() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let c = share_backup_core::CustodianId::new("acme").unwrap();
    r.orch.backup(backup_req(&u, b"bound").with_custodian(c.clone())).await.unwrap();
    // Another namespace: the same user id without the custodian has no backup.
    let e = r.orch.recover(RecoverRequest::new(u.clone())).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    let ok = r.orch.recover(RecoverRequest::new(u).with_custodian(c)).await.unwrap();
    assert_eq!(ok.share().expose_secret(), b"bound");
}

#[tokio::test]
async fn verify_reports_a_healthy_backup_and_fails_typed_when_the_key_is_gone() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let e = r.orch.verify(VerifyRequest::new(u.clone(), m.clone())).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    let receipt = r.orch.backup(backup_req(&u, b"x")).await.unwrap();
    let (sink, log) = recording();
    let report = r.orch.verify(VerifyRequest::new(u.clone(), m.clone()).with_progress(sink)).await.unwrap();
    assert_eq!(report.backup_id, receipt.backup_id);
    assert_eq!(report.key, KeyCheck::Opens);
    assert_eq!(report.share_len, 1);
    assert!(report.other_versions.is_empty());
    assert_progress_well_formed(&log.lock().unwrap());
    r.keys.lose_key(&u, receipt.backup_id);
    let e = r.orch.verify(VerifyRequest::new(u, m)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound);
}

#[tokio::test]
async fn verify_of_a_damaged_envelope_is_invalid_envelope() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let id = share_backup_core::BackupId::generate().unwrap();
    r.store.stage(&(&u).into(), &m, id, "sb1.garbage!").await.unwrap();
    r.store.commit(&(&u).into(), &m, id, None).await.unwrap();
    let e = r.orch.verify(VerifyRequest::new(u.clone(), m.clone())).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidEnvelope);
    let e = r.orch.recover(RecoverRequest::new(u)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidEnvelope);
}

#[tokio::test]
async fn an_envelope_filed_under_another_backup_id_is_refused_as_integrity() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let receipt = r.orch.backup(backup_req(&u, b"x")).await.unwrap();
    let wrong = share_backup_core::BackupId::generate().unwrap();
    r.store.stage(&(&u).into(), &m, wrong, &receipt.envelope).await.unwrap();
    r.store.commit(&(&u).into(), &m, wrong, Some(receipt.backup_id)).await.unwrap();
    let e = r.orch.recover(RecoverRequest::new(u)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Integrity);
}

#[tokio::test]
async fn verify_does_not_ask_for_a_key_derived_from_the_users_secret() {
    let keys =
        MemoryKeyProvider::new().with_capabilities(Capabilities::new().with_needs_user_secret(true).with_deletes(true));
    let r = rig_with(RetryPolicy::none(), keys);
    let u = user("u");
    r.orch.backup(backup_req(&u, b"x")).await.unwrap();
    let before = r.plan.trace().len();
    let report = r.orch.verify(VerifyRequest::new(u, MemoryKeyProvider::METHOD)).await.unwrap();
    assert!(matches!(report.key, KeyCheck::NotChecked(_)));
    assert!(!r.plan.trace()[before..].contains(&"provider.open_key"));
}

#[tokio::test]
async fn a_local_provider_is_not_asked_for_its_key_before_the_acknowledgement() {
    let keys = MemoryKeyProvider::new().with_capabilities(Capabilities::new().with_deletes(true));
    let r = rig_with(RetryPolicy::none(), keys);
    r.orch.backup(backup_req(&user("u"), b"x")).await.unwrap();
    assert!(!r.plan.trace().contains(&"provider.open_key"), "{:?}", r.plan.trace());
}

#[tokio::test]
async fn a_remote_provider_is_asked_for_its_key_before_the_acknowledgement() {
    let r = rig(RetryPolicy::none());
    r.orch.backup(backup_req(&user("u"), b"x")).await.unwrap();
    let t = r.plan.trace();
    let open = t.iter().position(|l| *l == "provider.open_key").expect("no read-back");
    let ack = t.iter().position(|l| *l == "notifier.ack_true").unwrap();
    assert!(open < ack, "{t:?}");
}

#[tokio::test]
async fn rotate_rewraps_the_same_share_and_supersedes_the_old_backup() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let first = r.orch.backup(backup_req(&u, b"the share")).await.unwrap();
    let (sink, log) = recording();
    let rotated = r
        .orch
        .rotate(RotateRequest::new(u.clone(), m.clone()).with_new_configs(Configs::new()).with_progress(sink))
        .await
        .unwrap();
    assert_ne!(rotated.backup_id, first.backup_id);
    assert_eq!(rotated.previous, Some(first.backup_id));
    assert_ne!(rotated.envelope, first.envelope);
    assert!(!r.keys.has_key(&u, first.backup_id));
    assert_progress_well_formed(&log.lock().unwrap());
    let back = r.orch.recover(RecoverRequest::new(u)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"the share");
    assert_eq!(back.backup_id(), rotated.backup_id);
}

#[tokio::test]
async fn a_rotation_that_fails_half_way_leaves_the_old_backup_current() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let first = r.orch.backup(backup_req(&u, b"the share")).await.unwrap();
    r.plan.reset();
    // Rotation calls: 1 current, 2 acknowledgement (over it), 3 open_key (recover), 4 current_id,
    // 5 probe, 6 seal_key.
    r.plan.set(6, Fault::Fail(ErrorKind::Unavailable));
    let e = r.orch.rotate(RotateRequest::new(u.clone(), m.clone())).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    assert_eq!(r.plan.trace()[5], "provider.seal_key");
    assert_eq!(r.store.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, first.backup_id);
    let back = r.orch.recover(RecoverRequest::new(u)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"the share");
}

#[tokio::test]
async fn rotating_a_user_without_a_backup_is_not_found() {
    let r = rig(RetryPolicy::none());
    let e = r.orch.rotate(RotateRequest::new(user("nobody"), MemoryKeyProvider::METHOD)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    assert!(r.notifier.notifications().is_empty());
}

#[tokio::test]
async fn commit_staged_finishes_a_backup_whose_commit_failed() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let (first, staged, current) = acknowledged_but_uncommitted(&r, &u, b"new").await;
    assert_eq!(current, Some(first.backup_id));
    // The acknowledgement is never withdrawn: it names the staged backup,
    // which commit_staged (or the next touch) makes current.
    let last = r.notifier.notifications().pop().unwrap();
    assert_eq!((last.backup_id, last.success), (staged, true));
    assert_eq!(r.store.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, first.backup_id);
    let receipt = r.orch.commit_staged(&u, &m, staged, Configs::new()).await.unwrap();
    assert_eq!(receipt.backup_id, staged);
    assert_eq!(receipt.pruned, vec![first.backup_id]);
    assert_eq!(r.notifier.acknowledged(&u, &m), Some(staged));
    let back = r.orch.recover(RecoverRequest::new(u)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"new");
}

#[tokio::test]
async fn prune_removes_old_leftovers_after_a_failed_prune() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let first = r.orch.backup(backup_req(&u, b"old")).await.unwrap();
    r.plan.reset();
    // 9 = store.versions of the prune.
    r.plan.set(9, Fault::Fail(ErrorKind::Unavailable));
    let second = r.orch.backup(backup_req(&u, b"new")).await.unwrap();
    assert_eq!(r.plan.trace()[8], "store.versions");
    assert_eq!(second.prune_failures, 1);
    assert!(r.keys.has_key(&u, first.backup_id));
    let orch = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(r.keys.clone()))
        .store(Arc::new(r.store.clone()))
        .notifier(Arc::new(RecordingNotifier::new()))
        .prune_grace(share_backup_orchestrator::MIN_PRUNE_GRACE)
        .build()
        .unwrap();
    assert!(r.store.backdate(&(&u).into(), &m, first.backup_id, Duration::from_secs(120)));
    let report = orch.prune(&u, &m, Configs::new()).await.unwrap();
    assert_eq!(report.removed, vec![first.backup_id]);
    assert!(!r.keys.has_key(&u, first.backup_id));
}

#[tokio::test]
async fn the_builder_refuses_a_prune_grace_below_the_minimum() {
    let e = Orchestrator::builder()
        .registry(Registry::empty())
        .store(Arc::new(MemoryStore::new()))
        .notifier(Arc::new(RecordingNotifier::new()))
        .prune_grace(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().contains("prune grace"), "{e}");
}

#[tokio::test]
async fn two_clients_and_two_custodians_of_one_user_id_each_keep_list_and_recover_their_own_backup() {
    let r = rig(RetryPolicy::none());
    let u = user("shared-id");
    let m = MemoryKeyProvider::METHOD;
    let client = |s: &str| share_backup_core::ClientId::new(s).unwrap();
    let custodian = |s: &str| share_backup_core::CustodianId::new(s).unwrap();
    let a = r.orch.backup(backup_req(&u, b"client A").with_client(client("a"))).await.unwrap();
    let b = r.orch.backup(backup_req(&u, b"client B").with_client(client("b"))).await.unwrap();
    let c = r.orch.backup(backup_req(&u, b"custodian C").with_custodian(custodian("c"))).await.unwrap();
    let d = r.orch.backup(backup_req(&u, b"custodian D").with_custodian(custodian("d"))).await.unwrap();
    // Nobody superseded or pruned anybody else.
    for receipt in [&a, &b, &c, &d] {
        assert_eq!(receipt.previous, None);
        assert!(receipt.pruned.is_empty());
        assert!(r.keys.has_key(&u, receipt.backup_id));
    }
    let ns = |cl: Option<&str>, cu: Option<&str>| {
        share_backup_orchestrator::Namespace::from(&u).with_ids(cu.map(custodian), cl.map(client))
    };
    assert_eq!(r.orch.methods(ns(Some("a"), None)).await.unwrap(), vec![m.clone()]);
    assert_eq!(r.orch.methods(ns(None, Some("d"))).await.unwrap(), vec![m.clone()]);
    assert!(r.orch.methods(&u).await.unwrap().is_empty());
    let get = |req: RecoverRequest| {
        let orch = r.orch.clone();
        async move { orch.recover(req).await.unwrap().share().expose_secret().to_vec() }
    };
    assert_eq!(get(RecoverRequest::new(u.clone()).with_client(client("a"))).await, b"client A");
    assert_eq!(get(RecoverRequest::new(u.clone()).with_client(client("b"))).await, b"client B");
    assert_eq!(get(RecoverRequest::new(u.clone()).with_custodian(custodian("c"))).await, b"custodian C");
    assert_eq!(get(RecoverRequest::new(u.clone()).with_custodian(custodian("d"))).await, b"custodian D");
    // A second backup of client A supersedes only client A's.
    let a2 = r.orch.backup(backup_req(&u, b"client A2").with_client(client("a"))).await.unwrap();
    assert_eq!(a2.previous, Some(a.backup_id));
    assert!(r.keys.has_key(&u, b.backup_id));
    assert_eq!(get(RecoverRequest::new(u.clone()).with_client(client("b"))).await, b"client B");
}

#[tokio::test]
async fn prune_never_deletes_the_key_of_an_envelope_stored_under_another_backup_id() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let first = r.orch.backup(backup_req(&u, b"one")).await.unwrap();
    let second = r.orch.backup(backup_req(&u, b"two")).await.unwrap();
    // A leftover whose object holds the current version's envelope.
    let odd = share_backup_core::BackupId::generate().unwrap();
    r.store.stage(&(&u).into(), &m, odd, &second.envelope).await.unwrap();
    assert!(r.store.backdate(&(&u).into(), &m, odd, Duration::from_secs(3600)));
    let report = r.orch.prune(&u, &m, Configs::new()).await.unwrap();
    assert_eq!(report.failed, vec![odd], "{report:?}");
    assert!(r.keys.has_key(&u, second.backup_id), "the current version's key was deleted");
    assert!(!r.keys.has_key(&u, first.backup_id));
    let back = r.orch.recover(RecoverRequest::new(u)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"two");
}

#[tokio::test]
async fn the_builder_refuses_to_build_without_a_store_or_a_notifier() {
    let e = Orchestrator::builder().registry(Registry::empty()).build().unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().contains("store"), "{e}");
    let e =
        Orchestrator::builder().registry(Registry::empty()).store(Arc::new(MemoryStore::new())).build().unwrap_err();
    assert!(e.to_string().contains("notifier"), "{e}");
}

#[tokio::test]
async fn debug_output_of_requests_receipts_and_recoveries_never_shows_the_share() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let secret = b"SUPER-SECRET-SHARE-BYTES";
    let req = backup_req(&u, secret).with_config(String::from("a-config-value"));
    let dbg = format!("{req:?}");
    assert!(!dbg.contains("SUPER-SECRET"), "{dbg}");
    assert!(!dbg.contains("a-config-value"), "{dbg}");
    let receipt = r.orch.backup(req).await.unwrap();
    let dbg = format!("{receipt:?} {:?}", r.orch);
    assert!(!dbg.contains("SUPER-SECRET"), "{dbg}");
    assert!(!dbg.contains(&receipt.envelope), "{dbg}");
    let back = r.orch.recover(RecoverRequest::new(u)).await.unwrap();
    let dbg = format!("{back:?}");
    assert!(!dbg.contains("SUPER-SECRET") && dbg.contains("REDACTED"), "{dbg}");
}

#[tokio::test]
async fn users_are_independent() {
    let r = rig(RetryPolicy::none());
    let (a, b) = (user("a"), user("b"));
    r.orch.backup(backup_req(&a, b"for a")).await.unwrap();
    r.orch.backup(backup_req(&b, b"for b")).await.unwrap();
    assert_eq!(r.orch.recover(RecoverRequest::new(a)).await.unwrap().share().expose_secret(), b"for a");
    assert_eq!(r.orch.recover(RecoverRequest::new(b)).await.unwrap().share().expose_secret(), b"for b");
    assert_eq!(r.orch.methods(&UserId::new("c").unwrap()).await.unwrap(), vec![]);
}

/// A provider call and the custodian and client of its context.
type SeenContext = (&'static str, Option<String>, Option<String>);

/// Records the custodian and client of every provider context it is given.
#[derive(Debug)]
struct ContextRecorder {
    inner: MemoryKeyProvider,
    seen: std::sync::Mutex<Vec<SeenContext>>,
}

impl ContextRecorder {
    fn note(&self, op: &'static str, ctx: &share_backup_core::Context) {
        let ids = (ctx.custodian().map(|c| c.as_str().to_owned()), ctx.client().map(|c| c.as_str().to_owned()));
        self.seen.lock().unwrap().push((op, ids.0, ids.1));
    }
}

#[share_backup_core::async_trait]
impl share_backup_core::BackupProvider for ContextRecorder {
    fn method(&self) -> &MethodId {
        self.inner.method()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn probe(&self, ctx: &share_backup_core::Context) -> share_backup_core::Result<()> {
        self.note("probe", ctx);
        self.inner.probe(ctx).await
    }
    async fn seal_key(
        &self,
        ctx: &share_backup_core::Context,
    ) -> share_backup_core::Result<share_backup_core::SealedKey> {
        self.note("seal_key", ctx);
        self.inner.seal_key(ctx).await
    }
    async fn open_key(
        &self,
        header: &share_backup_core::KeyHeader,
        ctx: &share_backup_core::Context,
    ) -> share_backup_core::Result<share_backup_core::DataKey> {
        self.note("open_key", ctx);
        self.inner.open_key(header, ctx).await
    }
    async fn delete_key(
        &self,
        header: &share_backup_core::KeyHeader,
        ctx: &share_backup_core::Context,
    ) -> share_backup_core::Result<()> {
        self.note("delete_key", ctx);
        self.inner.delete_key(header, ctx).await
    }
}

#[tokio::test]
async fn prune_and_commit_staged_give_the_provider_contexts_with_the_custodian_and_the_client() {
    use share_backup_core::{ClientId, CustodianId};
    let provider = Arc::new(ContextRecorder { inner: MemoryKeyProvider::new(), seen: Default::default() });
    let store = share_backup_orchestrator::MemoryStore::new();
    let build = |prune: bool| {
        Orchestrator::builder()
            .registry(Registry::empty())
            .provider(provider.clone())
            .store(Arc::new(store.clone()))
            .notifier(Arc::new(share_backup_orchestrator::RecordingNotifier::new()))
            .prune(prune)
            .build()
            .unwrap()
    };
    let (orch, keep_all) = (build(true), build(false));
    let u = user("bound");
    let m = MemoryKeyProvider::METHOD;
    let (custodian, client) = (CustodianId::new("custodian-c").unwrap(), ClientId::new("client-k").unwrap());
    let ns = share_backup_orchestrator::Namespace::from(&u).with_ids(Some(custodian.clone()), Some(client.clone()));
    let req = |bytes: &[u8]| backup_req(&u, bytes).with_custodian(custodian.clone()).with_client(client.clone());

    // prune(): v1 is superseded by v2 (made without pruning), then aged.
    let v1 = keep_all.backup(req(b"one")).await.unwrap().backup_id;
    let v2 = keep_all.backup(req(b"two")).await.unwrap().backup_id;
    assert!(store.backdate(&ns, &m, v1, Duration::from_secs(3600)));
    provider.seen.lock().unwrap().clear();
    let report = orch.prune(ns.clone(), &m, Configs::new()).await.unwrap();
    assert_eq!(report.removed, vec![v1]);
    // commit_staged(): v2 made current again over v3, which it then prunes.
    let v3 = keep_all.backup(req(b"three")).await.unwrap().backup_id;
    let receipt = orch.commit_staged(ns.clone(), &m, v2, Configs::new()).await.unwrap();
    assert_eq!(receipt.pruned, vec![v3]);

    let seen = provider.seen.lock().unwrap().clone();
    let deletes: Vec<_> = seen.iter().filter(|(op, ..)| *op == "delete_key").collect();
    assert_eq!(deletes.len(), 2, "{seen:?}");
    for (op, cu, cl) in &seen {
        assert_eq!(cu.as_deref(), Some("custodian-c"), "{op} without the custodian: {seen:?}");
        assert_eq!(cl.as_deref(), Some("client-k"), "{op} without the client: {seen:?}");
    }
}

#[tokio::test]
async fn a_backup_leaves_a_fresh_acknowledged_uncommitted_version_alone_and_rolls_an_abandoned_one_forward() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let (first, acked, _) = acknowledged_but_uncommitted(&r, &u, b"acknowledged").await;
    // Another process, on the same store and wallet service.
    let other = r.another_process();
    // While the record is younger than the take-over time its writer may
    // still be running: another process's backup leaves it alone and tells nothing.
    let e = other.backup(backup_req(&u, b"too soon")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
    assert!(e.retryable(), "{e}");
    assert!(e.to_string().contains(&acked.to_string()), "{e}");
    assert_eq!(r.notifier.notifications().len(), 2, "nothing told: {:?}", r.notifier.notifications());
    // Once it is older it is abandoned. The next backup reads only the
    // current version (still `first`); its own record over `first` is
    // refused, which is how it finds the acknowledged version: it commits it,
    // tells `true` for it again, and backs up over it.
    let ns = (&u).into();
    assert_eq!(r.store.backdate_acknowledgements(&ns, &m, Some(first.backup_id), Duration::from_secs(3600)), 1);
    let third = other.backup(backup_req(&u, b"third")).await.unwrap();
    assert_eq!(third.previous, Some(acked), "the acknowledged version was made current first");
    let told: Vec<_> = r.notifier.notifications().iter().map(|n| (n.backup_id, n.success)).collect();
    assert_eq!(
        told,
        [(first.backup_id, true), (acked, true), (acked, true), (third.backup_id, true)],
        "no `false` anywhere, and the last word is the newest backup"
    );
    let back = r.orch.recover(RecoverRequest::new(u.clone())).await.unwrap();
    assert_eq!((back.backup_id(), back.share().expose_secret()), (third.backup_id, &b"third"[..]));
    assert_eq!(r.store.current_id(&(&u).into(), &m).await.unwrap(), Some(third.backup_id));
}

#[tokio::test]
async fn commit_staged_of_a_superseded_version_is_not_undone_by_its_successors_acknowledgement_record() {
    let store = MemoryStore::new();
    let notifier = RecordingNotifier::new();
    let orch = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(MemoryKeyProvider::new()))
        .store(Arc::new(store.clone()))
        .notifier(Arc::new(notifier.clone()))
        .retry(RetryPolicy::none())
        .prune(false)
        .build()
        .unwrap();
    let (u, m) = (user("u"), MemoryKeyProvider::METHOD);
    let v1 = orch.backup(backup_req(&u, b"one")).await.unwrap().backup_id;
    let v2 = orch.backup(backup_req(&u, b"two")).await.unwrap().backup_id;
    // The integrator brings v1 back: current again, and acknowledged.
    let receipt = orch.commit_staged(&u, &m, v1, Configs::new()).await.unwrap();
    assert_eq!(receipt.previous, Some(v2));
    // v2's record over v1 (from when v1 was current the first time) must
    // not roll v2 forward over v1 now.
    let back = orch.recover(RecoverRequest::new(u.clone())).await.unwrap();
    assert_eq!((back.backup_id(), back.share().expose_secret()), (v1, &b"one"[..]));
    assert_eq!(notifier.acknowledged(&u, &m), Some(v1));
    assert_eq!(orch.methods(&u).await.unwrap(), vec![m.clone()]);
    assert_eq!(store.current_id(&(&u).into(), &m).await.unwrap(), Some(v1));
}

#[tokio::test]
async fn a_refused_acknowledgement_record_is_not_retried_as_a_transient_error_and_tells_nothing() {
    // Retries on (a store's `Conflict` is retryable by default), and every
    // record refused although nothing is in the way (a store that keeps
    // losing the slot).
    let r = rig(fast_retry(4));
    let u = user("u");
    for nth in 1..=4 {
        r.plan.set_at_label("store.record_acknowledgement", nth, Fault::Fail(ErrorKind::Conflict));
    }
    let e = r.orch.backup(backup_req(&u, b"x")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
    let calls = r.plan.trace().iter().filter(|l| **l == "store.record_acknowledgement").count();
    assert_eq!(calls, 4, "one call per attempt, four attempts: {:?}", r.plan.trace());
    assert!(e.retryable(), "the records kept moving: retry the backup: {e}");
    assert!(r.notifier.notifications().is_empty(), "a writer refused its record tells nothing");
    let inc = IncompleteBackup::find(&e).unwrap();
    assert!(!inc.acknowledged);
}

#[tokio::test]
async fn a_backup_racing_a_writer_that_is_still_telling_true_loses_and_tells_nothing() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let first = r.orch.backup(backup_req(&u, b"old")).await.unwrap();
    r.plan.reset();
    // Writer A: paused inside its `true`, its record over `first` in the store.
    let gate = Gate::new();
    r.plan.set_at_label("notifier.ack_true", 1, Fault::Pause(gate.clone()));
    let orch = r.orch.clone();
    let a_task = tokio::spawn(async move { orch.backup(backup_req(&user("u"), b"writer a")).await });
    gate.wait_reached().await;
    // Writer B, another process on the same store and wallet service.
    let b = r.another_process();
    let e = b.backup(backup_req(&u, b"writer b")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
    let inc = IncompleteBackup::find(&e).unwrap();
    assert!(!inc.acknowledged);
    assert_eq!(inc.current, Some(first.backup_id));
    assert_eq!(r.notifier.notifications().len(), 1, "B told nothing: {:?}", r.notifier.notifications());
    assert_eq!(r.store.current_id(&(&u).into(), &m).await.unwrap(), Some(first.backup_id), "B did not commit A");
    // A finishes on its own: current, and the wallet service's last word.
    gate.open();
    let a = a_task.await.unwrap().unwrap();
    assert_eq!(a.previous, Some(first.backup_id));
    assert_eq!(r.notifier.acknowledged(&u, &m), Some(a.backup_id));
    let back = b.recover(RecoverRequest::new(u.clone())).await.unwrap();
    assert_eq!((back.backup_id(), back.share().expose_secret()), (a.backup_id, &b"writer a"[..]));
    // And B's retry goes through over A.
    let again = b.backup(backup_req(&u, b"writer b")).await.unwrap();
    assert_eq!(again.previous, Some(a.backup_id));
}

#[tokio::test]
async fn an_abandoned_acknowledgement_of_a_retired_version_is_withdrawn_and_the_next_backup_goes_through() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let ns: share_backup_orchestrator::Namespace = (&u).into();
    let first = r.orch.backup(backup_req(&u, b"old")).await.unwrap().backup_id;
    // A version acknowledged over `first` (its writer crashed after `true`),
    // then retired by a prune in another process: it can never be current.
    let x = share_backup_core::BackupId::generate().unwrap();
    r.store.stage(&ns, &m, x, "sb1.x").await.unwrap();
    r.store.record_acknowledgement(&ns, &m, Acknowledgement::new(x, Some(first))).await.unwrap();
    r.store.retire(&ns, &m, x).await.unwrap();
    r.store.backdate_acknowledgements(&ns, &m, Some(first), Duration::from_secs(3600));
    let receipt = r.orch.backup(backup_req(&u, b"new")).await.unwrap();
    assert_eq!(receipt.previous, Some(first));
    let told: Vec<_> = r.notifier.notifications().iter().map(|n| (n.backup_id, n.success)).collect();
    assert_eq!(
        told,
        [(first, true), (first, true), (receipt.backup_id, true)],
        "the current version named again first"
    );
    let rec = r.store.acknowledgement(&ns, &m, Some(first)).await.unwrap().unwrap();
    assert_eq!((rec.backup_id, rec.withdrawn), (receipt.backup_id, false));
    let back = r.orch.recover(RecoverRequest::new(u.clone())).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"new");
}

#[tokio::test]
async fn a_retry_in_the_process_that_left_an_acknowledgement_uncommitted_takes_it_over_at_once() {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    let m = MemoryKeyProvider::METHOD;
    let (first, acked, _) = acknowledged_but_uncommitted(&r, &u, b"acknowledged").await;
    // The same process retries at once: no other backup of the namespace can
    // be running here, so the record it left is abandoned by definition.
    let retry = r.orch.backup(backup_req(&u, b"retried")).await.unwrap();
    assert_eq!(retry.previous, Some(acked));
    assert_eq!(r.notifier.acknowledged(&u, &m), Some(retry.backup_id));
    assert_ne!(retry.previous, Some(first.backup_id));
    let back = r.orch.recover(RecoverRequest::new(u)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"retried");
}
