//! A backup and a recovery through the FFI API (what Kotlin, Swift and
//! Python call), under a subscriber that records every span and event at
//! every level (TRACE included) on every thread: neither the password, nor
//! the share (raw, hex, base64), nor a token in the call's configs shows in
//! what was logged, and neither do the typed errors of a wrong password.

use std::collections::HashMap;

use share_backup_conformance::leak::{Capture, Needles};
use share_backup_ffi::{CallConfigs, ErrorKind, NotifierConfig, ShareBackup, ShareBackupConfig, StoreConfig};

const PASSWORD: &str = "orchid-lantern-quartz-7319";
const WRONG_PASSWORD: &str = "walnut-meadow-cobalt-2846";
const GOOGLE_TOKEN: &str = "ya29.token-that-must-not-be-logged-5512";
const APP_TOKEN: &str = "app-provider-token-that-must-not-be-logged-8830";
const SHARE: &[u8] = b"\x07\x91 the client key share, 42 bytes long \xfe\x01";

fn configs(password: &str) -> CallConfigs {
    CallConfigs {
        password: Some(password.to_owned()),
        password_bytes: None,
        google_access_token: Some(GOOGLE_TOKEN.to_owned()),
        google_token_source: None,
        provider_configs: HashMap::from([(
            "some-app-method".to_owned(),
            HashMap::from([("token".to_owned(), APP_TOKEN.to_owned())]),
        )]),
        passkey: None,
        custodian_id: None,
        client_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_and_a_recovery_through_the_ffi_log_no_password_share_or_token_at_trace() {
    let capture = Capture::default();
    let everywhere = capture.everywhere();
    assert!(everywhere.covers_other_threads(), "the capturing subscriber must be the process-wide one");

    let sb = ShareBackup::new(ShareBackupConfig {
        store: StoreConfig::Url { url: "memory://".to_owned(), options: HashMap::new() },
        notifier: NotifierConfig::Recording,
        provider_settings: HashMap::from([(
            "password".to_owned(),
            HashMap::from([
                ("space_cost".to_owned(), "64".to_owned()),
                ("time_cost".to_owned(), "1".to_owned()),
                ("insecure_below_cost_floor".to_owned(), "true".to_owned()),
            ]),
        )]),
        default_chain: None,
        call_timeout_ms: None,
        max_retries: None,
        read_back: None,
    })
    .expect("share-backup on memory://");

    let receipt = sb
        .backup("log-user".to_owned(), SHARE.to_vec(), configs(PASSWORD), Some("password".to_owned()), None)
        .await
        .expect("backup");
    let recovered = sb.recover("log-user".to_owned(), configs(PASSWORD), None, None).await.expect("recovery");
    assert_eq!(recovered, SHARE);
    let wrong = sb.recover("log-user".to_owned(), configs(WRONG_PASSWORD), None, None).await.unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::WrongSecret, "{wrong}");
    capture.push(&format!("{wrong} {wrong:?}"));
    let told = sb.notifications();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].success);
    drop(everywhere);

    let text = capture.text();
    // The capture saw the operations themselves (on share-backup's own
    // runtime threads), not only this test's thread.
    assert!(
        text.contains(&receipt.backup_id),
        "the operations' spans and events were not captured (no backup id in {} lines)",
        text.lines().count()
    );

    let mut needles = Needles::new();
    needles.add_text("the password", PASSWORD);
    needles.add_text("the wrong password", WRONG_PASSWORD);
    needles.add_text("the Google access token", GOOGLE_TOKEN);
    needles.add_text("the app provider's token", APP_TOKEN);
    needles.add_bytes("the share", SHARE);
    needles.add_bytes("the password's bytes", PASSWORD.as_bytes());
    assert_eq!(capture.find(&needles), None);

    // The control: a TRACE event carrying the password on another thread
    // is caught, so the search above would have seen a leak.
    let control = Capture::default();
    let listening = control.everywhere();
    std::thread::spawn(|| tracing::trace!(target: "share_backup_ffi", password = PASSWORD, "leak"))
        .join()
        .expect("the control thread");
    drop(listening);
    assert!(control.find(&needles).is_some_and(|f| f.contains("the password")), "{}", control.text());
}
