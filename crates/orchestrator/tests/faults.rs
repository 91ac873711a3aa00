//! The fault-injection matrix: a fault (an error before or after the call
//! takes effect, a hang followed by a crash) at every call of the protocol,
//! and the invariants that must hold after each.

mod common;

use std::time::Duration;

use common::*;
use share_backup_core::{BackupId, Configs, Envelope, Error, ErrorKind, ExposeSecret, Result, Status, UserId};
use share_backup_orchestrator::testing::{Fault, MemoryKeyProvider};
use share_backup_orchestrator::{CipherTextStore, IncompleteBackup, Receipt, RecoverRequest, RetryPolicy};

const OLD: &[u8] = b"the previous share";
const NEW: &[u8] = b"the new share";

/// The labels of every call of a clean second backup (after a first one).
async fn clean_trace() -> Vec<&'static str> {
    let r = rig(RetryPolicy::none());
    let u = user("u");
    r.orch.backup(backup_req(&u, OLD)).await.unwrap();
    r.plan.reset();
    r.orch.backup(backup_req(&u, NEW)).await.unwrap();
    r.plan.trace()
}

/// A rig whose user already has an acknowledged, current backup of `OLD`.
async fn with_previous(retry: RetryPolicy) -> (Rig, UserId, BackupId) {
    let r = rig(retry);
    let u = user("u");
    let prev = r.orch.backup(backup_req(&u, OLD)).await.unwrap().backup_id;
    r.plan.reset();
    (r, u, prev)
}

enum Outcome {
    Ok(Receipt),
    Err(Error),
    Crashed,
}

/// The invariants of the orchestrator (ARCHITECTURE.md), checked on the
/// store, the wallet service's record and the provider's keys after one
/// attempted backup of `NEW`.
async fn check_invariants(r: &Rig, u: &UserId, prev: BackupId, outcome: &Outcome, what: &str) {
    r.plan.clear();
    let m = MemoryKeyProvider::METHOD;
    // The next touch (here `methods`) rolls an acknowledged but uncommitted
    // version forward: from then on the store and the wallet service agree.
    r.orch.methods(u).await.unwrap();
    let current = r.store.current(&u.into(), &m).await.unwrap().expect("the user lost their current backup").backup_id;
    let new_ids: Vec<BackupId> = r
        .notifier
        .notifications()
        .iter()
        .filter(|n| n.backup_id != prev)
        .map(|n| n.backup_id)
        .chain(r.store.versions(&u.into(), &m).await.unwrap().iter().map(|v| v.backup_id).filter(|id| *id != prev))
        .collect();

    // Success is never acknowledged unless the envelope is durably stored and verified.
    for n in r.notifier.notifications().iter().filter(|n| n.success && n.backup_id != prev) {
        let text = r.store.get(&u.into(), &m, n.backup_id).await;
        assert!(text.is_ok(), "{what}: {} acknowledged but not stored", n.backup_id);
        Envelope::parse(&text.unwrap()).unwrap();
        assert!(r.keys.has_key(u, n.backup_id), "{what}: {} acknowledged without its key", n.backup_id);
    }

    // The wallet service's record and the store agree on which backup is acknowledged.
    let acked = r.notifier.acknowledged(u, &m);
    match outcome {
        Outcome::Ok(receipt) => {
            assert_eq!(current, receipt.backup_id, "{what}");
            assert_eq!(acked, Some(receipt.backup_id), "{what}");
        }
        Outcome::Err(e) => {
            assert!(
                acked.is_none() || acked == Some(current),
                "{what}: acknowledged {acked:?}, current {current}: {e}"
            );
            if let Some(inc) = IncompleteBackup::find(e) {
                // An acknowledged one was rolled forward by the touch above.
                // (A record that landed although its write reported an error
                // rolls forward too, and the wallet service is told `true`.)
                if inc.acknowledged {
                    assert_eq!(inc.backup_id, current, "{what}: {inc:?}");
                }
                assert!(
                    r.store.get(&u.into(), &m, inc.backup_id).await.is_ok(),
                    "{what}: incomplete backup not staged"
                );
            }
        }
        Outcome::Crashed => {
            if acked.is_some_and(|a| a != current) {
                // Crashed between the acknowledgement and the commit: the
                // acknowledged version is staged and can be finished.
                let staged = acked.unwrap();
                assert_eq!(current, prev, "{what}");
                let receipt = r.orch.commit_staged(u, &m, staged, Configs::new()).await.unwrap();
                assert_eq!(receipt.backup_id, staged);
                let back = r.orch.recover(RecoverRequest::new(u.clone())).await.unwrap();
                assert_eq!(back.share().expose_secret(), NEW, "{what}");
                return;
            }
        }
    }

    // The previous backup is never destroyed before the new one is acknowledged and current.
    let current_is_new = current != prev;
    if !current_is_new {
        assert!(r.store.get(&u.into(), &m, prev).await.is_ok(), "{what}: previous version destroyed");
        assert!(r.keys.has_key(u, prev), "{what}: previous key destroyed");
    } else {
        assert!(new_ids.contains(&current), "{what}");
        assert_eq!(acked, Some(current), "{what}: current but not acknowledged");
    }

    // The user can recover, with the previous or with the new backup.
    let back = r.orch.recover(RecoverRequest::new(u.clone())).await.unwrap();
    let expected = if current_is_new { NEW } else { OLD };
    assert_eq!(back.share().expose_secret(), expected, "{what}");

    // And a later backup goes through and is the one recovered.
    let receipt = r.orch.backup(backup_req(u, b"after the fault")).await.unwrap();
    assert_eq!(r.notifier.acknowledged(u, &m), Some(receipt.backup_id), "{what}");
    let back = r.orch.recover(RecoverRequest::new(u.clone())).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"after the fault", "{what}");
}

async fn attempt(r: &Rig, u: &UserId) -> (Result<Receipt>, Vec<share_backup_core::Progress>) {
    let (sink, log) = recording();
    let res = r.orch.backup(backup_req(u, NEW).with_progress(sink)).await;
    let log = log.lock().unwrap().clone();
    (res, log)
}

#[tokio::test]
async fn the_clean_protocol_makes_the_documented_calls_in_order() {
    let trace = clean_trace().await;
    assert_eq!(
        trace,
        vec![
            "store.current_id",
            "provider.probe",
            "provider.seal_key",
            "provider.open_key",
            "store.stage",
            "store.record_acknowledgement",
            "notifier.ack_true",
            "store.commit",
            "store.versions",
            "store.acknowledgement",
            "store.get",
            "store.retire",
            "provider.delete_key",
            "store.remove",
        ]
    );
}

#[tokio::test]
async fn an_error_at_any_single_call_without_retries_keeps_every_invariant() {
    let trace = clean_trace().await;
    for fault in [Fault::Fail(ErrorKind::Unavailable), Fault::FailAfter(ErrorKind::Unavailable)] {
        for n in 1..=trace.len() as u64 {
            let what = format!("{fault:?} at call {n} ({})", trace[n as usize - 1]);
            let (r, u, prev) = with_previous(RetryPolicy::none()).await;
            r.plan.set(n, fault.clone());
            let (res, log) = attempt(&r, &u).await;
            assert_progress_well_formed(&log);
            let label = trace[n as usize - 1];
            let commit_at = trace.iter().position(|l| *l == "store.commit").unwrap() + 1;
            let prune_step = n as usize > commit_at;
            let commit_landed = label == "store.commit" && matches!(fault, Fault::FailAfter(_));
            let outcome = match res {
                Ok(receipt) => {
                    assert!(prune_step || commit_landed, "{what}: succeeded despite the fault");
                    assert_eq!(log.last().unwrap().status, Status::Done);
                    if prune_step {
                        assert!(receipt.pruned.is_empty() && receipt.prune_failures == 1, "{what}: {receipt:?}");
                    }
                    Outcome::Ok(receipt)
                }
                Err(e) => {
                    assert!(!prune_step && !commit_landed, "{what}: failed: {e}");
                    assert_eq!(log.last().unwrap().status, Status::Failed);
                    assert!(e.kind() == &ErrorKind::Unavailable, "{what}: {e:?}");
                    let last = r.notifier.notifications().pop().unwrap();
                    if matches!(label, "notifier.ack_true" | "store.commit") {
                        // A `true` may have landed: never contradicted with `false`.
                        assert!(r.notifier.notifications().iter().all(|n| n.success), "{what}: a false after a true");
                    } else {
                        // Any failure before the acknowledgement told the wallet service `false`.
                        assert!(!last.success, "{what}: no `false` after a failure");
                    }
                    Outcome::Err(e)
                }
            };
            check_invariants(&r, &u, prev, &outcome, &what).await;
        }
    }
}

#[tokio::test]
async fn a_single_transient_store_or_notifier_error_is_retried_and_the_backup_succeeds() {
    let trace = clean_trace().await;
    for fault in [Fault::Fail(ErrorKind::Unavailable), Fault::FailAfter(ErrorKind::Unavailable)] {
        for n in 1..=trace.len() as u64 {
            let label = trace[n as usize - 1];
            let what = format!("{fault:?} at call {n} ({label})");
            let (r, u, prev) = with_previous(fast_retry(3)).await;
            r.plan.set(n, fault.clone());
            let (res, log) = attempt(&r, &u).await;
            assert_progress_well_formed(&log);
            let provider_call = label.starts_with("provider.") && label != "provider.delete_key";
            let outcome = match res {
                Ok(receipt) => {
                    assert!(!provider_call, "{what}: provider errors are not retried by the orchestrator");
                    if label == "notifier.ack_true" {
                        let trues: Vec<_> = r.notifier.notifications().into_iter().filter(|n| n.success).collect();
                        assert!(trues.iter().all(|n| n.backup_id == receipt.backup_id || n.backup_id == prev));
                        assert!(r.notifier.notifications().iter().all(|n| n.success), "{what}: a false was sent");
                    }
                    Outcome::Ok(receipt)
                }
                Err(e) => {
                    assert!(provider_call, "{what}: not retried: {e}");
                    Outcome::Err(e)
                }
            };
            check_invariants(&r, &u, prev, &outcome, &what).await;
        }
    }
}

#[tokio::test]
async fn a_crash_at_any_await_point_keeps_every_invariant() {
    let trace = clean_trace().await;
    for n in 1..=trace.len() as u64 {
        let what = format!("crash at call {n} ({})", trace[n as usize - 1]);
        let (r, u, prev) = with_previous(RetryPolicy::none()).await;
        r.plan.set(n, Fault::Hang);
        let (sink, log) = recording();
        let fut = r.orch.backup(backup_req(&u, NEW).with_progress(sink));
        // Drive the backup until it hangs at call n, then drop it (the crash).
        let res = tokio::time::timeout(Duration::from_millis(100), fut).await;
        assert!(res.is_err(), "{what}: did not hang");
        // (The prune reads the versions and the acknowledgement record side
        // by side: a hang in the first still lets the second start.)
        assert!((n..=n + 1).contains(&r.plan.calls()), "{what}");
        let log = log.lock().unwrap().clone();
        assert_progress_well_formed(&log);
        assert_eq!(log.last().unwrap().status, Status::Failed, "{what}");
        check_invariants(&r, &u, prev, &Outcome::Crashed, &what).await;
    }
}

#[tokio::test]
async fn a_timed_out_acknowledgement_is_never_contradicted_and_rolls_forward_on_the_next_touch() {
    let trace = clean_trace().await;
    let ack = trace.iter().position(|l| *l == "notifier.ack_true").unwrap() as u64 + 1;
    let (r, u, prev) = with_previous(fast_retry(4)).await;
    // The wallet service times out for good from the acknowledgement on: each
    // `true` may or may not have landed.
    r.plan.set_from(ack, Fault::Fail(ErrorKind::Unavailable));
    let (res, log) = attempt(&r, &u).await;
    let e = res.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    assert_eq!(log.last().unwrap().status, Status::Failed);
    let trace = r.plan.trace();
    assert_eq!(trace.iter().filter(|l| **l == "notifier.ack_true").count(), 4, "{trace:?}");
    assert!(!trace.contains(&"notifier.ack_false"), "a false after a true of unknown fate: {trace:?}");
    let inc = IncompleteBackup::find(&e).expect("the error names the staged version");
    assert!(inc.acknowledged);
    assert_eq!(inc.current, Some(prev));
    r.plan.clear();
    // The acknowledgement was recorded before the `true`: the next recovery
    // makes the version current and recovers it.
    let m = MemoryKeyProvider::METHOD;
    let ns = share_backup_orchestrator::Namespace::from(&u);
    assert_eq!(r.store.acknowledgement(&ns, &m, Some(prev)).await.unwrap().map(|a| a.backup_id), Some(inc.backup_id));
    let back = r.orch.recover(RecoverRequest::new(u.clone())).await.unwrap();
    assert_eq!(back.backup_id(), inc.backup_id);
    assert_eq!(back.share().expose_secret(), NEW);
    assert_eq!(r.notifier.acknowledged(&u, &m), Some(inc.backup_id));
    check_invariants(&r, &u, prev, &Outcome::Err(e), "timed-out acknowledgement").await;
}

#[tokio::test]
async fn a_refused_acknowledgement_tells_false_and_never_rolls_forward() {
    let trace = clean_trace().await;
    let ack = trace.iter().position(|l| *l == "notifier.ack_true").unwrap() as u64 + 1;
    let (r, u, prev) = with_previous(fast_retry(4)).await;
    r.plan.set(ack, Fault::Fail(ErrorKind::PermissionDenied));
    let (res, _) = attempt(&r, &u).await;
    let e = res.unwrap_err();
    let inc = IncompleteBackup::find(&e).unwrap();
    assert!(!inc.acknowledged);
    let last = r.notifier.notifications().pop().unwrap();
    assert_eq!((last.backup_id, last.success), (inc.backup_id, false));
    r.plan.clear();
    let back = r.orch.recover(RecoverRequest::new(u.clone())).await.unwrap();
    assert_eq!(back.backup_id(), prev, "a refused acknowledgement was rolled forward");
    check_invariants(&r, &u, prev, &Outcome::Err(e), "refused acknowledgement").await;
}

#[tokio::test]
async fn a_permanently_failing_commit_never_withdraws_and_the_next_touch_commits() {
    let trace = clean_trace().await;
    let commit = trace.iter().position(|l| *l == "store.commit").unwrap() as u64 + 1;
    let (r, u, prev) = with_previous(fast_retry(3)).await;
    for k in 0..4 {
        r.plan.set(commit + k, Fault::Fail(ErrorKind::Unavailable));
    }
    let (res, _) = attempt(&r, &u).await;
    let e = res.unwrap_err();
    let inc = IncompleteBackup::find(&e).unwrap();
    assert!(inc.acknowledged);
    assert!(r.notifier.notifications().iter().all(|n| n.success), "the acknowledgement was withdrawn");
    r.plan.clear();
    let m = MemoryKeyProvider::METHOD;
    assert_eq!(r.orch.methods(&u).await.unwrap(), vec![m.clone()]);
    assert_eq!(r.store.current_id(&(&u).into(), &m).await.unwrap(), Some(inc.backup_id));
    check_invariants(&r, &u, prev, &Outcome::Err(e), "permanent commit failure").await;
}

#[tokio::test]
async fn a_failure_of_the_very_first_backup_leaves_no_current_version_and_tells_false() {
    let trace = clean_trace().await;
    // Every call before the `true`.
    let before_ack = trace.iter().position(|l| *l == "notifier.ack_true").unwrap() as u64;
    assert_eq!(before_ack, 6, "{trace:?}");
    for n in 1..=before_ack {
        let r = rig(RetryPolicy::none());
        let u = user("first-timer");
        r.plan.set(n, Fault::Fail(ErrorKind::Unavailable));
        let res = r.orch.backup(backup_req(&u, NEW)).await;
        let what = format!("call {n} ({})", trace[n as usize - 1]);
        assert!(res.is_err(), "{what}");
        r.plan.clear();
        let m = MemoryKeyProvider::METHOD;
        assert!(r.store.current(&(&u).into(), &m).await.unwrap().is_none(), "{what}");
        assert!(r.orch.methods(&u).await.unwrap().is_empty(), "{what}");
        assert_eq!(r.notifier.acknowledged(&u, &m), None, "{what}");
        let e = r.orch.recover(RecoverRequest::new(u)).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::NotFound, "{what}");
    }
}
