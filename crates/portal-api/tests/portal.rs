//! PortalNotifier against a real HTTP server on 127.0.0.1 that records and
//! checks every request and answers from a script.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use share_backup_conformance::leak::Capture;
use share_backup_core::{BackupId, ErrorKind, MethodId, SecretString, UserId};
use share_backup_orchestrator::Notifier;
use share_backup_portal_api::{PortalError, PortalNotifier, RetryPolicy};

const KEY: &str = "pk_test_0123456789abcdef";

#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: serde_json::Value,
}

/// One scripted answer.
#[derive(Clone)]
struct Answer {
    status: u16,
    delay: Duration,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn answer(status: u16) -> Answer {
    Answer { status, delay: Duration::ZERO, headers: Vec::new(), body: String::new() }
}

#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<Answer>>,
    seen: Mutex<Vec<Seen>>,
}

async fn handle(State(s): State<Arc<Script>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    s.seen.lock().unwrap().push(Seen { method, path: uri.path().to_owned(), headers, body: json });
    let a = s.answers.lock().unwrap().pop_front().unwrap_or_else(|| answer(204));
    tokio::time::sleep(a.delay).await;
    let mut r = (StatusCode::from_u16(a.status).unwrap(), a.body).into_response();
    for (k, v) in a.headers {
        r.headers_mut().insert(k, v.parse().unwrap());
    }
    r
}

struct Server {
    base: String,
    script: Arc<Script>,
}

impl Server {
    async fn start(answers: Vec<Answer>) -> Server {
        let script = Arc::new(Script::default());
        script.answers.lock().unwrap().extend(answers);
        let app = Router::new().fallback(handle).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { base: format!("http://{addr}"), script }
    }

    fn seen(&self) -> Vec<Seen> {
        self.script.seen.lock().unwrap().clone()
    }

    fn notifier(&self) -> PortalNotifier {
        PortalNotifier::builder()
            .base_url(&self.base)
            .api_key(SecretString::from(KEY))
            .retry(
                RetryPolicy::default()
                    .with_max_retries(3)
                    .with_delays(Duration::from_millis(1), Duration::from_millis(5)),
            )
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    }
}

fn user() -> UserId {
    UserId::new("user-1").unwrap()
}

fn bid() -> BackupId {
    BackupId::from_bytes([3; 16])
}

#[tokio::test]
async fn success_sends_the_documented_put_with_the_bearer_key_and_json_body() {
    let s = Server::start(vec![answer(204)]).await;
    s.notifier().stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap();
    let seen = s.seen();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, Method::PUT);
    assert_eq!(r.path, "/api/v1/clients/me/wallet/stored-client-backup-share");
    assert_eq!(r.headers["authorization"], format!("Bearer {KEY}").as_str());
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.body, serde_json::json!({"backupMethod": "PASSWORD", "success": true}));
}

#[tokio::test]
async fn a_failed_backup_is_reported_with_success_false_and_portals_method_name() {
    let s = Server::start(vec![]).await;
    let n = s.notifier();
    n.stored_client_backup_share(&user(), &MethodId::GDRIVE, bid(), false).await.unwrap();
    n.stored_client_backup_share(&user(), &MethodId::new("icloud-keychain").unwrap(), bid(), true).await.unwrap();
    let seen = s.seen();
    assert_eq!(seen[0].body, serde_json::json!({"backupMethod": "GDRIVE", "success": false}));
    assert_eq!(seen[1].body, serde_json::json!({"backupMethod": "ICLOUD_KEYCHAIN", "success": true}));
}

#[tokio::test]
async fn server_errors_are_retried_until_portal_accepts() {
    let s = Server::start(vec![answer(503), answer(502), answer(500), answer(204)]).await;
    s.notifier().stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap();
    let seen = s.seen();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|r| r.body == seen[0].body), "every retry sends the same request");
}

#[tokio::test]
async fn persistent_server_errors_are_unavailable_after_the_retry_budget() {
    let s = Server::start(vec![answer(500); 10]).await;
    let e = s.notifier().stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
    assert!(e.retryable());
    assert_eq!(e.method(), Some(&MethodId::PASSWORD));
    assert_eq!(s.seen().len(), 4, "1 attempt + 3 retries");
    let source = e.source_ref().unwrap().downcast_ref::<PortalError>().unwrap();
    assert!(matches!(source, PortalError::Status { status: 500, .. }));
}

#[tokio::test]
async fn client_errors_are_typed_and_never_retried() {
    for (status, kind) in [
        (401, ErrorKind::Unauthenticated),
        (403, ErrorKind::PermissionDenied),
        (404, ErrorKind::NotFound),
        (400, ErrorKind::InvalidInput),
        (422, ErrorKind::InvalidInput),
    ] {
        let s = Server::start(vec![answer(status); 5]).await;
        let e = s.notifier().stored_client_backup_share(&user(), &MethodId::GDRIVE, bid(), true).await.unwrap_err();
        assert_eq!(e.kind(), &kind, "{status}: {e}");
        assert!(!e.retryable(), "{status}");
        assert_eq!(s.seen().len(), 1, "{status} is not retried");
    }
}

#[tokio::test]
async fn rate_limiting_is_retried_after_the_servers_delay() {
    let mut limited = answer(429);
    limited.headers.push(("retry-after", "0".to_owned()));
    let s = Server::start(vec![limited.clone(), limited, answer(204)]).await;
    s.notifier().stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap();
    assert_eq!(s.seen().len(), 3);

    let s = Server::start(vec![answer(429); 10]).await;
    let e = s.notifier().stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::RateLimited);
    assert!(e.retryable());
}

#[tokio::test]
async fn a_timed_out_attempt_is_retried() {
    let mut slow = answer(204);
    slow.delay = Duration::from_secs(6);
    let s = Server::start(vec![slow, answer(204)]).await;
    s.notifier().stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap();
    assert_eq!(s.seen().len(), 2);
}

#[tokio::test]
async fn an_unreachable_portal_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let n = PortalNotifier::builder()
        .base_url(format!("http://{addr}"))
        .api_key(SecretString::from(KEY))
        .retry(
            RetryPolicy::default().with_max_retries(1).with_delays(Duration::from_millis(1), Duration::from_millis(1)),
        )
        .build()
        .unwrap();
    let e = n.stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e:#}");
}

#[tokio::test]
async fn the_api_key_never_appears_in_debug_display_or_errors() {
    let mut echo = answer(401);
    echo.body = format!("{{\"error\":\"invalid key {KEY}\"}}");
    let s = Server::start(vec![echo]).await;
    let n = s.notifier();
    let e = n.stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap_err();
    let shown = format!("{n:?} {e} {e:?} {e:#}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("[REDACTED]"), "the echoed key was replaced: {shown}");
}

#[tokio::test]
async fn base_url_path_prefix_and_api_version_are_configurable() {
    let s = Server::start(vec![]).await;
    let n = PortalNotifier::builder()
        .base_url(format!("{}/gateway/portal/", s.base))
        .api_version("v3")
        .api_key(SecretString::from(KEY))
        .build()
        .unwrap();
    n.stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap();
    assert_eq!(s.seen()[0].path, "/gateway/portal/api/v3/clients/me/wallet/stored-client-backup-share");
}

#[tokio::test]
async fn each_user_is_notified_with_its_own_client_key() {
    let s = Server::start(vec![]).await;
    let mut keys = HashMap::new();
    keys.insert(UserId::new("a").unwrap(), SecretString::from("key-a"));
    keys.insert(UserId::new("b").unwrap(), SecretString::from("key-b"));
    let n = PortalNotifier::builder().base_url(&s.base).api_keys(Arc::new(keys)).build().unwrap();
    n.stored_client_backup_share(&UserId::new("b").unwrap(), &MethodId::PASSWORD, bid(), true).await.unwrap();
    n.stored_client_backup_share(&UserId::new("a").unwrap(), &MethodId::PASSWORD, bid(), true).await.unwrap();
    let seen = s.seen();
    assert_eq!(seen[0].headers["authorization"], "Bearer key-b");
    assert_eq!(seen[1].headers["authorization"], "Bearer key-a");

    let e =
        n.stored_client_backup_share(&UserId::new("c").unwrap(), &MethodId::PASSWORD, bid(), true).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
    assert_eq!(s.seen().len(), 2, "no request without a key");
}

#[tokio::test]
async fn a_key_a_header_cannot_carry_is_refused_before_any_request() {
    let s = Server::start(vec![]).await;
    let n = PortalNotifier::builder().base_url(&s.base).api_key(SecretString::from("bad key\n")).build().unwrap();
    let e = n.stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
    assert!(!format!("{e:?}").contains("bad key"));
    assert!(s.seen().is_empty());
}

#[test]
fn building_without_a_key_or_with_plain_http_elsewhere_is_invalid_input() {
    let e = PortalNotifier::builder().build().unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    let e = PortalNotifier::builder()
        .base_url("http://portal.example.com")
        .api_key(SecretString::from(KEY))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "current_thread")]
async fn logs_name_the_method_and_backup_but_never_the_api_key() {
    let logs = Capture::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let s = Server::start(vec![answer(503), answer(401)]).await;
    let e = s.notifier().stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
    let text = logs.text();
    assert!(text.contains("portal_notify") && text.contains("PASSWORD"), "{text}");
    assert!(text.contains(&bid().to_hex()), "{text}");
    assert!(!text.contains(KEY), "{text}");
}

#[tokio::test]
async fn the_multi_backup_path_is_v2_with_is_multi_backup_enabled_in_the_body() {
    let s = Server::start(vec![]).await;
    for enabled in [true, false] {
        let n = PortalNotifier::builder()
            .base_url(&s.base)
            .api_key(SecretString::from(KEY))
            .multi_backup(enabled)
            .build()
            .unwrap();
        n.stored_client_backup_share(&user(), &MethodId::GDRIVE, bid(), true).await.unwrap();
    }
    let seen = s.seen();
    assert_eq!(seen[0].path, "/api/v2/clients/me/wallet/stored-client-backup-share");
    assert_eq!(seen[0].method, Method::PUT);
    assert_eq!(
        seen[0].body,
        serde_json::json!({"backupMethod": "GDRIVE", "success": true, "isMultiBackupEnabled": true})
    );
    assert_eq!(seen[1].body["isMultiBackupEnabled"], serde_json::json!(false));
}

#[tokio::test]
async fn a_caller_supplied_client_builder_still_never_follows_a_redirect() {
    let mut moved = answer(307);
    moved.headers.push(("location", "/elsewhere/collect-keys".to_owned()));
    let s = Server::start(vec![moved]).await;
    let n = PortalNotifier::builder()
        .base_url(&s.base)
        .api_key(SecretString::from(KEY))
        .retry(RetryPolicy::default().with_max_retries(0))
        // A caller's builder that would follow redirects.
        .client_builder(reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(10)))
        .build()
        .unwrap();
    let e = n.stored_client_backup_share(&user(), &MethodId::PASSWORD, bid(), true).await.unwrap_err();
    assert_ne!(e.kind(), &ErrorKind::Internal, "{e:#}");
    let seen = s.seen();
    assert_eq!(
        seen.len(),
        1,
        "the key was not replayed to the redirect target: {:?}",
        seen.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

#[test]
fn plain_http_to_localhost_by_name_is_refused() {
    let e = PortalNotifier::builder()
        .base_url("http://localhost:8080")
        .api_key(SecretString::from(KEY))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.hint().contains("127.0.0.1"), "{}", e.hint());
}
