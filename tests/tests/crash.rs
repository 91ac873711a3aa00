//! A child process killed (SIGKILL) before each call of the backup
//! protocol, on a real local-directory store: whatever the point, the user
//! recovers the previous or the new share, the store and the wallet
//! service's durable record agree on which one is acknowledged (or the
//! acknowledged one is staged and can be finished), and the previous
//! backup is intact unless the new one is current.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use share_backup_core::{BackupShare, Configs, ExposeSecret, MethodId, Registry, UserId};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_orchestrator::testing::{FaultPlan, FaultyNotifier, FaultyProvider, FaultyStore};
use share_backup_orchestrator::{
    BackupRequest, CipherTextStore, Orchestrator, RecordingNotifier, RecoverRequest, RetryPolicy,
};
use share_backup_password::PasswordConfig;
use share_backup_tests::{FileNotifier, fast_password_provider};

const PASSWORD: &str = "tangerine vortex 91 quietly marble";
const M: MethodId = MethodId::PASSWORD;

fn orchestrator(store: Arc<dyn CipherTextStore>, acks: &Path) -> Orchestrator {
    Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(fast_password_provider()))
        .store(store)
        .notifier(Arc::new(FileNotifier::new(acks)))
        .build()
        .unwrap()
}

fn backup(u: &UserId, share: &[u8]) -> BackupRequest {
    BackupRequest::new(u.clone(), BackupShare::from_slice(share).unwrap())
        .with_method(M)
        .with_config(PasswordConfig::new(PASSWORD))
}

async fn recover(orch: &Orchestrator, u: &UserId) -> Vec<u8> {
    let r = orch.recover(RecoverRequest::new(u.clone()).with_method(M).with_config(PasswordConfig::new(PASSWORD)));
    r.await.unwrap().share().expose_secret().to_vec()
}

/// The number of calls of a clean backup that supersedes another.
async fn protocol_calls() -> u64 {
    let plan = FaultPlan::new();
    let store = Arc::new(share_backup_orchestrator::MemoryStore::new());
    let orch = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(FaultyProvider::new(Arc::new(fast_password_provider()), plan.clone())))
        .store(Arc::new(FaultyStore::new(store, plan.clone())))
        .notifier(Arc::new(FaultyNotifier::new(Arc::new(RecordingNotifier::new()), plan.clone())))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let u = UserId::new("count").unwrap();
    orch.backup(backup(&u, b"one")).await.unwrap();
    plan.reset();
    orch.backup(backup(&u, b"two")).await.unwrap();
    plan.calls()
}

/// Runs the child until it pauses before call `n` (or finishes, for 0),
/// then kills it. Returns what the marker file said.
fn run_child_and_kill(dir: &Path, acks: &Path, user: &UserId, n: u64) -> String {
    let marker = dir.with_extension("marker");
    let _ = std::fs::remove_file(&marker);
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash-child"))
        .arg(dir)
        .arg(acks)
        .arg(user.as_str())
        .arg(n.to_string())
        .arg(&marker)
        .spawn()
        .expect("start the child");
    let deadline = Instant::now() + Duration::from_secs(120);
    let said = loop {
        if let Ok(s) = std::fs::read_to_string(&marker) {
            if !s.is_empty() {
                break s;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child exited with {status} before the marker (call {n})");
        }
        assert!(Instant::now() < deadline, "the child never reached call {n}");
        std::thread::sleep(Duration::from_millis(2));
    };
    child.kill().ok();
    child.wait().unwrap();
    said
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_before_any_call_of_the_protocol_loses_nothing() {
    let calls = protocol_calls().await;
    assert!(calls >= 7, "{calls}");
    for n in 0..=calls {
        let what = format!("killed before call {n}");
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("store");
        let acks = root.path().join("acks");
        let u = UserId::new(format!("user-{n}")).unwrap();
        let store: Arc<dyn CipherTextStore> = Arc::new(ObjectCipherTextStore::local_dir(&dir).unwrap());
        let orch = orchestrator(store, &acks);
        let prev = orch.backup(backup(&u, b"old share")).await.unwrap().backup_id;

        let said = run_child_and_kill(&dir, &acks, &u, n);
        assert_eq!(said.starts_with("done"), n == 0, "{what}: {said}");

        // A new process opens the same directory.
        let store: Arc<dyn CipherTextStore> = Arc::new(ObjectCipherTextStore::local_dir(&dir).unwrap());
        let orch = orchestrator(store.clone(), &acks);
        // Its first touch rolls an acknowledged but uncommitted version forward.
        orch.methods(&u).await.unwrap();
        let current = store.current(&(&u).into(), &M).await.unwrap().expect("a current backup").backup_id;
        let record = FileNotifier::read(&acks);
        let acked = FileNotifier::acknowledged(&record, &u, &M);
        for a in record.iter().filter(|a| a.success) {
            assert!(
                store.get(&(&u).into(), &M, a.backup_id).await.is_ok() || a.backup_id == prev,
                "{what}: {} acknowledged but not stored",
                a.backup_id
            );
        }
        if current == prev {
            assert!(store.get(&(&u).into(), &M, prev).await.is_ok(), "{what}: previous version destroyed");
            assert_eq!(recover(&orch, &u).await, b"old share", "{what}");
            if let Some(staged) = acked.filter(|a| *a != prev) {
                // Killed between the acknowledgement and the commit: finish it.
                orch.commit_staged(&u, &M, staged, Configs::new()).await.unwrap();
                assert_eq!(recover(&orch, &u).await, b"new share", "{what}");
            }
        } else {
            assert_eq!(acked, Some(current), "{what}: current but not acknowledged");
            assert_eq!(recover(&orch, &u).await, b"new share", "{what}");
        }
        // The next backup goes through over whatever the crash left.
        orch.backup(backup(&u, b"later share")).await.unwrap();
        assert_eq!(recover(&orch, &u).await, b"later share", "{what}");
    }
}
