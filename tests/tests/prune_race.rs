//! The two-process prune race (issue 13, item 1): process B backs up a new
//! version and prunes the one it superseded while process A commits that
//! old version again (`commit_staged`), on one store and one key directory,
//! on a local directory and on moto's S3 server.
//!
//! The race is forced at its worst point with gates, not timing: B runs
//! until it has committed its version and decided to prune the old one, and
//! pauses just before retiring it (`store.retire`); A runs until it has
//! recorded and acknowledged the old version, and pauses just before its
//! commit (`store.commit`). Both wait on a go file of their own (see
//! `src/bin/prune-race-child.rs`). The parent then lets one through to the
//! end, then the other, in both orders:
//!
//! - B first: B retires the old version, deletes its key and its envelope;
//!   A's commit must then be refused (`Conflict`, also when the envelope
//!   is already gone) and A acknowledges the winner again.
//! - A first: A makes the old version current again (and prunes B's);
//!   B's retire must then be refused, so the old version's key survives.
//!
//! The issue's own case runs too (local directory only, the version aged by
//! its file's time): a version staged but beaten by another backup,
//! committed by `commit_staged` in A while `prune()` in B, past the grace,
//! removes it; same gates, same orders.
//!
//! Either way, a fresh process afterwards finds a current version whose
//! envelope and key are both there and recovers its share, and the wallet
//! service's last word names that version. With the old order of pruning
//! (key first, then a re-check) the "A first" case ends with a current,
//! acknowledged envelope whose key is deleted.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use share_backup_core::{BackupId, BackupShare, ExposeSecret, Registry, UserId};
use share_backup_example_keydir::{KeyDir, METHOD};
use share_backup_orchestrator::testing::{Fault, FaultPlan, FaultyStore, Gate};
use share_backup_orchestrator::{BackupRequest, CipherTextStore, Orchestrator, RecoverRequest};
use share_backup_tests::{Backend, FileNotifier, backend, unique};

const FIRST: &[u8] = b"first share";
const SECOND: &[u8] = b"second share";

fn orchestrator(store: Arc<dyn CipherTextStore>, keys: &Path, acks: &Path) -> Orchestrator {
    Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(KeyDir::new(keys)))
        .store(store)
        .notifier(Arc::new(FileNotifier::new(acks)))
        .build()
        .unwrap()
}

struct Side {
    child: Child,
    marker: PathBuf,
    go: PathBuf,
}

impl Drop for Side {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

enum Role {
    Backup(&'static [u8]),
    Commit(BackupId),
    Prune,
}

struct Env<'a> {
    b: &'a Backend,
    root: &'a Path,
    user: &'a UserId,
}

fn spawn(e: &Env<'_>, name: &str, role: &Role, pause: &str) -> Side {
    let (marker, go) = (e.root.join(format!("{name}.marker")), e.root.join(format!("{name}.go")));
    let location = match e.b.dir() {
        Some(dir) => format!("dir:{}", dir.display()),
        None => e.b.url.clone(),
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prune-race-child"));
    cmd.env("SB_PR_LOCATION", location)
        .env("SB_PR_OPTIONS", serde_json::to_string(&e.b.options).unwrap())
        .env("SB_PR_KEYS", e.root.join("keys"))
        .env("SB_PR_ACKS", e.root.join("acks"))
        .env("SB_PR_USER", e.user.as_str())
        .env("SB_PR_PAUSE", pause)
        .env("SB_PR_MARKER", &marker)
        .env("SB_PR_GO", &go)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match role {
        Role::Backup(share) => cmd.env("SB_PR_ROLE", "backup").env("SB_PR_SHARE", hex::encode(share)),
        Role::Commit(id) => cmd.env("SB_PR_ROLE", "commit").env("SB_PR_ID", id.to_hex()),
        Role::Prune => cmd.env("SB_PR_ROLE", "prune"),
    };
    let mut side = Side { child: cmd.spawn().expect("start the child"), marker, go };
    // Wait until the child is paused at its gate (a hang guard, not a timer).
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::read_to_string(&side.marker).map_or(true, |s| s != "paused") {
        if let Some(status) = side.child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut s) = side.child.stderr.take() {
                std::io::Read::read_to_string(&mut s, &mut err).ok();
            }
            panic!("{name} exited with {status} before its pause at {pause}: {err}");
        }
        assert!(Instant::now() < deadline, "{name} never reached {pause}");
        std::thread::sleep(Duration::from_millis(2));
    }
    side
}

/// Lets the side through its gate and returns its outcome line.
fn release(mut side: Side, name: &str) -> String {
    std::fs::write(&side.go, b"").unwrap();
    let child = std::mem::replace(&mut side.child, Command::new("true").spawn().unwrap());
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name} failed: {stdout} {stderr}");
    let line = stdout.lines().find(|l| l.starts_with("PRUNE-RACE ")).unwrap_or_else(|| panic!("{name}: {stdout}"));
    line.trim_start_matches("PRUNE-RACE ").to_owned()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum First {
    Pruner,
    Committer,
}

async fn prune_race_on(b: &Backend, first: First) {
    let root = tempfile::tempdir().unwrap();
    let user = UserId::new(unique("prune-race")).unwrap();
    let (keys, acks) = (root.path().join("keys"), root.path().join("acks"));
    let old = {
        let orch = orchestrator(b.store.clone(), &keys, &acks);
        let share = BackupShare::from_slice(FIRST).unwrap();
        orch.backup(BackupRequest::new(user.clone(), share).with_method(METHOD.clone())).await.unwrap().backup_id
    };
    let e = Env { b, root: root.path(), user: &user };
    // B: backs up SECOND (superseding `old`), paused before retiring `old`.
    let pruner = spawn(&e, "pruner", &Role::Backup(SECOND), "store.retire");
    // A: commits `old` again, paused after acknowledging it, before its commit.
    let committer = spawn(&e, "committer", &Role::Commit(old), "store.commit");
    let (pruned, committed) = match first {
        First::Pruner => {
            let p = release(pruner, "pruner");
            (p, release(committer, "committer"))
        }
        First::Committer => {
            let c = release(committer, "committer");
            (release(pruner, "pruner"), c)
        }
    };
    let what = format!("{} ({first:?} first): pruner said {pruned:?}, committer said {committed:?}", b.name);
    let new: BackupId = pruned.strip_prefix("ok ").unwrap_or_else(|| panic!("{what}")).parse().unwrap();
    match first {
        // Refused, and the winner acknowledged again.
        First::Pruner => assert!(committed.starts_with("err conflict"), "{what}"),
        First::Committer => assert_eq!(committed, format!("ok {old}"), "{what}"),
    }

    // A fresh process: its first touch settles the namespace, then the
    // current version must have its envelope and its key.
    let store: Arc<dyn CipherTextStore> = Arc::new(b.reopen().unwrap());
    let orch = orchestrator(store.clone(), &keys, &acks);
    orch.methods(&user).await.unwrap();
    let current = store.current(&(&user).into(), &METHOD).await.unwrap().expect("a current version").backup_id;
    let (expected_id, expected_share) = match first {
        First::Pruner => (new, SECOND),
        First::Committer => (old, FIRST),
    };
    assert_eq!(current, expected_id, "{what}");
    let recovered = orch.recover(RecoverRequest::new(user.clone()).with_method(METHOD.clone())).await;
    let recovered = recovered.unwrap_or_else(|err| panic!("{what}: the current version does not recover: {err:#}"));
    assert_eq!(recovered.share().expose_secret(), expected_share, "{what}");
    let heard = FileNotifier::read(&acks);
    assert_eq!(FileNotifier::acknowledged(&heard, &user, &METHOD), Some(current), "{what}: the wallet's last word");
    // And the namespace keeps working.
    let share = BackupShare::from_slice(b"third share").unwrap();
    orch.backup(BackupRequest::new(user.clone(), share).with_method(METHOD.clone())).await.unwrap();
    let r = orch.recover(RecoverRequest::new(user.clone()).with_method(METHOD.clone())).await.unwrap();
    assert_eq!(r.share().expose_secret(), b"third share", "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_racing_a_commit_of_the_pruned_version_in_another_process_never_leaves_a_current_version_without_its_key_on_a_local_directory()
 {
    for first in [First::Pruner, First::Committer] {
        prune_race_on(&backend("local").unwrap(), first).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_racing_a_commit_of_the_pruned_version_in_another_process_never_leaves_a_current_version_without_its_key_on_s3()
 {
    for first in [First::Pruner, First::Committer] {
        let Some(b) = backend("s3") else { return };
        prune_race_on(&b, first).await;
    }
}

/// Sets the modification time of the file under `root` whose bytes are
/// `content` (a local-directory version object) `age` into the past.
fn backdate_file(root: &Path, content: &str, age: Duration) -> bool {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path).is_ok_and(|b| b == content.as_bytes()) {
                let f = std::fs::File::options().write(true).open(&path).unwrap();
                f.set_modified(std::time::SystemTime::now() - age).unwrap();
                return true;
            }
        }
    }
    false
}

/// The issue's own case, as far as it can still arise: a version that
/// was staged but lost to another backup (so a later version is current
/// and it may be pruned once past the grace), committed by `commit_staged`
/// in process A while `prune()` in process B removes it. (Since
/// acknowledgement records are create-only per version they are made over,
/// a racing backup is refused its record before it tells `true`; only an
/// abandoned record, older than the prune grace, is taken over.)
/// Local directory only: the version is aged by its file's modification
/// time (moto's objects cannot be backdated, and the grace is at least a
/// minute).
async fn staged_prune_race_on_local(first: First) {
    let b = backend("local").unwrap();
    let root = tempfile::tempdir().unwrap();
    let user = UserId::new(unique("staged-race")).unwrap();
    let (keys, acks) = (root.path().join("keys"), root.path().join("acks"));
    let orch = orchestrator(b.store.clone(), &keys, &acks);
    let backup = |share: &'static [u8]| BackupRequest::new(user.clone(), BackupShare::from_slice(share).unwrap());
    let zero = orch.backup(backup(b"zero share").with_method(METHOD.clone())).await.unwrap().backup_id;
    // X and Y back up at once over `zero`. X stages its version and pauses
    // before its acknowledgement record; Y records, acknowledges and commits
    // first; X's record is then refused and X lost, telling nothing.
    let x_plan = FaultPlan::new();
    let x_record = Gate::new();
    x_plan.set_at_label("store.record_acknowledgement", 1, Fault::Pause(x_record.clone()));
    let x = orchestrator(Arc::new(FaultyStore::new(b.store.clone(), x_plan)), &keys, &acks);
    let xreq = backup(FIRST).with_method(METHOD.clone());
    let x_task = tokio::spawn(async move { x.backup(xreq).await });
    x_record.wait_reached().await;
    let y_receipt = orch.backup(backup(SECOND).with_method(METHOD.clone())).await.unwrap();
    assert_eq!((y_receipt.previous, y_receipt.pruned.clone()), (Some(zero), vec![zero]));
    let new = y_receipt.backup_id;
    x_record.open();
    let x_err = x_task.await.unwrap().unwrap_err();
    assert_eq!(x_err.kind(), &share_backup_core::ErrorKind::Conflict, "{x_err}");
    let versions = b.store.versions(&(&user).into(), &METHOD).await.unwrap();
    let staged: Vec<BackupId> = versions.iter().map(|v| v.backup_id).filter(|id| *id != new).collect();
    let [staged] = staged[..] else { panic!("expected X's version only beside Y's: {versions:?}") };
    let heard = FileNotifier::read(&acks);
    assert!(!heard.iter().any(|a| a.backup_id == staged), "X, the loser, told the wallet service nothing");
    let text = b.store.get(&(&user).into(), &METHOD, staged).await.unwrap();
    assert!(backdate_file(b.dir().unwrap(), &text, Duration::from_secs(7200)), "X's version file");

    let e = Env { b: &b, root: root.path(), user: &user };
    // B: prune(), paused before retiring X's version; A: commit_staged of it.
    let pruner = spawn(&e, "pruner", &Role::Prune, "store.retire");
    let committer = spawn(&e, "committer", &Role::Commit(staged), "store.commit");
    let (pruned, committed) = match first {
        First::Pruner => {
            let p = release(pruner, "pruner");
            (p, release(committer, "committer"))
        }
        First::Committer => {
            let c = release(committer, "committer");
            (release(pruner, "pruner"), c)
        }
    };
    let what = format!("staged ({first:?} first): pruner said {pruned:?}, committer said {committed:?}");
    let (expected_id, expected_share) = match first {
        First::Pruner => {
            assert_eq!(pruned, format!("pruned removed=[{staged:?}] failed=[]"), "{what}");
            assert!(committed.starts_with("err conflict"), "{what}");
            (new, SECOND)
        }
        First::Committer => {
            assert_eq!(committed, format!("ok {staged}"), "{what}");
            assert_eq!(pruned, format!("pruned removed=[] failed=[{staged:?}]"), "{what}");
            (staged, FIRST)
        }
    };
    let store: Arc<dyn CipherTextStore> = Arc::new(b.reopen().unwrap());
    let orch = orchestrator(store.clone(), &keys, &acks);
    orch.methods(&user).await.unwrap();
    let current = store.current(&(&user).into(), &METHOD).await.unwrap().expect("a current version").backup_id;
    assert_eq!(current, expected_id, "{what}");
    let r = orch.recover(RecoverRequest::new(user.clone()).with_method(METHOD.clone())).await;
    let r = r.unwrap_or_else(|err| panic!("{what}: the current version does not recover: {err:#}"));
    assert_eq!(r.share().expose_secret(), expected_share, "{what}");
    let heard = FileNotifier::read(&acks);
    assert_eq!(FileNotifier::acknowledged(&heard, &user, &METHOD), Some(current), "{what}: the wallet's last word");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_racing_a_commit_of_an_old_staged_version_that_lost_in_another_process_never_leaves_it_current_without_its_key()
 {
    for first in [First::Pruner, First::Committer] {
        staged_prune_race_on_local(first).await;
    }
}
