//! The process the crash tests kill: one backup through the real protocol
//! on a local-directory store, paused for good before call N of the
//! protocol, so that the parent can kill it exactly there.
//!
//! Usage: `crash-child <store dir> <acks file> <user> <N> <marker file>`.
//! Writes `paused` to the marker file once it waits before call N (N = 0:
//! never pauses), or `done <backup id>` when the backup finished.

use std::sync::Arc;

use share_backup_core::{BackupShare, MethodId, Registry, UserId};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_orchestrator::testing::{Fault, FaultPlan, FaultyNotifier, FaultyProvider, FaultyStore, Gate};
use share_backup_orchestrator::{BackupRequest, Orchestrator, RetryPolicy};
use share_backup_password::PasswordConfig;
use share_backup_tests::{FileNotifier, fast_password_provider};

/// The password the crash tests use.
const PASSWORD: &str = "tangerine vortex 91 quietly marble";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, acks, user, n, marker] = args.as_slice() else {
        eprintln!("usage: crash-child <store dir> <acks file> <user> <N> <marker file>");
        std::process::exit(2);
    };
    let n: u64 = n.parse().expect("N is a number");
    let plan = FaultPlan::new();
    let gate = Gate::new();
    if n > 0 {
        plan.set(n, Fault::Pause(gate.clone()));
    }
    let store = ObjectCipherTextStore::local_dir(dir).expect("the store directory");
    let orch = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(FaultyProvider::new(Arc::new(fast_password_provider()), plan.clone())))
        .store(Arc::new(FaultyStore::new(Arc::new(store), plan.clone())))
        .notifier(Arc::new(FaultyNotifier::new(Arc::new(FileNotifier::new(acks)), plan.clone())))
        .retry(RetryPolicy::none())
        .build()
        .expect("an orchestrator");
    let marker_path = marker.clone();
    tokio::spawn(async move {
        gate.wait_reached().await;
        std::fs::write(&marker_path, "paused").expect("write the marker");
    });
    let req = BackupRequest::new(UserId::new(user).expect("a user id"), BackupShare::from_slice(b"new share").unwrap())
        .with_method(MethodId::PASSWORD)
        .with_config(PasswordConfig::new(PASSWORD));
    match orch.backup(req).await {
        Ok(receipt) => std::fs::write(marker, format!("done {}", receipt.backup_id)).expect("write the marker"),
        Err(e) => {
            eprintln!("backup failed: {e:#}");
            std::process::exit(1);
        }
    }
}
