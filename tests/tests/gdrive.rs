//! The orchestrator with the real Google Drive provider (google-drive3)
//! against the repo's fake Drive v3 server on 127.0.0.1, and a real
//! local-directory store: the remote key is read back before the
//! acknowledgement, health checks reach the key, superseded keys are
//! deleted from the Drive only after the new backup is current.

use std::sync::Arc;
use std::time::Duration;

use share_backup_core::{BackupShare, Configs, ErrorKind, ExposeSecret, MethodId, Registry, UserId};
use share_backup_fake_drive::{FakeDrive, Scope};
use share_backup_gdrive::{DriveConfig, DriveProvider};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_orchestrator::{
    BackupRequest, CipherTextStore, KeyCheck, Orchestrator, RecordingNotifier, RecoverRequest, RetryPolicy,
    VerifyRequest,
};

const TOKEN: &str = "e2e-drive-access-token";
const M: MethodId = MethodId::GDRIVE;

struct World {
    _dir: tempfile::TempDir,
    fake: FakeDrive,
    store: Arc<ObjectCipherTextStore>,
    notifier: RecordingNotifier,
    orch: Orchestrator,
}

async fn world() -> World {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_token(TOKEN, Scope::ALL);
    let retry = share_backup_gdrive::DEFAULT_RETRY
        .with_min_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(2));
    let drive = DriveProvider::builder().endpoint(fake.root_url()).retry(retry).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ObjectCipherTextStore::local_dir(dir.path()).unwrap());
    let notifier = RecordingNotifier::new();
    let orch = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(drive))
        .store(store.clone())
        .notifier(Arc::new(notifier.clone()))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    World { _dir: dir, fake, store, notifier, orch }
}

fn token() -> Configs {
    Configs::new().with(DriveConfig::access_token(TOKEN))
}

fn backup(u: &UserId, share: &[u8]) -> BackupRequest {
    BackupRequest::new(u.clone(), BackupShare::from_slice(share).unwrap()).with_method(M).with_configs(token())
}

fn recover(u: &UserId) -> RecoverRequest {
    RecoverRequest::new(u.clone()).with_method(M).with_configs(token())
}

fn key_files(fake: &FakeDrive) -> Vec<String> {
    fake.files().into_iter().filter(|f| !f.is_folder()).map(|f| f.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drive_backup_is_one_upload_proved_by_its_answer_then_acknowledged_and_recovers() {
    let w = world().await;
    let u = UserId::new("drive-user").unwrap();
    let receipt = w.orch.backup(backup(&u, b"drive share")).await.unwrap();
    assert_eq!(receipt.method, M);
    assert_eq!(key_files(&w.fake).len(), 1);
    // One upload, whose answer (md5Checksum, size) proves what landed: no
    // separate probe, no read-back (the provider's write is verified).
    let log = w.fake.requests();
    let lines: Vec<String> = log.iter().map(|r| r.line()).collect();
    assert_eq!(lines, vec!["POST /upload/drive/v3/files"]);
    assert_eq!(log[0].param("fields"), Some("id,md5Checksum,size"));
    assert_eq!(w.notifier.acknowledged(&u, &M), Some(receipt.backup_id));
    let back = w.orch.recover(recover(&u)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"drive share");
    let report = w.orch.verify(VerifyRequest::new(u.clone(), M).with_configs(token())).await.unwrap();
    assert_eq!(report.key, KeyCheck::Opens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_superseded_drive_key_is_deleted_only_after_the_new_backup_is_current() {
    let w = world().await;
    let u = UserId::new("drive-user").unwrap();
    w.orch.backup(backup(&u, b"first")).await.unwrap();
    let first_files = key_files(&w.fake);
    assert_eq!(first_files.len(), 1);
    let second = w.orch.backup(backup(&u, b"second")).await.unwrap();
    let files = key_files(&w.fake);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_ne!(files, first_files, "the old key file is still there, or the new one is missing");
    assert_eq!(second.pruned.len(), 1);
    assert_eq!(w.orch.recover(recover(&u)).await.unwrap().share().expose_secret(), b"second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_deleted_from_the_drive_fails_the_health_check_and_recovery_as_not_found() {
    let w = world().await;
    let u = UserId::new("drive-user").unwrap();
    let receipt = w.orch.backup(backup(&u, b"share")).await.unwrap();
    for id in key_files(&w.fake) {
        assert!(w.fake.remove_file(&id));
    }
    let e = w.orch.verify(VerifyRequest::new(u.clone(), M).with_configs(token())).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound, "{e:#}");
    let e = w.orch.recover(recover(&u)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound, "{e:#}");
    // Nothing in the store changed: the envelope is still the current one.
    assert_eq!(w.store.current(&(&u).into(), &M).await.unwrap().unwrap().backup_id, receipt.backup_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_drive_key_fails_the_health_check_as_integrity() {
    let w = world().await;
    let u = UserId::new("drive-user").unwrap();
    w.orch.backup(backup(&u, b"share")).await.unwrap();
    let id = key_files(&w.fake).pop().unwrap();
    let mut content = w.fake.file(&id).unwrap().content.clone();
    let last = content.len() - 1;
    content[last] ^= 1;
    assert!(w.fake.set_content(&id, content));
    let e = w.orch.verify(VerifyRequest::new(u.clone(), M).with_configs(token())).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Integrity | ErrorKind::InvalidEnvelope), "{e:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_drive_scope_is_refused_before_anything_is_stored_and_told_false() {
    let w = world().await;
    w.fake.add_token("narrow-token", &[Scope::File]);
    let u = UserId::new("drive-user").unwrap();
    let req = BackupRequest::new(u.clone(), BackupShare::from_slice(b"s").unwrap())
        .with_method(M)
        .with_config(DriveConfig::access_token("narrow-token"));
    let e = w.orch.backup(req).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::PermissionDenied, "{e:#}");
    assert!(w.store.versions(&(&u).into(), &M).await.unwrap().is_empty());
    assert!(key_files(&w.fake).is_empty());
    let n = w.notifier.notifications();
    assert_eq!(n.len(), 1);
    assert!(!n[0].success);
}
