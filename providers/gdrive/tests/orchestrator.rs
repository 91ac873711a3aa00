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
async fn gdrive_is_the_default_method_and_a_backup_is_one_request_and_a_recovery_one() {
    let w = world().await;
    let user = UserId::new("user-1").unwrap();
    let receipt = w.orch.backup(backup(&user, b"share one")).await.unwrap();
    assert_eq!(receipt.method, MethodId::GDRIVE);
    assert_eq!(w.notifier.acknowledged(&user, &MethodId::GDRIVE), Some(receipt.backup_id));
    let log = w.fake.requests();
    let lines: Vec<String> = log.iter().map(|r| r.line()).collect();
    assert_eq!(lines, vec!["POST /upload/drive/v3/files"], "the upload is the probe and proves what landed");
    assert_eq!(log[0].param("fields"), Some("id,md5Checksum,size"));
    w.fake.clear_requests();
    let back = w.orch.recover(recover(&user)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"share one");
    assert_eq!(w.fake.request_count(), 1, "a recovery is one Drive request");
}

/// Records how many Drive requests were made when the acknowledgement went out.
#[derive(Debug)]
struct CountingNotifier {
    fake: Arc<FakeDrive>,
    at_ack: std::sync::Mutex<Vec<usize>>,
}

#[share_backup_core::async_trait]
impl share_backup_orchestrator::Notifier for CountingNotifier {
    async fn stored_client_backup_share(
        &self,
        _user: &UserId,
        _method: &MethodId,
        _backup_id: share_backup_core::BackupId,
        success: bool,
    ) -> share_backup_core::Result<()> {
        assert!(success);
        self.at_ack.lock().unwrap().push(self.fake.request_count());
        Ok(())
    }
}

#[tokio::test]
async fn a_replacing_backup_is_acknowledged_after_one_request_and_prunes_afterwards() {
    let fake = Arc::new(FakeDrive::start().await.unwrap());
    let p = DriveProvider::builder().endpoint(fake.root_url()).build().unwrap();
    let notifier = Arc::new(CountingNotifier { fake: fake.clone(), at_ack: Default::default() });
    let orch = Orchestrator::builder()
        .registry(Registry::empty().with_provider(Arc::new(p)))
        .store(Arc::new(MemoryStore::new()))
        .notifier(notifier.clone())
        .prune_grace(share_backup_orchestrator::MIN_PRUNE_GRACE)
        .build()
        .unwrap();
    let user = UserId::new("user-6").unwrap();
    orch.backup(backup(&user, b"old")).await.unwrap();
    fake.clear_requests();
    notifier.at_ack.lock().unwrap().clear();
    let second = orch.backup(backup(&user, b"new")).await.unwrap();
    assert_eq!(second.pruned.len(), 1);
    assert_eq!(*notifier.at_ack.lock().unwrap(), vec![1], "acknowledged after the upload alone");
    let lines: Vec<String> = fake.requests().iter().map(|r| r.line()).collect();
    assert_eq!(lines[0], "POST /upload/drive/v3/files");
    assert!(lines[1..].iter().all(|l| !l.starts_with("POST")), "only the prune follows: {lines:?}");
    assert_eq!(fake.files().len(), 1);
}

#[tokio::test]
async fn an_upload_whose_answer_does_not_match_the_bytes_sent_is_never_acknowledged() {
    let w = world().await;
    let user = UserId::new("user-7").unwrap();
    let first = w.orch.backup(backup(&user, b"kept share")).await.unwrap();
    // Drive stores other bytes than were sent (damaged on the way).
    w.fake.damage_next_upload();
    let e = w.orch.backup(backup(&user, b"lost share")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Integrity, "{e:#}");
    assert!(e.message().contains("other bytes"), "{e}");
    assert_eq!(w.notifier.acknowledged(&user, &MethodId::GDRIVE), Some(first.backup_id));
    let back = w.orch.recover(recover(&user)).await.unwrap();
    assert_eq!(back.share().expose_secret(), b"kept share");
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
    assert_eq!(w.fake.request_count(), 1, "the refused upload itself caught it, with no separate probe");
    assert_eq!(w.notifier.acknowledged(&user, &MethodId::GDRIVE), None);
}

#[tokio::test]
async fn a_refused_upload_gives_the_typed_error_and_false_as_the_probe_did() {
    let w = world().await;
    w.fake.revoke_token(DEFAULT_TOKEN);
    let user = UserId::new("user-5").unwrap();
    let e = w.orch.backup(backup(&user, b"share five")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated, "{e:#}");
    assert!(w.fake.files().is_empty());
    let told: Vec<bool> = w.notifier.notifications().iter().map(|n| n.success).collect();
    assert_eq!(told, vec![false], "the wallet service hears false, never true");
}

#[tokio::test]
async fn a_first_folder_mode_backup_looks_the_folder_up_once() {
    let fake = FakeDrive::start().await.unwrap();
    let p = DriveProvider::builder().endpoint(fake.root_url()).visible_folder("Wallet backup").build().unwrap();
    let orch = Orchestrator::builder()
        .registry(Registry::empty().with_provider(Arc::new(p)))
        .store(Arc::new(MemoryStore::new()))
        .notifier(Arc::new(RecordingNotifier::new()))
        .build()
        .unwrap();
    let user = UserId::new("user-8").unwrap();
    orch.backup(backup(&user, b"share eight")).await.unwrap();
    let lines: Vec<String> = fake.requests().iter().map(|r| r.line()).collect();
    assert_eq!(lines, vec!["GET /drive/v3/files", "POST /drive/v3/files", "POST /upload/drive/v3/files"]);
}
