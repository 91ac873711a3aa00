//! The provider, through the real google-drive3 client, against the fake
//! Drive v3 server on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use share_backup_core::{
    BackupId, BackupProvider, BackupProviderExt, BackupShare, Configs, Context, CustodianId, ErrorKind, ExposeSecret,
    KeyHeader, ProgressSink, Registry, SecretString, Settings, Status, UserId, async_trait,
};
use share_backup_fake_drive::{APPDATA_ID, DEFAULT_TOKEN, FOLDER_MIME, FakeDrive, Fault, ROOT_ID, Scope, Space};
use share_backup_gdrive::{
    DEFAULT_RETRY, DriveConfig, DriveError, DriveProvider, FolderMode, RetryPolicy, SCOPE_APPDATA, SCOPE_FILE,
    TokenSource, needs_regrant,
};

fn fast_retry() -> RetryPolicy {
    DEFAULT_RETRY
        .with_max_retries(3)
        .with_min_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(4))
        .with_max_total_delay(Some(Duration::from_secs(5)))
}

fn provider(fake: &FakeDrive) -> DriveProvider {
    DriveProvider::builder().endpoint(fake.root_url()).retry(fast_retry()).build().unwrap()
}

fn folder_provider(fake: &FakeDrive, name: &str) -> DriveProvider {
    DriveProvider::builder().endpoint(fake.root_url()).visible_folder(name).retry(fast_retry()).build().unwrap()
}

fn ctx_with(user: &str, config: DriveConfig) -> Context {
    Context::new(UserId::new(user).unwrap(), BackupId::generate().unwrap())
        .with_custodian(CustodianId::new("acme-custody").unwrap())
        .with_configs(Configs::new().with(config))
}

fn ctx(user: &str) -> Context {
    ctx_with(user, DriveConfig::access_token(DEFAULT_TOKEN))
}

fn lines(fake: &FakeDrive) -> Vec<String> {
    fake.requests().iter().map(|r| r.line()).collect()
}

fn drive_error(e: &share_backup_core::Error) -> &DriveError {
    e.source_ref().and_then(|s| s.downcast_ref::<DriveError>()).expect("a DriveError source")
}

#[tokio::test]
async fn a_key_round_trips_through_the_appdata_folder() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("alice@example.com");
    let sealed = p.seal_key(&c).await.unwrap();
    let files = fake.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].space, Space::AppDataFolder);
    assert_eq!(files[0].parents, vec![APPDATA_ID.to_owned()]);
    assert_eq!(files[0].mime_type, "application/octet-stream");
    assert_eq!(files[0].content.len(), 68);
    let key = p.open_key(&sealed.header, &c).await.unwrap();
    assert!(key == sealed.key);
}

#[tokio::test]
async fn a_share_round_trips_through_an_envelope() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("bob");
    let share = BackupShare::new(vec![42; 1000]).unwrap();
    let (env, _) = p.seal_share(&share, &c).await.unwrap();
    let back = p.open_envelope(&env, &c).await.unwrap();
    assert_eq!(back.expose_secret(), share.expose_secret());
}

#[tokio::test]
async fn a_backup_is_one_multipart_request_and_a_recovery_one_get() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("carol");
    let sealed = p.seal_key(&c).await.unwrap();
    let log = fake.requests();
    assert_eq!(log.len(), 1, "{:?}", lines(&fake));
    assert_eq!(log[0].line(), "POST /upload/drive/v3/files");
    assert_eq!(log[0].param("uploadType"), Some("multipart"));
    assert_eq!(log[0].status, 200);
    fake.clear_requests();
    p.open_key(&sealed.header, &c).await.unwrap();
    let log = fake.requests();
    assert_eq!(log.len(), 1, "{:?}", lines(&fake));
    let id = &fake.files()[0].id;
    assert_eq!(log[0].line(), format!("GET /drive/v3/files/{id}"));
    assert_eq!(log[0].param("alt"), Some("media"));
}

#[tokio::test]
async fn recovery_falls_back_to_a_lookup_by_name_when_the_id_is_gone() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("dave");
    let sealed = p.seal_key(&c).await.unwrap();
    let old = fake.files()[0].id.clone();
    let new = fake.reissue_id(&old).unwrap();
    fake.clear_requests();
    let key = p.open_key(&sealed.header, &c).await.unwrap();
    assert!(key == sealed.key);
    let log = fake.requests();
    assert_eq!(
        lines(&fake),
        vec![format!("GET /drive/v3/files/{old}"), "GET /drive/v3/files".into(), format!("GET /drive/v3/files/{new}")]
    );
    assert_eq!(log[0].status, 404);
    let q = log[1].param("q").unwrap();
    assert!(q.starts_with("name = 'sb-") && q.contains("trashed = false"), "{q}");
    assert_eq!(log[1].param("spaces"), Some("appDataFolder"));
}

#[tokio::test]
async fn a_key_that_is_gone_for_good_is_not_found_with_a_hint() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("erin");
    let sealed = p.seal_key(&c).await.unwrap();
    assert!(fake.remove_file(&fake.files()[0].id));
    let e = p.open_key(&sealed.header, &c).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    assert!(e.hint().contains("Google account"), "{}", e.hint());
    // A trashed copy does not count either.
    let sealed = p.seal_key(&c).await.unwrap();
    let id = fake.files()[0].id.clone();
    let _ = fake.reissue_id(&id);
    fake.set_trashed(&fake.files()[0].id, true);
    assert_eq!(p.open_key(&sealed.header, &c).await.unwrap_err().kind(), &ErrorKind::NotFound);
}

#[tokio::test]
async fn every_backup_makes_a_new_file_and_keeps_the_previous_one() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c1 = ctx("frank");
    let c2 = c1.clone().with_backup_id(BackupId::generate().unwrap());
    let s1 = p.seal_key(&c1).await.unwrap();
    let s2 = p.seal_key(&c2).await.unwrap();
    let files = fake.files();
    assert_eq!(files.len(), 2);
    assert_ne!(files[0].id, files[1].id);
    assert_ne!(files[0].name, files[1].name);
    assert!(p.open_key(&s1.header, &c1).await.unwrap() == s1.key);
    assert!(p.open_key(&s2.header, &c2).await.unwrap() == s2.key);
    assert!(s1.key != s2.key);
    // No request ever updated or deleted a file.
    assert!(fake.requests().iter().all(|r| r.method == "POST" || r.method == "GET"));
}

#[tokio::test]
async fn delete_key_removes_the_file_and_copies_and_is_idempotent() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("grace");
    let keep = p.seal_key(&c.clone().with_backup_id(BackupId::generate().unwrap())).await.unwrap();
    // A 503 after the upload reached Drive makes the provider upload again: two copies.
    fake.inject_after_effect(Fault::ServiceUnavailable);
    let sealed = p.seal_key(&c).await.unwrap();
    assert_eq!(fake.files().len(), 3);
    assert!(p.open_key(&sealed.header, &c).await.unwrap() == sealed.key);
    p.delete_key(&sealed.header, &c).await.unwrap();
    assert_eq!(fake.files().len(), 1);
    assert_eq!(p.open_key(&sealed.header, &c).await.unwrap_err().kind(), &ErrorKind::NotFound);
    p.delete_key(&sealed.header, &c).await.unwrap();
    assert_eq!(fake.files().len(), 1, "the other backup's key stays");
    assert!(p.open_key(&keep.header, &c.clone().with_backup_id(BackupId::generate().unwrap())).await.is_ok());
}

#[tokio::test]
async fn delete_key_also_removes_a_copy_found_by_name() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("heidi");
    let sealed = p.seal_key(&c).await.unwrap();
    // The id in the header is gone, but the file came back under a new id.
    let _ = fake.reissue_id(&fake.files()[0].id);
    p.delete_key(&sealed.header, &c).await.unwrap();
    assert!(fake.files().is_empty());
}

#[tokio::test]
async fn transient_answers_are_retried_then_succeed() {
    for fault in [
        Fault::TooManyRequests,
        Fault::RateLimitExceeded,
        Fault::UserRateLimitExceeded,
        Fault::InternalError,
        Fault::BadGateway,
        Fault::ServiceUnavailable,
        Fault::GatewayTimeout,
    ] {
        let fake = FakeDrive::start().await.unwrap();
        let p = provider(&fake);
        let c = ctx("ivan");
        fake.inject_n(fault.clone(), 2);
        let sealed = p.seal_key(&c).await.unwrap_or_else(|e| panic!("{fault:?}: {e:#}"));
        assert_eq!(fake.request_count(), 3, "{fault:?}");
        fake.inject_n(fault.clone(), 3);
        fake.clear_requests();
        assert!(p.open_key(&sealed.header, &c).await.unwrap() == sealed.key, "{fault:?}");
        assert_eq!(fake.request_count(), 4, "{fault:?}");
    }
}

#[tokio::test]
async fn retries_are_bounded_and_end_in_a_typed_retryable_error() {
    let cases = [
        (Fault::TooManyRequests, ErrorKind::RateLimited),
        (Fault::RateLimitExceeded, ErrorKind::RateLimited),
        (Fault::UserRateLimitExceeded, ErrorKind::RateLimited),
        (Fault::InternalError, ErrorKind::Unavailable),
        (Fault::BadGateway, ErrorKind::Unavailable),
        (Fault::ServiceUnavailable, ErrorKind::Unavailable),
        (Fault::GatewayTimeout, ErrorKind::Unavailable),
    ];
    for (fault, kind) in cases {
        let fake = FakeDrive::start().await.unwrap();
        let p = provider(&fake);
        fake.inject_n(fault.clone(), 100);
        let e = p.seal_key(&ctx("judy")).await.unwrap_err();
        assert_eq!(e.kind(), &kind, "{fault:?}: {e:#}");
        assert!(e.retryable(), "{fault:?}");
        assert!(e.message().contains("after 4 attempts"), "{e}");
        assert_eq!(fake.request_count(), 4, "1 attempt + 3 retries for {fault:?}");
        assert!(fake.files().is_empty());
    }
}

#[tokio::test]
async fn retries_stop_at_the_total_time_bound() {
    let fake = FakeDrive::start().await.unwrap();
    let p = DriveProvider::builder()
        .endpoint(fake.root_url())
        .retry(
            DEFAULT_RETRY
                .with_max_retries(1000)
                .with_min_delay(Duration::from_millis(20))
                .with_max_delay(Duration::from_millis(20))
                .with_max_total_delay(Some(Duration::from_millis(100))),
        )
        .build()
        .unwrap();
    fake.inject_n(Fault::InternalError, 1000);
    let e = p.seal_key(&ctx("ken")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    // Each delay is 20 to 40 ms with jitter: at most 5 retries fit in 100 ms
    // (fewer on a loaded machine), far from the 1000 allowed.
    let n = fake.request_count();
    assert!((1..=6).contains(&n), "{n} requests");
}

#[tokio::test]
async fn a_slow_request_times_out_and_is_retried() {
    let fake = FakeDrive::start().await.unwrap();
    let p = DriveProvider::builder()
        .endpoint(fake.root_url())
        .retry(fast_retry().with_max_retries(1))
        .request_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    fake.set_latency(Duration::from_millis(300));
    let e = p.probe(&ctx("leo")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    assert!(e.message().contains("after 2 attempts"), "{e}");
}

/// A token source that hands out `old` first and `new` on refresh.
#[derive(Debug)]
struct Refreshing {
    refreshes: AtomicUsize,
}

#[async_trait]
impl TokenSource for Refreshing {
    async fn token(&self, _scopes: &[&str]) -> share_backup_core::Result<SecretString> {
        Ok(SecretString::from("old-token"))
    }
    async fn refresh(&self, scopes: &[&str]) -> share_backup_core::Result<SecretString> {
        assert_eq!(scopes, ["https://www.googleapis.com/auth/drive.appdata"]);
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Ok(SecretString::from("new-token"))
    }
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_token("old-token", Scope::ALL);
    fake.add_token("new-token", Scope::ALL);
    let p = provider(&fake);
    let src = Arc::new(Refreshing { refreshes: AtomicUsize::new(0) });
    let c = ctx_with("mallory", DriveConfig::from_source(src.clone()));
    fake.inject(Fault::Unauthorized);
    p.seal_key(&c).await.unwrap();
    let log = fake.requests();
    assert_eq!(log.len(), 2);
    assert_eq!((log[0].status, log[0].bearer.as_deref()), (401, Some("old-token")));
    assert_eq!((log[1].status, log[1].bearer.as_deref()), (200, Some("new-token")));
    assert_eq!(src.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_second_401_is_unauthenticated_without_more_refreshes() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let src = Arc::new(Refreshing { refreshes: AtomicUsize::new(0) });
    let c = ctx_with("niaj", DriveConfig::from_source(src.clone()));
    // Neither token is known to the fake.
    let e = p.seal_key(&c).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
    assert!(e.hint().contains("sign the user in"), "{}", e.hint());
    assert_eq!(fake.request_count(), 2);
    assert_eq!(src.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(drive_error(&e).status(), Some(401));
}

#[tokio::test]
async fn a_refused_static_token_is_unauthenticated_after_one_request() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let e = p.seal_key(&ctx_with("olivia", DriveConfig::access_token("ya29.expired-token"))).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
    assert_eq!(fake.request_count(), 1);
    assert!(!format!("{e:?} {e:#}").contains("expired-token"));
}

#[tokio::test]
async fn a_token_without_the_appdata_scope_is_permission_denied_with_a_regrant_hint() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_token("file-only", &[Scope::File]);
    let p = provider(&fake);
    let c = ctx_with("peggy", DriveConfig::access_token("file-only"));
    for e in [p.probe(&c).await.unwrap_err(), p.seal_key(&c).await.unwrap_err()] {
        assert_eq!(e.kind(), &ErrorKind::PermissionDenied, "{e:#}");
        assert!(e.to_string().contains("drive.appdata"), "{e}");
        assert!(e.hint().contains("grant"), "{}", e.hint());
        assert!(!e.retryable());
        assert_eq!(drive_error(&e).reason(), Some("insufficientPermissions"));
    }
    assert_eq!(fake.request_count(), 2, "scope errors are not retried");
}

#[tokio::test]
async fn an_injected_insufficient_permissions_403_is_not_retried() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("quentin");
    let sealed = p.seal_key(&c).await.unwrap();
    fake.clear_requests();
    fake.inject(Fault::InsufficientPermissions);
    let e = p.open_key(&sealed.header, &c).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::PermissionDenied);
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_full_drive_is_a_final_unavailable_error_that_says_so() {
    let fake = FakeDrive::start().await.unwrap();
    fake.set_quota_limit(Some(10));
    let p = provider(&fake);
    let e = p.seal_key(&ctx("rupert")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    assert!(!e.retryable());
    assert!(e.hint().contains("free space"), "{}", e.hint());
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_visible_folder_is_created_once_and_reused() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_token("file-scope", &[Scope::File]);
    let p = folder_provider(&fake, "My wallet's backup");
    let c = ctx_with("sybil", DriveConfig::access_token("file-scope"));
    let s1 = p.seal_key(&c).await.unwrap();
    assert_eq!(lines(&fake), vec!["GET /drive/v3/files", "POST /drive/v3/files", "POST /upload/drive/v3/files"]);
    let folders: Vec<_> = fake.files().into_iter().filter(|f| f.is_folder()).collect();
    assert_eq!(folders.len(), 1);
    assert_eq!(folders[0].name, "My wallet's backup");
    assert_eq!(folders[0].parents, vec![ROOT_ID.to_owned()]);
    assert_eq!(folders[0].mime_type, FOLDER_MIME);
    // Same provider: the folder id is cached, one request per backup.
    fake.clear_requests();
    let c2 = c.clone().with_backup_id(BackupId::generate().unwrap());
    let s2 = p.seal_key(&c2).await.unwrap();
    assert_eq!(lines(&fake), vec!["POST /upload/drive/v3/files"]);
    // Another process: finds the folder by name, creates none.
    let p2 = folder_provider(&fake, "My wallet's backup");
    fake.clear_requests();
    let c3 = c.clone().with_backup_id(BackupId::generate().unwrap());
    p2.seal_key(&c3).await.unwrap();
    assert_eq!(lines(&fake), vec!["GET /drive/v3/files", "POST /upload/drive/v3/files"]);
    let files = fake.files();
    assert_eq!(files.iter().filter(|f| f.is_folder()).count(), 1);
    assert!(files.iter().filter(|f| !f.is_folder()).all(|f| f.parents == vec![folders[0].id.clone()]));
    assert!(p2.open_key(&s1.header, &c).await.unwrap() == s1.key);
    assert!(p.open_key(&s2.header, &c2).await.unwrap() == s2.key);
}

#[tokio::test]
async fn a_deleted_folder_is_made_again() {
    let fake = FakeDrive::start().await.unwrap();
    let p = folder_provider(&fake, "Backups");
    let c = ctx("trent");
    p.seal_key(&c).await.unwrap();
    let folder = fake.files().into_iter().find(|f| f.is_folder()).unwrap();
    assert!(fake.remove_file(&folder.id));
    let c2 = c.clone().with_backup_id(BackupId::generate().unwrap());
    let s = p.seal_key(&c2).await.unwrap();
    assert!(p.open_key(&s.header, &c2).await.unwrap() == s.key);
    assert_eq!(fake.files().iter().filter(|f| f.is_folder()).count(), 1);
}

#[tokio::test]
async fn probe_is_one_request_and_creates_nothing() {
    let fake = FakeDrive::start().await.unwrap();
    provider(&fake).probe(&ctx("uma")).await.unwrap();
    folder_provider(&fake, "F").probe(&ctx("uma")).await.unwrap();
    assert_eq!(fake.request_count(), 2);
    assert!(fake.files().is_empty());
    let e = provider(&fake).probe(&ctx_with("uma", DriveConfig::access_token("bogus"))).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
}

#[tokio::test]
async fn a_call_without_a_token_says_to_pass_a_drive_config() {
    let fake = FakeDrive::start().await.unwrap();
    let c = Context::new(UserId::new("victor").unwrap(), BackupId::generate().unwrap());
    let e = provider(&fake).seal_key(&c).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
    assert!(e.hint().contains("DriveConfig"), "{}", e.hint());
    assert_eq!(fake.request_count(), 0);
}

#[tokio::test]
async fn file_names_carry_no_user_id() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    p.seal_key(&ctx("walter.white@example.com")).await.unwrap();
    let q = folder_provider(&fake, "Backups");
    q.seal_key(&ctx("walter.white@example.com")).await.unwrap();
    for f in fake.files() {
        assert!(!f.name.contains("walter") && !f.name.contains("example") && !f.name.contains("acme"), "{}", f.name);
    }
    for r in fake.requests() {
        assert!(r.query.iter().all(|(_, v)| !v.contains("walter")), "{r:?}");
    }
}

#[tokio::test]
async fn debug_and_errors_never_show_the_token_or_the_key() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_token("ya29.super-secret-token", Scope::ALL);
    let p = provider(&fake);
    let c = ctx_with("xavier", DriveConfig::access_token("ya29.super-secret-token"));
    let sealed = p.seal_key(&c).await.unwrap();
    let key_hex: String = sealed.key.expose_secret().iter().map(|b| format!("{b:02x}")).collect();
    fake.inject(Fault::InsufficientPermissions);
    let e = p.open_key(&sealed.header, &c).await.unwrap_err();
    let shown = format!("{p:?} {c:?} {sealed:?} {e:?} {e:#} {:?}", c.config::<DriveConfig>());
    assert!(!shown.contains("super-secret"), "{shown}");
    assert!(!shown.contains(&key_hex[..16]), "{shown}");
    assert!(shown.contains("[REDACTED]"));
}

#[tokio::test]
async fn progress_reports_generating_uploading_and_fetching() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let (sink, log) = ProgressSink::recording();
    let c = ctx("yvonne").with_progress(sink);
    let sealed = p.seal_key(&c).await.unwrap();
    let (sink2, log2) = ProgressSink::recording();
    p.open_key(&sealed.header, &c.clone().with_progress(sink2)).await.unwrap();
    let s: Vec<_> = log.lock().unwrap().iter().map(|e| e.status).collect();
    assert_eq!(s, vec![Status::Generating, Status::UploadingKey]);
    let s: Vec<_> = log2.lock().unwrap().iter().map(|e| e.status).collect();
    assert_eq!(s, vec![Status::FetchingKey]);
}

#[tokio::test]
async fn an_altered_key_file_is_an_integrity_error() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("zoe");
    let sealed = p.seal_key(&c).await.unwrap();
    let id = fake.files()[0].id.clone();
    for bad in [vec![0u8; 68], vec![1, 2, 3], vec![b'S'; 100_000]] {
        fake.set_content(&id, bad);
        let e = p.open_key(&sealed.header, &c).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Integrity, "{e:#}");
    }
}

#[tokio::test]
async fn a_key_file_replaced_in_drive_is_integrity_blaming_drive_not_the_store() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("yann");
    let share = share_backup_core::BackupShare::new(b"share".to_vec()).unwrap();
    let (env, _) = p.seal_share(&share, &c).await.unwrap();
    let id = fake.files()[0].id.clone();
    // A well-formed key file holding another key (another backup's file copied over it).
    let mut other = b"SBK1".to_vec();
    other.extend_from_slice(&[0x42; 64]);
    fake.set_content(&id, other);
    let e = p.open_envelope(&env, &c).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Integrity, "{e:#}");
    assert!(e.message().contains("Google Drive") && e.message().contains("replaced"), "{e}");
    assert!(e.hint().contains("Google Drive") && e.hint().contains("not at fault"), "{}", e.hint());
}

#[tokio::test]
async fn a_key_checked_against_its_header_is_confirmed_so_a_moved_envelope_blames_the_store() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("yves");
    let share = share_backup_core::BackupShare::new(b"share".to_vec()).unwrap();
    let (env, _) = p.seal_share(&share, &c).await.unwrap();
    assert!(p.open_key(env.key_header(), &c).await.unwrap().is_confirmed());
    let moved = c.clone().with_client(share_backup_core::ClientId::new("other-app").unwrap());
    let e = p.open_envelope(&env, &moved).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Integrity);
    assert!(e.message().contains("store"), "{e}");
}

#[tokio::test]
async fn delete_key_reads_every_page_of_the_lookup_by_name() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("paula");
    let sealed = p.seal_key(&c).await.unwrap();
    let id = fake.files()[0].id.clone();
    for _ in 0..150 {
        fake.copy_file(&id).unwrap();
    }
    p.delete_key(&sealed.header, &c).await.unwrap();
    assert!(fake.files().is_empty(), "{} copies left", fake.files().len());
    let lists = fake.requests().iter().filter(|r| r.line() == "GET /drive/v3/files").count();
    assert!(lists >= 2, "more than one page was read: {lists}");
}

#[tokio::test]
async fn an_upload_asks_for_and_checks_md5_and_size() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    let c = ctx("ursula");
    fake.damage_next_upload();
    let e = p.seal_key(&c).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Integrity, "{e:#}");
    assert_eq!(fake.request_count(), 1, "no second read");
    let sealed = p.seal_key(&c).await.unwrap();
    assert_eq!(fake.requests().last().unwrap().param("fields"), Some("id,md5Checksum,size"));
    assert!(p.open_key(&sealed.header, &c).await.unwrap() == sealed.key);
}

#[tokio::test]
async fn malformed_headers_are_invalid_envelopes_without_a_request() {
    let fake = FakeDrive::start().await.unwrap();
    let p = provider(&fake);
    for h in [vec![], vec![2, 0, 1, b'a', 1, b'b'], vec![1, 0, 1, b'a', 1, b'B'], b"../../etc".to_vec()] {
        let e = p.open_key(&KeyHeader::new(h).unwrap(), &ctx("amy")).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidEnvelope);
    }
    assert_eq!(fake.request_count(), 0);
}

#[tokio::test]
async fn the_registry_builds_the_provider_from_settings() {
    let fake = FakeDrive::start().await.unwrap();
    let mut reg = Registry::linked().unwrap();
    assert_eq!(reg.default_method().unwrap().as_str(), "gdrive");
    let info = reg.infos().into_iter().find(|i| i.method.as_str() == "gdrive").unwrap();
    assert_eq!(info.crate_name, Some("share-backup-gdrive"));
    let s = Settings::from_pairs([
        ("endpoint", fake.root_url().as_str()),
        ("folder_mode", "folder"),
        ("folder_name", "From settings"),
        ("max_retries", "0"),
    ]);
    reg.configure(&share_backup_gdrive::METHOD, s).unwrap();
    let p = reg.resolve(None).unwrap();
    p.seal_key(&ctx("bea")).await.unwrap();
    assert!(fake.files().iter().any(|f| f.is_folder() && f.name == "From settings"));
    // One setting at a time, each documented example builds.
    for spec in share_backup_gdrive::SETTINGS {
        let s = Settings::from_pairs([(spec.key, spec.example)]);
        DriveProvider::from_settings(&s).unwrap_or_else(|e| panic!("{}: {e}", spec.key));
    }
}

#[test]
fn bad_settings_are_refused_with_a_reason() {
    let contradiction = Settings::from_pairs([("folder_mode", "appdata"), ("folder_name", "x")]);
    assert_eq!(DriveProvider::from_settings(&contradiction).unwrap_err().kind(), &ErrorKind::InvalidInput);
    let named = DriveProvider::from_settings(&Settings::from_pairs([("folder_name", "x")])).unwrap();
    assert_eq!(named.mode(), &FolderMode::Folder("x".into()));
    for (k, v) in [
        ("folder_mode", "cloud"),
        ("folder_name", ""),
        ("endpoint", "http://drive.example.com/"),
        ("max_retries", "many"),
        ("request_timeout_ms", "0"),
        ("colour", "blue"),
    ] {
        let e = DriveProvider::from_settings(&Settings::from_pairs([(k, v)])).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{k}");
    }
    let p = DriveProvider::from_settings(&Settings::new()).unwrap();
    assert_eq!(p.mode(), &FolderMode::AppData);
    assert!(p.capabilities().remote && p.capabilities().deletes && p.capabilities().probes);
    assert!(!p.capabilities().needs_user_secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_backups_of_a_user_make_one_folder() {
    let fake = FakeDrive::start().await.unwrap();
    fake.set_latency(Duration::from_millis(20));
    let p = Arc::new(folder_provider(&fake, "Backups"));
    let base = ctx("concurrent");
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let p = p.clone();
        let c = base.clone().with_backup_id(BackupId::generate().unwrap());
        tasks.push(tokio::spawn(async move { (p.seal_key(&c).await.unwrap(), c) }));
    }
    let mut sealed = Vec::new();
    for t in tasks {
        sealed.push(t.await.unwrap());
    }
    let files = fake.files();
    assert_eq!(files.iter().filter(|f| f.is_folder()).count(), 1, "{files:?}");
    assert_eq!(files.iter().filter(|f| !f.is_folder()).count(), 6);
    for (s, c) in &sealed {
        assert!(p.open_key(&s.header, c).await.unwrap() == s.key);
    }
}

#[tokio::test]
async fn different_users_have_different_drives() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_account_token("alice-account", "alice-token", Scope::ALL);
    fake.add_account_token("bob-account", "bob-token", Scope::ALL);
    let p = provider(&fake);
    let alice = ctx_with("alice", DriveConfig::access_token("alice-token"));
    let sealed = p.seal_key(&alice).await.unwrap();
    // Bob presents Alice's header with his own token: his Drive has no such file.
    let bob = ctx_with("bob", DriveConfig::access_token("bob-token")).with_backup_id(alice.backup_id());
    assert_eq!(p.open_key(&sealed.header, &bob).await.unwrap_err().kind(), &ErrorKind::NotFound);
    assert!(p.open_key(&sealed.header, &alice).await.unwrap() == sealed.key);
}

#[cfg(feature = "oauth")]
#[tokio::test]
async fn a_yup_oauth2_authenticator_supplies_the_token() {
    share_backup_gdrive::install_crypto_provider();
    let fake = FakeDrive::start().await.unwrap();
    let auth = yup_oauth2::AccessTokenAuthenticator::builder(DEFAULT_TOKEN.to_owned()).build().await.unwrap();
    let src = Arc::new(share_backup_gdrive::OAuthTokenSource::new(auth));
    assert_eq!(format!("{src:?}"), "OAuthTokenSource([REDACTED])");
    // As the builder's default source: the call's configs carry no DriveConfig.
    let p = DriveProvider::builder().endpoint(fake.root_url()).retry(fast_retry()).token_source(src).build().unwrap();
    let c = Context::new(UserId::new("oauth-user").unwrap(), BackupId::generate().unwrap());
    let sealed = p.seal_key(&c).await.unwrap();
    assert!(p.open_key(&sealed.header, &c).await.unwrap() == sealed.key);
    assert_eq!(fake.requests()[0].bearer.as_deref(), Some(DEFAULT_TOKEN));
}

#[tokio::test]
async fn with_two_folders_of_the_name_the_oldest_is_used() {
    let fake = FakeDrive::start().await.unwrap();
    // Two processes raced to create the folder: each made one.
    let older = fake.add_app_folder("Raced");
    let _younger = fake.add_app_folder("Raced");
    let c = ctx("racer");
    folder_provider(&fake, "Raced").seal_key(&c).await.unwrap();
    let key = fake.files().into_iter().find(|f| !f.is_folder()).unwrap();
    assert_eq!(key.parents, vec![older]);
    assert_eq!(fake.files().iter().filter(|f| f.is_folder()).count(), 2, "no third folder");
}

#[cfg(feature = "oauth")]
#[tokio::test]
async fn the_installed_app_flow_from_settings_reads_its_files_only_when_needed() {
    let fake = FakeDrive::start().await.unwrap();
    let s = Settings::from_pairs([
        ("endpoint", fake.root_url().as_str()),
        ("oauth_client_secret", "/nonexistent/client_secret.json"),
        ("oauth_token_cache", "/nonexistent/tokens.json"),
    ]);
    let p = DriveProvider::from_settings(&s).unwrap();
    let no_config = Context::new(UserId::new("desk").unwrap(), BackupId::generate().unwrap());
    let e = p.seal_key(&no_config).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
    assert!(e.to_string().contains("client_secret.json") && e.hint().contains("oauth_client_secret"), "{e}");
    assert_eq!(fake.request_count(), 0);
    // A per-call token still wins over the default source.
    p.seal_key(&ctx("desk")).await.unwrap();
}

#[tokio::test]
async fn a_refresh_and_transient_failures_combine_in_one_operation() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_token("old-token", Scope::ALL);
    fake.add_token("new-token", Scope::ALL);
    let p = provider(&fake);
    let src = Arc::new(Refreshing { refreshes: AtomicUsize::new(0) });
    let c = ctx_with("combo", DriveConfig::from_source(src.clone()));
    fake.inject(Fault::ServiceUnavailable);
    fake.inject(Fault::Unauthorized);
    fake.inject(Fault::TooManyRequests);
    let sealed = p.seal_key(&c).await.unwrap();
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 401, 429, 200]);
    assert_eq!(src.refreshes.load(Ordering::SeqCst), 1);
    // A later 401 in the same operation is final: the refresh happens once.
    fake.clear_requests();
    fake.inject(Fault::Unauthorized);
    fake.inject(Fault::Unauthorized);
    let e = p.open_key(&sealed.header, &c).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
    assert_eq!(fake.request_count(), 2);
    assert_eq!(src.refreshes.load(Ordering::SeqCst), 2, "one refresh per operation");
}

#[tokio::test]
async fn other_client_errors_are_final_typed_errors_after_one_request() {
    let cases = [
        (400, "badRequest", ErrorKind::InvalidInput),
        (400, "invalid", ErrorKind::InvalidInput),
        (403, "forbidden", ErrorKind::PermissionDenied),
        (403, "domainPolicy", ErrorKind::PermissionDenied),
        (403, "appNotAuthorizedToFile", ErrorKind::PermissionDenied),
        (404, "notFound", ErrorKind::NotFound),
        (405, "methodNotAllowed", ErrorKind::Unsupported),
        (408, "requestTimeout", ErrorKind::Cancelled),
        (409, "conflict", ErrorKind::Conflict),
        (410, "deleted", ErrorKind::NotFound),
        (412, "conditionNotMet", ErrorKind::Conflict),
        (413, "uploadTooLarge", ErrorKind::InvalidInput),
    ];
    for (code, reason, kind) in cases {
        let fake = FakeDrive::start().await.unwrap();
        let p = provider(&fake);
        fake.inject(Fault::status(code, reason));
        let e = p.seal_key(&ctx("uri")).await.unwrap_err();
        assert_eq!(e.kind(), &kind, "{code} {reason}: {e:#}");
        assert_eq!(fake.request_count(), 1, "{code} {reason} is not retried");
        assert!(!e.retryable(), "{code} {reason}");
        let d = DriveError::of(&e).expect("a DriveError source");
        assert_eq!((d.status(), d.reason()), (Some(code), Some(reason)));
        assert_eq!(needs_regrant(&e), None, "{code} {reason} is no scope problem");
        assert!(fake.files().is_empty(), "{code} {reason}");
        assert!(
            e.message().contains(&code.to_string())
                || kind == ErrorKind::NotFound
                || kind == ErrorKind::PermissionDenied,
            "{e}"
        );
    }
}

#[tokio::test]
async fn a_missing_appdata_scope_asks_to_regrant_drive_appdata() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_token("file-only", &[Scope::File]);
    let p = DriveProvider::builder()
        .endpoint(fake.root_url())
        .retry(fast_retry())
        .client_id("123-abc.apps.googleusercontent.com")
        .build()
        .unwrap();
    let c = ctx_with("wendy", DriveConfig::access_token("file-only"));
    for e in [p.probe(&c).await.unwrap_err(), p.seal_key(&c).await.unwrap_err()] {
        let r = needs_regrant(&e).expect("a re-grant answer");
        assert_eq!((r.scope, r.scope_name()), (SCOPE_APPDATA, "drive.appdata"));
        assert!(e.hint().contains("123-abc.apps.googleusercontent.com"), "{}", e.hint());
    }
    // Another 403 is a refusal, not a re-grant.
    fake.inject(Fault::status(403, "forbidden"));
    let e = p.probe(&ctx("wendy")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::PermissionDenied);
    assert_eq!(needs_regrant(&e), None);
}

#[tokio::test]
async fn a_missing_drive_file_scope_asks_to_regrant_drive_file() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_token("appdata-only", &[Scope::AppData]);
    let p = folder_provider(&fake, "Wallet backup");
    let c = ctx_with("xavier", DriveConfig::access_token("appdata-only"));
    for e in [p.probe(&c).await.unwrap_err(), p.seal_key(&c).await.unwrap_err()] {
        assert_eq!(e.kind(), &ErrorKind::PermissionDenied, "{e:#}");
        assert!(!e.retryable());
        let r = needs_regrant(&e).expect("a re-grant answer");
        assert_eq!((r.scope, r.scope_name()), (SCOPE_FILE, "drive.file"));
        assert!(e.to_string().contains("drive.file"), "{e}");
    }
    assert_eq!(fake.request_count(), 2, "one refused lookup each, no retry");
    assert!(fake.files().is_empty());
    // The same scope lost after the folder id is cached: the probe still catches it.
    fake.add_token("both", &[Scope::AppData, Scope::File]);
    let c = ctx_with("xavier", DriveConfig::access_token("both"));
    p.seal_key(&c).await.unwrap();
    fake.add_token("both", &[Scope::AppData]);
    fake.clear_requests();
    let e = p.probe(&c).await.unwrap_err();
    assert_eq!(needs_regrant(&e).map(|r| r.scope), Some(SCOPE_FILE), "{e:#}");
    // Without drive.file the folder looks absent (404, as in Drive), so the
    // probe looks it up by name, which Drive refuses for the missing scope.
    let log = fake.requests();
    assert_eq!((log.len(), log[0].status, log[1].status), (2, 404, 403));
}

#[tokio::test]
async fn the_folder_mode_probe_checks_the_token_even_with_the_folder_id_cached() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_token("yara-token", &[Scope::File]);
    let p = folder_provider(&fake, "Wallet backup");
    let c = ctx_with("yara", DriveConfig::access_token("yara-token"));
    p.seal_key(&c).await.unwrap();
    let folder = fake.files().into_iter().find(|f| f.is_folder()).unwrap();
    fake.clear_requests();
    p.probe(&c).await.unwrap();
    let log = fake.requests();
    assert_eq!(lines(&fake), vec![format!("GET /drive/v3/files/{}", folder.id)]);
    assert_eq!(log[0].param("fields"), Some("id"));
    // The token expires or is revoked after the backup: the probe says so, in one request.
    fake.revoke_token("yara-token");
    fake.clear_requests();
    let e = p.probe(&c).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated, "{e:#}");
    assert_eq!(fake.request_count(), 1);
    assert!(e.message().contains("refused the access token"), "{e}");
    // The user deleted the folder: the probe looks it up again and passes; the backup makes it again.
    fake.add_token("yara-token", &[Scope::File]);
    assert!(fake.remove_file(&folder.id));
    fake.clear_requests();
    p.probe(&c).await.unwrap();
    assert_eq!(lines(&fake), vec![format!("GET /drive/v3/files/{}", folder.id), "GET /drive/v3/files".to_owned()]);
    assert!(fake.files().iter().all(|f| !f.is_folder()), "the probe creates no folder");
    let c2 = c.clone().with_backup_id(BackupId::generate().unwrap());
    let s = p.seal_key(&c2).await.unwrap();
    assert!(p.open_key(&s.header, &c2).await.unwrap() == s.key);
}

#[tokio::test]
async fn a_folder_the_user_made_is_invisible_to_drive_file_so_the_app_makes_its_own() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_token("file-scope", &[Scope::File]);
    let users = fake.add_folder("Wallet backup");
    let c = ctx_with("zoe", DriveConfig::access_token("file-scope"));
    let p = folder_provider(&fake, "Wallet backup");
    let s = p.seal_key(&c).await.unwrap();
    assert_eq!(lines(&fake), vec!["GET /drive/v3/files", "POST /drive/v3/files", "POST /upload/drive/v3/files"]);
    let folders: Vec<_> = fake.files().into_iter().filter(|f| f.is_folder()).collect();
    assert_eq!(folders.len(), 2);
    let apps = folders.iter().find(|f| f.id != users).unwrap();
    assert!(apps.created_by_app && apps.name == "Wallet backup");
    let key = fake.files().into_iter().find(|f| !f.is_folder()).unwrap();
    assert_eq!(key.parents, vec![apps.id.clone()]);
    // Another process finds the app's folder by name, not the user's.
    let c2 = c.clone().with_backup_id(BackupId::generate().unwrap());
    folder_provider(&fake, "Wallet backup").seal_key(&c2).await.unwrap();
    assert_eq!(fake.files().iter().filter(|f| f.is_folder()).count(), 2, "no third folder");
    assert!(fake.files().iter().filter(|f| !f.is_folder()).all(|f| f.parents == vec![apps.id.clone()]));
    assert!(p.open_key(&s.header, &c).await.unwrap() == s.key);
    // With the full drive scope the user's folder is visible, and it is the oldest.
    let c3 = ctx("zoe-wide");
    folder_provider(&fake, "Wallet backup").seal_key(&c3).await.unwrap();
    let last = fake.files().into_iter().rfind(|f| !f.is_folder()).unwrap();
    assert_eq!(last.parents, vec![users]);
}

#[test]
fn the_client_id_setting_is_checked_and_kept() {
    let id = "123456789012-abcdefghijklmnop.apps.googleusercontent.com";
    let p = DriveProvider::from_settings(&Settings::from_pairs([("client_id", id)])).unwrap();
    assert_eq!(p.client_id(), Some(id));
    assert_eq!(DriveProvider::from_settings(&Settings::new()).unwrap().client_id(), None);
    for bad in [
        "",
        "portal-client-7",
        ".apps.googleusercontent.com",
        "a b.apps.googleusercontent.com",
        "x.apps.googleusercontent.com.evil",
    ] {
        let e = DriveProvider::from_settings(&Settings::from_pairs([("client_id", bad)])).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{bad:?}");
        assert!(e.hint().contains("Google Cloud Console"), "{}", e.hint());
    }
}

#[cfg(feature = "oauth")]
mod oauth_files {
    use super::*;

    /// A client secret whose `token_uri` is the fake's token endpoint, and a
    /// token cache holding a stale access token with a refresh token.
    pub(super) fn write(
        fake: &FakeDrive,
        client_id: &str,
        access: &str,
        refresh: &str,
    ) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("sb-gdrive-oauth-{}", BackupId::generate().unwrap()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("client_secret.json");
        let v = serde_json::json!({"installed": {
            "client_id": client_id,
            "client_secret": "fake-client-secret",
            "token_uri": fake.token_uri(),
            "auth_uri": "http://127.0.0.1:9/auth",
            "redirect_uris": ["http://127.0.0.1"],
        }});
        std::fs::write(&secret, v.to_string()).unwrap();
        let cache = dir.join("tokens.json");
        let t = serde_json::json!([{
            "scopes": ["https://www.googleapis.com/auth/drive.appdata"],
            "token": {"access_token": access, "refresh_token": refresh, "expires_at": null, "id_token": null},
        }]);
        std::fs::write(&cache, t.to_string()).unwrap();
        (secret, cache)
    }
}

#[cfg(feature = "oauth")]
#[tokio::test]
async fn a_401_makes_the_yup_oauth2_flow_refresh_its_token_once_at_the_token_endpoint() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_refresh_token("refresh-1", Scope::ALL);
    let id = "42-desk.apps.googleusercontent.com";
    // The cached access token is one the fake does not accept (expired on Google's side).
    let (secret, cache) = oauth_files::write(&fake, id, "ya29.stale", "refresh-1");
    let s = Settings::from_pairs([
        ("endpoint", fake.root_url().as_str()),
        ("client_id", id),
        ("oauth_client_secret", secret.to_str().unwrap()),
        ("oauth_token_cache", cache.to_str().unwrap()),
    ]);
    let p = DriveProvider::from_settings(&s).unwrap();
    let c = Context::new(UserId::new("desk").unwrap(), BackupId::generate().unwrap());
    let sealed = p.seal_key(&c).await.unwrap();
    let log = fake.requests();
    let seen: Vec<(String, u16, Option<&str>)> =
        log.iter().map(|r| (r.line(), r.status, r.bearer.as_deref())).collect();
    assert_eq!(
        seen,
        vec![
            ("POST /upload/drive/v3/files".to_owned(), 401, Some("ya29.stale")),
            ("POST /token".to_owned(), 200, None),
            ("POST /upload/drive/v3/files".to_owned(), 200, Some("fake-access-1")),
        ]
    );
    // The refreshed token is kept: the next operation uses it without a refresh.
    fake.clear_requests();
    assert!(p.open_key(&sealed.header, &c).await.unwrap() == sealed.key);
    let log = fake.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].bearer.as_deref(), Some("fake-access-1"));
    let _ = std::fs::remove_dir_all(secret.parent().unwrap());
}

#[cfg(feature = "oauth")]
#[tokio::test]
async fn a_client_secret_of_another_oauth_client_is_refused() {
    let fake = FakeDrive::start().await.unwrap();
    let (secret, cache) = oauth_files::write(&fake, "1-other.apps.googleusercontent.com", "x", "y");
    let s = Settings::from_pairs([
        ("endpoint", fake.root_url().as_str()),
        ("client_id", "2-mine.apps.googleusercontent.com"),
        ("oauth_client_secret", secret.to_str().unwrap()),
        ("oauth_token_cache", cache.to_str().unwrap()),
    ]);
    let p = DriveProvider::from_settings(&s).unwrap();
    let c = Context::new(UserId::new("desk").unwrap(), BackupId::generate().unwrap());
    let e = p.seal_key(&c).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{e:#}");
    assert!(e.to_string().contains("1-other") && e.to_string().contains("2-mine"), "{e}");
    assert!(!format!("{e:#} {e:?}").contains("fake-client-secret"));
    assert_eq!(fake.request_count(), 0);
    let _ = std::fs::remove_dir_all(secret.parent().unwrap());
}

#[test]
fn the_oauth_settings_are_listed_exactly_when_the_oauth_feature_is_on() {
    let keys: Vec<&str> = share_backup_gdrive::SETTINGS.iter().map(|s| s.key).collect();
    for k in ["folder_mode", "folder_name", "endpoint", "client_id"] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    for k in ["oauth_client_secret", "oauth_token_cache"] {
        assert_eq!(keys.contains(&k), cfg!(feature = "oauth"), "{k} in {keys:?}");
    }
}
