//! The store-then-notify order end to end: the orchestrator, the password
//! provider, a real local-directory store and the Portal notifier talking
//! HTTP to a local Portal server that, at each request, looks into the
//! store to see what is there.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::put;
use share_backup_core::{BackupId, BackupShare, ErrorKind, MethodId, Registry, SecretString, UserId};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_orchestrator::testing::{Fault, FaultPlan, FaultyStore};
use share_backup_orchestrator::{BackupRequest, CipherTextStore, IncompleteBackup, Orchestrator, RetryPolicy};
use share_backup_password::PasswordConfig;
use share_backup_portal_api::{PortalNotifier, RetryPolicy as PortalRetry};
use share_backup_tests::fast_password_provider;

const API_KEY: &str = "client-api-key-for-the-e2e-test";
const M: MethodId = MethodId::PASSWORD;

/// What the server saw at one request.
#[derive(Clone, Debug)]
struct Seen {
    authorization: Option<String>,
    body: serde_json::Value,
    staged: Vec<BackupId>,
    current: Option<BackupId>,
}

#[derive(Clone)]
struct Portal {
    store: Arc<ObjectCipherTextStore>,
    user: UserId,
    seen: Arc<Mutex<Vec<Seen>>>,
    replies: Arc<Mutex<VecDeque<StatusCode>>>,
}

async fn stored_client_backup_share(State(p): State<Portal>, headers: HeaderMap, body: String) -> StatusCode {
    let versions = p.store.versions(&(&p.user).into(), &M).await.unwrap();
    let current = p.store.current(&(&p.user).into(), &M).await.unwrap().map(|c| c.backup_id);
    p.seen.lock().unwrap().push(Seen {
        authorization: headers.get("authorization").map(|v| v.to_str().unwrap().to_owned()),
        body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        staged: versions.iter().map(|v| v.backup_id).filter(|id| Some(*id) != current).collect(),
        current,
    });
    p.replies.lock().unwrap().pop_front().unwrap_or(StatusCode::NO_CONTENT)
}

struct World {
    _dir: tempfile::TempDir,
    user: UserId,
    store: Arc<ObjectCipherTextStore>,
    seen: Arc<Mutex<Vec<Seen>>>,
    replies: Arc<Mutex<VecDeque<StatusCode>>>,
    notifier: PortalNotifier,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ObjectCipherTextStore::local_dir(dir.path()).unwrap());
    let portal_view = Arc::new(ObjectCipherTextStore::local_dir(dir.path()).unwrap());
    let user = UserId::new("portal-user").unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let replies = Arc::new(Mutex::new(VecDeque::new()));
    let state = Portal { store: portal_view, user: user.clone(), seen: seen.clone(), replies: replies.clone() };
    let app = axum::Router::new()
        .route("/api/v1/clients/me/wallet/stored-client-backup-share", put(stored_client_backup_share))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let notifier = PortalNotifier::builder()
        .base_url(format!("http://{addr}"))
        .api_key(SecretString::from(API_KEY))
        .allow_insecure_http(true)
        .retry(PortalRetry::none())
        .build()
        .unwrap();
    World { _dir: dir, user, store, seen, replies, notifier }
}

fn orchestrator(store: Arc<dyn CipherTextStore>, notifier: PortalNotifier) -> Orchestrator {
    Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(fast_password_provider()))
        .store(store)
        .notifier(Arc::new(notifier))
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn backup(u: &UserId) -> BackupRequest {
    BackupRequest::new(u.clone(), BackupShare::from_slice(b"portal e2e share").unwrap())
        .with_method(M)
        .with_config(PasswordConfig::new("tangerine vortex 91 quietly marble"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_hears_true_only_once_the_envelope_is_stored_and_before_it_is_current() {
    let w = world().await;
    let orch = orchestrator(w.store.clone(), w.notifier.clone());
    let receipt = orch.backup(backup(&w.user)).await.unwrap();
    let seen = w.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].body, serde_json::json!({"backupMethod": "PASSWORD", "success": true}));
    assert_eq!(seen[0].authorization.as_deref(), Some(format!("Bearer {API_KEY}").as_str()));
    // At the moment Portal heard `true`, the envelope was already in the store, staged.
    assert_eq!(seen[0].staged, vec![receipt.backup_id]);
    assert_eq!(seen[0].current, None);
    assert_eq!(w.store.current(&(&w.user).into(), &M).await.unwrap().unwrap().backup_id, receipt.backup_id);

    // A second backup: when Portal hears `true`, the first is still current.
    let second = orch.backup(backup(&w.user)).await.unwrap();
    let seen = w.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].current, Some(receipt.backup_id));
    assert_eq!(seen[1].staged, vec![second.backup_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_stage_makes_portal_hear_false_and_nothing_else() {
    let w = world().await;
    let plan = FaultPlan::new();
    // Store calls: 1 current, 2 stage.
    plan.set(2, Fault::Fail(ErrorKind::Unavailable));
    let store = Arc::new(FaultyStore::new(w.store.clone(), plan));
    let orch = orchestrator(store, w.notifier.clone());
    let e = orch.backup(backup(&w.user)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    let seen = w.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].body, serde_json::json!({"backupMethod": "PASSWORD", "success": false}));
    assert!(w.store.current(&(&w.user).into(), &M).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_that_refuses_the_key_fails_the_backup_typed_and_leaves_it_staged_not_current() {
    let w = world().await;
    w.replies.lock().unwrap().extend([StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED]);
    let orch = orchestrator(w.store.clone(), w.notifier.clone());
    let e = orch.backup(backup(&w.user)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthenticated, "{e:#}");
    assert!(!format!("{e:?} {e:#}").contains(API_KEY), "the API key leaked into the error");
    let inc = IncompleteBackup::find(&e).expect("the staged version is reported");
    assert!(!inc.acknowledged);
    assert!(w.store.current(&(&w.user).into(), &M).await.unwrap().is_none());
    assert!(w.store.get(&(&w.user).into(), &M, inc.backup_id).await.is_ok());
    let seen = w.seen.lock().unwrap().clone();
    let bodies: Vec<_> = seen.iter().map(|s| s.body["success"].as_bool().unwrap()).collect();
    assert_eq!(bodies, vec![true, false], "{seen:?}");
}
