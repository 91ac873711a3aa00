//! The Drive provider under the orchestrator (store-then-notify), on the
//! fake Drive: the default method, the requests a whole backup costs, and
//! what a Drive outage leaves behind.

use std::sync::Arc;
use std::time::Duration;

use share_backup_core::{BackupShare, ErrorKind, ExposeSecret, MethodId, Registry, UserId};
use share_backup_fake_drive::{DEFAULT_TOKEN, FakeDrive, Fault};
use share_backup_gdrive::{DEFAULT_RETRY, DriveConfig, DriveProvider};
use share_backup_orchestrator::{BackupRequest, MemoryStore, Orchestrator, RecordingNotifier, RecoverRequest};

struct World {
    fake: FakeDrive,
    orch: Orchestrator,
    notifier: RecordingNotifier,
}

async fn world() -> World {
    world_with(|b| b).await
}

async fn world_with(
    f: impl FnOnce(share_backup_orchestrator::OrchestratorBuilder) -> share_backup_orchestrator::OrchestratorBuilder,
) -> World {
    let fake = FakeDrive::start().await.unwrap();
    let retry = DEFAULT_RETRY.with_max_retries(2).with_min_delay(Duration::from_millis(1));
    let p = DriveProvider::builder().endpoint(fake.root_url()).retry(retry).build().unwrap();
    let notifier = RecordingNotifier::new();
    let orch = f(Orchestrator::builder()
        .registry(Registry::empty().with_provider(Arc::new(p)))
        .store(Arc::new(MemoryStore::new()))
        .notifier(Arc::new(notifier.clone()))
        .prune_grace(share_backup_orchestrator::MIN_PRUNE_GRACE))
    .build()
    .unwrap();
    World { fake, orch, notifier }
}

fn backup(user: &UserId, share: &[u8]) -> BackupRequest {
    BackupRequest::new(user.clone(), BackupShare::from_slice(share).unwrap())
        .with_config(DriveConfig::access_token(DEFAULT_TOKEN))
}

fn recover(user: &UserId) -> RecoverRequest {
    RecoverRequest::new(user.clone()).with_config(DriveConfig::access_token(DEFAULT_TOKEN))
}

#[tokio::test]
async fn gdrive_is_the_default_method_and_a_backup_costs_probe_upload_and_read_back() {
    let w = world().await;
    let user = UserId::new("user-1").unwrap();
    let receipt = w.orch.backup(backup(&user, b"share one")).await.unwrap();
    assert_eq!(receipt.method, MethodId::GDRIVE);
    assert_eq!(w.notifier.acknowledged(&user, &MethodId::GDRIVE), Some(receipt.backup_id));
    let lines: Vec<String> = w.fake.requests().iter().map(|r| r.line()).collect();
    assert_eq!(lines.len(), 3, "probe, upload, read-back: {lines:?}");
    assert_eq!(lines[1], "POST /upload/drive/v3/files");
    assert!(lines[2].starts_with("GET /drive/v3/files/"), "{lines:?}");
    w.fake.clear_requests();
    let back = w.orch.recover(recover(&user)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"share one");
    assert_eq!(w.fake.request_count(), 1, "a recovery is one Drive request");
}

#[tokio::test]
async fn a_new_backup_prunes_the_superseded_key_file_only_after_it_is_current() {
    let w = world().await;
    let user = UserId::new("user-2").unwrap();
    let first = w.orch.backup(backup(&user, b"old share")).await.unwrap();
    let second = w.orch.backup(backup(&user, b"new share")).await.unwrap();
    assert_eq!(second.previous, Some(first.backup_id));
    assert_eq!(second.pruned, vec![first.backup_id]);
    let keys = w.fake.files();
    assert_eq!(keys.len(), 1, "the superseded key file is deleted: {keys:?}");
    let back = w.orch.recover(recover(&user)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"new share");
}

#[tokio::test]
async fn a_drive_outage_fails_the_backup_and_keeps_the_previous_one() {
    let w = world().await;
    let user = UserId::new("user-3").unwrap();
    let first = w.orch.backup(backup(&user, b"kept share")).await.unwrap();
    w.fake.inject_n(Fault::ServiceUnavailable, 100);
    let e = w.orch.backup(backup(&user, b"lost share")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e:#}");
    assert_eq!(w.notifier.acknowledged(&user, &MethodId::GDRIVE), Some(first.backup_id));
    w.fake.clear_faults();
    let back = w.orch.recover(recover(&user)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"kept share");
    assert_eq!(w.fake.files().len(), 1);
}

#[tokio::test]
async fn a_backup_without_the_appdata_scope_is_refused_before_any_upload() {
    let w = world().await;
    w.fake.add_token("file-only", &[share_backup_fake_drive::Scope::File]);
    let user = UserId::new("user-4").unwrap();
    let req = BackupRequest::new(user.clone(), BackupShare::from_slice(b"s").unwrap())
        .with_config(DriveConfig::access_token("file-only"));
    let e = w.orch.backup(req).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::PermissionDenied);
    assert!(w.fake.files().is_empty());
    assert_eq!(w.fake.request_count(), 1, "the probe caught it");
    assert_eq!(w.notifier.acknowledged(&user, &MethodId::GDRIVE), None);
}

#[tokio::test]
async fn without_read_back_a_backup_costs_probe_and_upload_and_still_recovers() {
    let w = world_with(|b| b.read_back(false)).await;
    let user = UserId::new("user-5").unwrap();
    let receipt = w.orch.backup(backup(&user, b"share five")).await.unwrap();
    let lines: Vec<String> = w.fake.requests().iter().map(|r| r.line()).collect();
    assert_eq!(lines.len(), 2, "probe and upload only: {lines:?}");
    assert_eq!(lines[1], "POST /upload/drive/v3/files");
    assert_eq!(w.notifier.acknowledged(&user, &MethodId::GDRIVE), Some(receipt.backup_id));
    let back = w.orch.recover(recover(&user)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"share five");
}
