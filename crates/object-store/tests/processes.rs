//! Several processes on one local directory: the create-only commit records
//! let exactly one of them win, with no lock and no `PutMode::Update`.
//!
//! The test binary re-executes itself: with `SB_CHILD_DIR` set, the
//! `child_commit` test acts as one competing process.

use std::process::Command;

use share_backup_core::{BackupId, ErrorKind, MethodId, UserId};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_orchestrator::CipherTextStore;

fn id(n: u8) -> BackupId {
    BackupId::from_bytes([n; 16])
}

fn user() -> UserId {
    UserId::new("multi-process-user").unwrap()
}

/// One competing process (does nothing unless started by the parent test).
#[tokio::test]
async fn child_commit() {
    let Ok(dir) = std::env::var("SB_CHILD_DIR") else { return };
    let n: u8 = std::env::var("SB_CHILD_N").unwrap().parse().unwrap();
    let store = ObjectCipherTextStore::local_dir(&dir).unwrap();
    // Start together: wait for the parent's go file.
    let go = std::path::Path::new(&dir).join("go");
    while !go.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    match store.commit(&user().into(), &MethodId::PASSWORD, id(n), Some(id(100))).await {
        Ok(()) => println!("RESULT:WIN:{n}"),
        Err(e) if e.kind() == &ErrorKind::Conflict => println!("RESULT:CONFLICT:{n}"),
        Err(e) => println!("RESULT:ERROR:{n}:{e}"),
    }
}

#[tokio::test]
async fn concurrent_commits_from_separate_processes_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectCipherTextStore::local_dir(dir.path()).unwrap();
    let (u, m) = (user(), MethodId::PASSWORD);
    store.stage(&(&u).into(), &m, id(100), "sb1.base.envelope").await.unwrap();
    store.commit(&(&u).into(), &m, id(100), None).await.unwrap();
    const N: u8 = 6;
    for n in 1..=N {
        store.stage(&(&u).into(), &m, id(n), &format!("sb1.candidate.{n}")).await.unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (1..=N)
        .map(|n| {
            Command::new(&exe)
                .args(["child_commit", "--exact", "--nocapture", "--test-threads=1"])
                .env("SB_CHILD_DIR", dir.path())
                .env("SB_CHILD_N", n.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::fs::write(dir.path().join("go"), b"").unwrap();
    let mut winners = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let at = text.find("RESULT:").unwrap_or_else(|| panic!("no result from a child: {text}"));
        let line = text[at..].lines().next().unwrap().to_owned();
        assert!(!line.starts_with("RESULT:ERROR"), "{line}");
        if let Some(n) = line.strip_prefix("RESULT:WIN:") {
            winners.push(n.parse::<u8>().unwrap());
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(store.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(winners[0]));
}
