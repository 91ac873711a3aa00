//! One side of the two-process prune race (`tests/tests/prune_race.rs`): a
//! backup that supersedes (and so prunes) a version, or a `commit_staged` of
//! that old version, on a shared store and a shared key directory (the
//! `keydir` provider keeps each data key in its own file, so a deleted key
//! is visible to every process).
//!
//! Configured by environment variables (set by the parent test):
//! `SB_PR_ROLE` (`backup`, `commit` or `prune`), `SB_PR_LOCATION` (`dir:<path>` or a
//! store URL), `SB_PR_OPTIONS` (the URL's options as JSON pairs),
//! `SB_PR_KEYS` (the key directory), `SB_PR_ACKS` (the wallet service's
//! file), `SB_PR_USER`, `SB_PR_SHARE` (hex, for `backup`), `SB_PR_ID` (the
//! version to commit, for `commit`), `SB_PR_PAUSE` (optional: a call label
//! such as `store.retire`, paused before its first occurrence),
//! `SB_PR_MARKER` (written `paused` once the pause is reached) and
//! `SB_PR_GO` (the pause ends once this file exists). Prints one line
//! `PRUNE-RACE ok <backup id>`, `PRUNE-RACE pruned <report>` or
//! `PRUNE-RACE err <kind>`.

use std::path::PathBuf;
use std::sync::Arc;

use share_backup_core::{BackupId, BackupShare, Configs, Registry, UserId};
use share_backup_example_keydir::{KeyDir, METHOD};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_orchestrator::testing::{Fault, FaultPlan, FaultyNotifier, FaultyProvider, FaultyStore, Gate};
use share_backup_orchestrator::{BackupRequest, Orchestrator, RetryPolicy};
use share_backup_tests::FileNotifier;

fn env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("the parent sets {var}"))
}

/// The store at `location` (`dir:<path>`, or a URL with JSON `options`).
fn open_store(location: &str, options: &str) -> ObjectCipherTextStore {
    if let Some(dir) = location.strip_prefix("dir:") {
        ObjectCipherTextStore::local_dir(dir).expect("the store directory")
    } else {
        share_backup_object_store::install_default_crypto_provider();
        let options: Vec<(String, String)> = serde_json::from_str(options).expect("JSON option pairs");
        ObjectCipherTextStore::from_url(location, options).expect("a store from the URL")
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let plan = FaultPlan::new();
    let gate = Gate::new();
    // The pause labels the parent may name (the plan wants 'static labels).
    let pause = std::env::var("SB_PR_PAUSE").ok().map(|p| match p.as_str() {
        "store.retire" => "store.retire",
        "store.commit" => "store.commit",
        "provider.delete_key" => "provider.delete_key",
        other => panic!("unknown pause label {other}"),
    });
    if let Some(label) = pause {
        plan.set_at_label(label, 1, Fault::Pause(gate.clone()));
        let (marker, go) = (PathBuf::from(env("SB_PR_MARKER")), PathBuf::from(env("SB_PR_GO")));
        let gate = gate.clone();
        tokio::spawn(async move {
            gate.wait_reached().await;
            std::fs::write(&marker, "paused").expect("write the marker");
            // The parent's go file is the gate between the two processes.
            while !go.exists() {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            gate.open();
        });
    }
    let store = open_store(&env("SB_PR_LOCATION"), &std::env::var("SB_PR_OPTIONS").unwrap_or_default());
    let orch = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(FaultyProvider::new(Arc::new(KeyDir::new(env("SB_PR_KEYS"))), plan.clone())))
        .store(Arc::new(FaultyStore::new(Arc::new(store), plan.clone())))
        .notifier(Arc::new(FaultyNotifier::new(Arc::new(FileNotifier::new(env("SB_PR_ACKS"))), plan.clone())))
        .retry(RetryPolicy::none())
        .build()
        .expect("an orchestrator");
    let user = UserId::new(env("SB_PR_USER")).expect("a user id");
    let r = match env("SB_PR_ROLE").as_str() {
        "backup" => {
            let share = BackupShare::new(hex::decode(env("SB_PR_SHARE")).expect("hex")).expect("a share");
            orch.backup(BackupRequest::new(user, share).with_method(METHOD.clone())).await
        }
        "commit" => {
            let id: BackupId = env("SB_PR_ID").parse().expect("a backup id");
            orch.commit_staged(&user, &METHOD, id, Configs::new()).await
        }
        "prune" => match orch.prune(&user, &METHOD, Configs::new()).await {
            Ok(report) => {
                println!("PRUNE-RACE pruned removed={:?} failed={:?}", report.removed, report.failed);
                return;
            }
            Err(e) => Err(e),
        },
        other => panic!("unknown role {other}"),
    };
    match r {
        Ok(receipt) => println!("PRUNE-RACE ok {}", receipt.backup_id),
        Err(e) => println!("PRUNE-RACE err {} {}", e.kind().name(), format!("{e:#}").replace('\n', " | ")),
    }
}
