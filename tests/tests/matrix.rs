//! The fault-injection matrix on real stores: the password provider, the
//! object_store cipher-text store on memory, a real directory, moto's S3
//! server and Azurite, and a fault (an error before or after the call takes
//! effect, or a hang followed by a crash) at every call of the protocol.

use std::sync::Arc;
use std::time::Duration;

use share_backup_core::{BackupId, Configs, Envelope, Error, ErrorKind, ExposeSecret, MethodId, Registry, UserId};
use share_backup_orchestrator::testing::{Fault, FaultPlan, FaultyNotifier, FaultyProvider, FaultyStore};
use share_backup_orchestrator::{
    BackupRequest, CipherTextStore, IncompleteBackup, Orchestrator, Receipt, RecordingNotifier, RecoverRequest,
    RetryPolicy,
};
use share_backup_password::PasswordConfig;
use share_backup_tests::{BACKENDS, Backend, backend, fast_password_provider, unique};

const PASSWORD: &str = "tangerine vortex 91 quietly marble";
const OLD: &[u8] = b"previous client key share";
const NEW: &[u8] = b"new client key share";
const M: MethodId = MethodId::PASSWORD;

struct Rig {
    plan: FaultPlan,
    notifier: RecordingNotifier,
    store: Arc<dyn CipherTextStore>,
    orch: Orchestrator,
}

fn rig(b: &Backend, retry: RetryPolicy) -> Rig {
    let plan = FaultPlan::new();
    let notifier = RecordingNotifier::new();
    let store: Arc<dyn CipherTextStore> = b.store.clone();
    let orch = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(FaultyProvider::new(Arc::new(fast_password_provider()), plan.clone())))
        .store(Arc::new(FaultyStore::new(store.clone(), plan.clone())))
        .notifier(Arc::new(FaultyNotifier::new(Arc::new(notifier.clone()), plan.clone())))
        .retry(retry)
        .build()
        .unwrap();
    Rig { plan, notifier, store, orch }
}

fn req(u: &UserId, share: &[u8]) -> BackupRequest {
    BackupRequest::new(u.clone(), share_backup_core::BackupShare::from_slice(share).unwrap())
        .with_method(M)
        .with_config(PasswordConfig::new(PASSWORD))
}

fn rec(u: &UserId) -> RecoverRequest {
    RecoverRequest::new(u.clone()).with_method(M).with_config(PasswordConfig::new(PASSWORD))
}

async fn recovered(r: &Rig, u: &UserId) -> Vec<u8> {
    r.orch.recover(rec(u)).await.unwrap().share().expose_secret().to_vec()
}

enum Outcome {
    Ok(Receipt),
    Err(Error),
    Crashed,
}

async fn check(r: &Rig, u: &UserId, prev: BackupId, outcome: &Outcome, what: &str) {
    r.plan.clear();
    // The next touch rolls an acknowledged but uncommitted version forward.
    r.orch.methods(u).await.unwrap();
    let current =
        r.store.current(&u.into(), &M).await.unwrap().unwrap_or_else(|| panic!("{what}: no current")).backup_id;
    for n in r.notifier.notifications().iter().filter(|n| n.success && n.user == *u && n.backup_id != prev) {
        let text =
            r.store.get(&u.into(), &M, n.backup_id).await.unwrap_or_else(|e| panic!("{what}: acked, not stored: {e}"));
        Envelope::parse(&text).unwrap();
    }
    let acked = r.notifier.acknowledged(u, &M);
    match outcome {
        Outcome::Ok(receipt) => {
            assert_eq!(current, receipt.backup_id, "{what}");
            assert_eq!(acked, Some(current), "{what}");
        }
        Outcome::Err(e) => {
            assert!(acked.is_none() || acked == Some(current), "{what}: acked {acked:?}, current {current}: {e}");
            if let Some(inc) = IncompleteBackup::find(e) {
                if inc.acknowledged {
                    assert_eq!(inc.backup_id, current, "{what}: acknowledged, not rolled forward");
                }
                assert!(
                    r.store.get(&u.into(), &M, inc.backup_id).await.is_ok(),
                    "{what}: incomplete backup not staged"
                );
            }
        }
        Outcome::Crashed => {
            if let Some(staged) = acked.filter(|a| *a != current) {
                assert_eq!(current, prev, "{what}");
                r.orch.commit_staged(u, &M, staged, Configs::new()).await.unwrap();
                assert_eq!(recovered(r, u).await, NEW, "{what}");
                return;
            }
        }
    }
    if current == prev {
        assert!(r.store.get(&u.into(), &M, prev).await.is_ok(), "{what}: previous version destroyed");
        assert_eq!(recovered(r, u).await, OLD, "{what}");
    } else {
        assert_eq!(acked, Some(current), "{what}: current but not acknowledged");
        assert_eq!(recovered(r, u).await, NEW, "{what}");
    }
    r.orch.backup(req(u, b"after the fault")).await.unwrap_or_else(|e| panic!("{what}: later backup: {e:#}"));
    assert_eq!(recovered(r, u).await, b"after the fault", "{what}");
}

async fn with_previous(r: &Rig, tag: &str) -> (UserId, BackupId) {
    let u = UserId::new(unique(tag)).unwrap();
    let prev = r.orch.backup(req(&u, OLD)).await.unwrap().backup_id;
    r.plan.reset();
    (u, prev)
}

async fn wait_for_calls(plan: &FaultPlan, n: u64) {
    while plan.calls() < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn matrix_on(b: &Backend) {
    let r = rig(b, RetryPolicy::none());
    let (u, _) = with_previous(&r, "trace").await;
    r.orch.backup(req(&u, NEW)).await.unwrap();
    let trace = r.plan.trace();
    assert!(trace.contains(&"store.stage") && trace.contains(&"notifier.ack_true"), "{trace:?}");

    // On the servers (moto answers in ~20 ms a request), the error that
    // takes effect first and the crash; the plain error as well elsewhere.
    let faults = if matches!(b.name, "s3" | "azurite") {
        vec![Fault::FailAfter(ErrorKind::Unavailable), Fault::Hang]
    } else {
        vec![Fault::Fail(ErrorKind::Unavailable), Fault::FailAfter(ErrorKind::Unavailable), Fault::Hang]
    };
    for fault in faults {
        for n in 1..=trace.len() as u64 {
            let what = format!("{}: {fault:?} at call {n} ({})", b.name, trace[n as usize - 1]);
            let (u, prev) = with_previous(&r, "case").await;
            r.plan.set(n, fault.clone());
            let outcome = if fault == Fault::Hang {
                let fut = r.orch.backup(req(&u, NEW));
                tokio::select! {
                    res = fut => panic!("{what}: did not hang: {:?}", res.map(|r| r.backup_id)),
                    () = wait_for_calls(&r.plan, n) => {}
                }
                Outcome::Crashed
            } else {
                match r.orch.backup(req(&u, NEW)).await {
                    Ok(receipt) => Outcome::Ok(receipt),
                    Err(e) => Outcome::Err(e),
                }
            };
            check(&r, &u, prev, &outcome, &what).await;
        }
    }
}

async fn retried_on(b: &Backend) {
    let r = rig(b, RetryPolicy::none().with_max_retries(2));
    let (u, _) = with_previous(&r, "trace").await;
    r.orch.backup(req(&u, NEW)).await.unwrap();
    let trace = r.plan.trace();
    for n in 1..=trace.len() as u64 {
        let label = trace[n as usize - 1];
        let what = format!("{}: one error at call {n} ({label})", b.name);
        let (u, prev) = with_previous(&r, "retry").await;
        r.plan.set(n, Fault::FailAfter(ErrorKind::Unavailable));
        let res = r.orch.backup(req(&u, NEW)).await;
        let provider_call = matches!(label, "provider.probe" | "provider.seal_key" | "provider.open_key");
        assert_eq!(res.is_ok(), !provider_call, "{what}: {:?}", res.as_ref().err());
        let outcome = match res {
            Ok(receipt) => Outcome::Ok(receipt),
            Err(e) => Outcome::Err(e),
        };
        check(&r, &u, prev, &outcome, &what).await;
    }
}

/// Two processes (two orchestrators on two store instances over the same
/// data) back up one user at once: the store's conditional writes let one
/// win, the other fails with `Conflict`, and the wallet service hears only
/// the winner.
async fn race_on(b: &Backend) {
    let plan = FaultPlan::new();
    let notifier = RecordingNotifier::new();
    let gate = share_backup_orchestrator::testing::Gate::new();
    // The slow process's store calls: 1 current, 2 stage, 3 current (before the ack).
    plan.set(3, Fault::Pause(gate.clone()));
    let slow_store: Arc<dyn CipherTextStore> = b.store.clone();
    let fast_store: Arc<dyn CipherTextStore> = match b.reopen() {
        Some(s) => Arc::new(s),
        None => b.store.clone(),
    };
    let build = |store: Arc<dyn CipherTextStore>| {
        Orchestrator::builder()
            .registry(Registry::empty())
            .provider(Arc::new(fast_password_provider()))
            .store(store)
            .notifier(Arc::new(notifier.clone()))
            .retry(RetryPolicy::none())
            .build()
            .unwrap()
    };
    let slow = build(Arc::new(FaultyStore::new(slow_store, plan.clone())));
    let fast = build(fast_store.clone());
    let u = UserId::new(unique("race")).unwrap();
    let req_slow = req(&u, b"slow");
    let slow_task = tokio::spawn(async move { slow.backup(req_slow).await });
    gate.wait_reached().await;
    let winner = fast.backup(req(&u, b"fast")).await.unwrap();
    gate.open();
    let e = slow_task.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Conflict, "{}: {e:#}", b.name);
    let n = notifier.notifications();
    assert_eq!(n.len(), 1, "{}: {n:?}", b.name);
    assert_eq!((n[0].backup_id, n[0].success), (winner.backup_id, true));
    assert_eq!(fast_store.current(&(&u).into(), &M).await.unwrap().unwrap().backup_id, winner.backup_id);
    assert_eq!(fast.recover(rec(&u)).await.unwrap().share().expose_secret(), b"fast");
}

/// Many users backed up at once through one orchestrator: all recover.
async fn many_users_on(b: &Backend) {
    let r = rig(b, RetryPolicy::default());
    let mut tasks = Vec::new();
    for i in 0..24u8 {
        let orch = r.orch.clone();
        tasks.push(tokio::spawn(async move {
            let u = UserId::new(unique(&format!("many-{i}"))).unwrap();
            orch.backup(req(&u, &[i + 1; 32])).await.unwrap();
            (u, i)
        }));
    }
    for t in tasks {
        let (u, i) = t.await.unwrap();
        assert_eq!(recovered(&r, &u).await, vec![i + 1; 32], "{}", b.name);
    }
}

/// Two clients and two custodians of one user id, through the whole
/// orchestrator on a real store: each keeps, lists and recovers its own
/// backup, also from a second store instance (another process), and a new
/// backup of one client supersedes and prunes only that client's version.
async fn two_clients_and_two_custodians_on(b: &Backend) {
    use share_backup_core::{ClientId, CustodianId};
    use share_backup_orchestrator::Namespace;
    let r = rig(b, RetryPolicy::default());
    let u = UserId::new(unique("shared-id")).unwrap();
    let spaces: [(Option<&str>, Option<&str>, &[u8]); 4] = [
        (Some("a"), None, b"client A"),
        (Some("b"), None, b"client B"),
        (None, Some("c"), b"custodian C"),
        (None, Some("d"), b"custodian D"),
    ];
    let ids = |cl: Option<&str>, cu: Option<&str>| {
        (cu.map(|c| CustodianId::new(c).unwrap()), cl.map(|c| ClientId::new(c).unwrap()))
    };
    let mut first = Vec::new();
    for (cl, cu, share) in spaces {
        let (cu, cl) = ids(cl, cu);
        let receipt = r.orch.backup(req(&u, share).with_custodian_opt(cu).with_client_opt(cl)).await.unwrap();
        assert_eq!((receipt.previous, receipt.pruned.len()), (None, 0), "{}: nobody superseded another", b.name);
        first.push(receipt.backup_id);
    }
    let other = b.reopen().map(|s| {
        Orchestrator::builder()
            .registry(Registry::empty())
            .provider(Arc::new(fast_password_provider()))
            .store(Arc::new(s))
            .notifier(Arc::new(RecordingNotifier::new()))
            .build()
            .unwrap()
    });
    for orch in std::iter::once(&r.orch).chain(other.as_ref()) {
        for (cl, cu, share) in spaces {
            let (cu, cl) = ids(cl, cu);
            let ns = Namespace::new(u.clone()).with_ids(cu.clone(), cl.clone());
            assert_eq!(orch.methods(ns).await.unwrap(), vec![M], "{}", b.name);
            let back = orch.recover(rec(&u).with_custodian_opt(cu).with_client_opt(cl)).await.unwrap();
            assert_eq!(back.share().expose_secret(), share, "{}", b.name);
        }
        assert!(orch.methods(&u).await.unwrap().is_empty(), "{}: the bare user id has no backup", b.name);
    }
    let (cu, cl) = ids(Some("a"), None);
    let again = r.orch.backup(req(&u, b"client A2").with_custodian_opt(cu).with_client_opt(cl)).await.unwrap();
    assert_eq!(again.previous, Some(first[0]), "{}", b.name);
    assert_eq!(again.pruned, vec![first[0]], "{}", b.name);
    let (cu, cl) = ids(Some("b"), None);
    let back = r.orch.recover(rec(&u).with_custodian_opt(cu).with_client_opt(cl)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"client B", "{}", b.name);
}

macro_rules! per_backend {
    ($($name:ident => $f:ident($backend:literal)),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            assert!(BACKENDS.contains(&$backend));
            if let Some(b) = backend($backend) {
                $f(&b).await;
            }
        }
    )*};
}

per_backend! {
    every_fault_at_every_call_keeps_every_invariant_on_memory => matrix_on("memory"),
    every_fault_at_every_call_keeps_every_invariant_on_a_local_directory => matrix_on("local"),
    every_fault_at_every_call_keeps_every_invariant_on_s3 => matrix_on("s3"),
    every_fault_at_every_call_keeps_every_invariant_on_azurite => matrix_on("azurite"),
    a_transient_store_or_notifier_error_is_retried_on_memory => retried_on("memory"),
    a_transient_store_or_notifier_error_is_retried_on_a_local_directory => retried_on("local"),
    a_transient_store_or_notifier_error_is_retried_on_azurite => retried_on("azurite"),
    two_processes_racing_one_wins_and_the_other_gets_a_conflict_on_memory => race_on("memory"),
    two_processes_racing_one_wins_and_the_other_gets_a_conflict_on_a_local_directory => race_on("local"),
    two_processes_racing_one_wins_and_the_other_gets_a_conflict_on_s3 => race_on("s3"),
    two_processes_racing_one_wins_and_the_other_gets_a_conflict_on_azurite => race_on("azurite"),
    many_users_at_once_all_recover_on_a_local_directory => many_users_on("local"),
    many_users_at_once_all_recover_on_s3 => many_users_on("s3"),
    two_clients_and_two_custodians_of_one_user_id_each_keep_list_and_recover_their_own_backup_on_memory => two_clients_and_two_custodians_on("memory"),
    two_clients_and_two_custodians_of_one_user_id_each_keep_list_and_recover_their_own_backup_on_a_local_directory => two_clients_and_two_custodians_on("local"),
    two_clients_and_two_custodians_of_one_user_id_each_keep_list_and_recover_their_own_backup_on_s3 => two_clients_and_two_custodians_on("s3"),
    two_clients_and_two_custodians_of_one_user_id_each_keep_list_and_recover_their_own_backup_on_azurite => two_clients_and_two_custodians_on("azurite"),
}

#[tokio::test]
async fn a_wrong_password_is_typed_and_the_backup_stays_current() {
    let b = backend("local").unwrap();
    let r = rig(&b, RetryPolicy::none());
    let (u, prev) = with_previous(&r, "wrong").await;
    let e = r
        .orch
        .recover(
            RecoverRequest::new(u.clone()).with_method(M).with_config(PasswordConfig::new("not the password at all")),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongSecret);
    assert!(!format!("{e:?} {e:#}").contains(PASSWORD));
    assert_eq!(r.store.current(&(&u).into(), &M).await.unwrap().unwrap().backup_id, prev);
}

#[tokio::test]
async fn a_second_process_on_the_same_directory_sees_and_recovers_the_backup() {
    let b = backend("local").unwrap();
    let r = rig(&b, RetryPolicy::none());
    let (u, prev) = with_previous(&r, "reopen").await;
    let other = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(fast_password_provider()))
        .store(Arc::new(b.reopen().unwrap()))
        .notifier(Arc::new(RecordingNotifier::new()))
        .build()
        .unwrap();
    assert_eq!(other.methods(&u).await.unwrap(), vec![M]);
    let back = other.recover(rec(&u)).await.unwrap();
    assert_eq!(back.backup_id(), prev);
    assert_eq!(back.share().expose_secret(), OLD);
}

#[tokio::test]
async fn rotation_to_a_new_password_on_a_local_directory_keeps_the_share() {
    let b = backend("local").unwrap();
    let r = rig(&b, RetryPolicy::none());
    let (u, prev) = with_previous(&r, "rotate").await;
    let new_password = "obsidian kettle 42 wandering heron";
    let receipt = r
        .orch
        .rotate(
            share_backup_orchestrator::RotateRequest::new(u.clone(), M)
                .with_config(PasswordConfig::new(PASSWORD))
                .with_new_config(PasswordConfig::new(new_password)),
        )
        .await
        .unwrap();
    assert_eq!(receipt.previous, Some(prev));
    assert_eq!(receipt.pruned, vec![prev]);
    let e = r.orch.recover(rec(&u)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongSecret);
    let back = r
        .orch
        .recover(RecoverRequest::new(u).with_method(M).with_config(PasswordConfig::new(new_password)))
        .await
        .unwrap();
    assert_eq!(back.share().expose_secret(), OLD);
}
