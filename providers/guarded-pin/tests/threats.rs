//! The issue's threats against the provider with real `share-backup-realm`
//! processes on 127.0.0.1 over SQLite files and, when
//! `SHARE_BACKUP_REALM_TEST_POSTGRES_URL` is set (`scripts/ci/realm.sh`),
//! over PostgreSQL: guesses counting down, lock-out, realms down (a killed
//! process), malicious realms (a lying proxy in front of a real one).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use share_backup_core::{BackupId, BackupProvider, Configs, Context, ErrorKind, ExposeSecret, UserId};
use share_backup_guarded_pin::{GuardedPinProvider, PinConfig, Realm, SigningTokenSource};
use share_backup_realm::{RealmProcess, realm_binary};
use share_backup_realm_protocol::SigningKey;

const PG_ENV: &str = "SHARE_BACKUP_REALM_TEST_POSTGRES_URL";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[9u8; 32])
}

/// Where the realms keep their state.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    /// One SQLite file per realm in a temporary directory.
    Sqlite,
    /// The test PostgreSQL, shared by every realm under unique realm ids.
    Postgres,
}

/// SQLite always; PostgreSQL when its URL is set (required when
/// `SHARE_BACKUP_REQUIRE_SERVERS=1`, as in CI).
fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    match std::env::var(PG_ENV) {
        Ok(_) => v.push(Backend::Postgres),
        Err(_) if std::env::var_os("SHARE_BACKUP_REQUIRE_SERVERS").is_some_and(|v| v == "1") => {
            panic!("{PG_ENV} is not set but SHARE_BACKUP_REQUIRE_SERVERS=1 (run scripts/ci/realm.sh)")
        }
        Err(_) => eprintln!("skipping PostgreSQL: {PG_ENV} is not set (scripts/ci/realm.sh starts one)"),
    }
    v
}

struct Realms {
    _dir: tempfile::TempDir,
    /// Per realm: its id and database URL.
    dbs: Vec<(String, String)>,
    /// The processes; `None` once killed.
    realms: Vec<Option<RealmProcess>>,
}

impl Realms {
    /// Realm `i` is down: its process is killed.
    fn kill(&mut self, i: usize) {
        if let Some(mut r) = self.realms[i].take() {
            r.kill();
        }
    }
}

/// `n` realm processes; their ids are unique to this call, so tests sharing
/// one PostgreSQL database never see each other's rows.
fn realms(n: usize, backend: Backend) -> Realms {
    let dir = tempfile::tempdir().unwrap();
    let run = &BackupId::generate().unwrap().to_string()[..12];
    let dbs: Vec<(String, String)> = (0..n)
        .map(|i| {
            let db = match backend {
                Backend::Sqlite => format!("sqlite:{}", dir.path().join(format!("r{i}.sqlite3")).display()),
                Backend::Postgres => std::env::var(PG_ENV).unwrap(),
            };
            (format!("r{i}-{run}"), db)
        })
        .collect();
    let bin = realm_binary();
    let realms = dbs
        .iter()
        .map(|(id, db)| {
            Some(
                RealmProcess::spawn(&bin, id, db, "acme", &key().verifying_key(), &["--rate-limit-per-minute=0"])
                    .unwrap(),
            )
        })
        .collect();
    Realms { _dir: dir, dbs, realms }
}

fn provider(urls: &[(String, String)], t: usize, max: u32) -> GuardedPinProvider {
    let mut b = GuardedPinProvider::builder()
        .threshold(t)
        .max_guesses(max)
        .token_source(Arc::new(SigningTokenSource::new("acme", key())));
    for (id, url) in urls {
        b = b.realm(Realm::new(id.clone(), url).unwrap());
    }
    b.build().unwrap()
}

fn urls(r: &Realms) -> Vec<(String, String)> {
    r.realms.iter().flatten().map(|r| (r.id().to_string(), r.url().to_string())).collect()
}

/// Runs `test` once per backend, naming the backend when it fails.
async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in backends() {
        eprintln!("backend: {backend:?}");
        test(backend).await;
    }
}

fn ctx(pin: &str, backup: BackupId) -> Context {
    Context::new(UserId::new("alice").unwrap(), backup).with_configs(Configs::new().with(PinConfig::new(pin)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_count_down_the_right_one_resets_and_the_last_wrong_one_erases() {
    each_backend(wrong_pins_count_down_on).await;
}

async fn wrong_pins_count_down_on(backend: Backend) {
    let r = realms(3, backend);
    let p = provider(&urls(&r), 2, 3);
    let id = BackupId::generate().unwrap();
    let sealed = p.seal_key(&ctx("482916", id)).await.unwrap();
    for left in [2, 1] {
        let e = p.open_key(&sealed.header, &ctx("111111", id)).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::WrongSecret);
        let g = e.guesses().unwrap();
        assert_eq!((g.guesses_left, g.locked_out), (left, false), "{e}");
    }
    let key = p.open_key(&sealed.header, &ctx("482916", id)).await.unwrap();
    assert_eq!(key.expose_secret(), sealed.key.expose_secret());
    // The right PIN reset every count: three more wrong guesses to the lock-out.
    for left in [2, 1] {
        let e = p.open_key(&sealed.header, &ctx("111111", id)).await.unwrap_err();
        assert_eq!(e.guesses().unwrap().guesses_left, left);
    }
    let e = p.open_key(&sealed.header, &ctx("111111", id)).await.unwrap_err();
    let g = e.guesses().unwrap();
    assert_eq!((e.kind(), g.guesses_left, g.locked_out), (&ErrorKind::WrongSecret, 0, true), "{e}");
    assert!(e.to_string().contains("erased"), "{e}");
    // Gone, even with the right PIN: the realms remember the lock-out, so
    // a user coming back is told the backup was erased, not "not found".
    let e = p.open_key(&sealed.header, &ctx("482916", id)).await.unwrap_err();
    let g = e.guesses().unwrap_or_else(|| panic!("no typed lock-out: {e}"));
    assert_eq!((e.kind(), g.guesses_left, g.locked_out), (&ErrorKind::WrongSecret, 0, true), "{e}");
    assert!(e.to_string().contains("erased"), "{e}");
}

/// The guess counts each realm's database holds for `sealed` (None: no part).
async fn parts(r: &Realms, header: &share_backup_core::KeyHeader) -> Vec<Option<u32>> {
    let h = share_backup_realm_protocol::RegistrationHeader::parse(header.as_bytes()).unwrap();
    let reg = share_backup_realm_protocol::client::hex_id(&h.reg_id);
    let mut out = vec![];
    for (id, url) in &r.dbs {
        let db = share_backup_realm::Db::connect(url, 1).await.unwrap();
        out.push(db.guesses(id, "alice", &reg).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_lock_out_no_realm_keeps_a_part_even_one_that_had_guesses_left() {
    each_backend(after_a_lock_out_on).await;
}

async fn after_a_lock_out_on(backend: Backend) {
    let r = realms(3, backend);
    let all = urls(&r);
    let p = provider(&all, 2, 3);
    let id = BackupId::generate().unwrap();
    let sealed = p.seal_key(&ctx("482916", id)).await.unwrap();
    // Two wrong guesses while realm r2 is unreachable: r0 and r1 count them, r2 does not.
    let mut partial = all.clone();
    partial[2].1 = "http://127.0.0.1:9/".into();
    let p_partial = provider(&partial, 2, 3);
    for left in [2, 1] {
        let e = p_partial.open_key(&sealed.header, &ctx("111111", id)).await.unwrap_err();
        assert_eq!(e.guesses().unwrap().guesses_left, left, "{e}");
    }
    assert_eq!(parts(&r, &sealed.header).await, [Some(2), Some(2), Some(0)]);
    // The last wrong guess: r0 and r1 count out, r2 still has guesses, so fewer than t = 2 remain.
    let e = p.open_key(&sealed.header, &ctx("111111", id)).await.unwrap_err();
    assert!(e.guesses().unwrap().locked_out, "{e}");
    assert_eq!(parts(&r, &sealed.header).await, [None, None, None], "no realm keeps a part after the lock-out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_realm_down_still_recovers_two_down_is_unavailable() {
    each_backend(one_realm_down_on).await;
}

async fn one_realm_down_on(backend: Backend) {
    let mut r = realms(3, backend);
    let all = urls(&r);
    let p = provider(&all, 2, 10);
    let id = BackupId::generate().unwrap();
    let sealed = p.seal_key(&ctx("482916", id)).await.unwrap();
    r.kill(0);
    let key = p.open_key(&sealed.header, &ctx("482916", id)).await.unwrap();
    assert_eq!(key.expose_secret(), sealed.key.expose_secret());
    r.kill(1);
    let e = p.open_key(&sealed.header, &ctx("482916", id)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
    // A new backup needs every realm.
    let e = p.seal_key(&ctx("482916", BackupId::generate().unwrap())).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_pins_are_refused_by_the_pin_preset() {
    let r = realms(2, Backend::Sqlite);
    let p = provider(&urls(&r), 2, 10);
    for weak in ["000000", "123456", "12345"] {
        let e = p.seal_key(&ctx(weak, BackupId::generate().unwrap())).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::PolicyViolation, "{weak}: {e}");
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Lie {
    WrongEvaluation,
    AlteredShare,
    Replay,
    /// A false evaluation, "no guess left", and "erased" to any phase 2.
    ClaimsErased,
    /// Honest phase 1; phase 2 fails (503) as if the realm went down.
    FailsPhase2,
    /// Honest, but phase 1's answer comes 8 s late (after the realm counted).
    SlowPhase1,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    lie: Lie,
    recorded: Arc<Mutex<Option<Bytes>>>,
    http: reqwest::Client,
}

async fn forward(
    State(p): State<Proxy>,
    Path(op): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(axum::http::HeaderName, &'static str); 1], Bytes) {
    if (p.lie, op.as_str()) == (Lie::FailsPhase2, "recover2") {
        // Never reaches the realm.
        let body = br#"{"error":"unavailable","message":"down"}"#;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            Bytes::from_static(body),
        );
    }
    let resp = p
        .http
        .post(format!("{}v1/{op}", p.upstream))
        .header("authorization", headers.get("authorization").unwrap().to_str().unwrap())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let mut out = resp.bytes().await.unwrap();
    if (p.lie, op.as_str()) == (Lie::SlowPhase1, "recover1") {
        tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    }
    if (p.lie, op.as_str()) == (Lie::ClaimsErased, "recover2") {
        let body = br#"{"error":"locked_out","message":"no guess left: the registration has been erased"}"#;
        return (StatusCode::GONE, [(axum::http::header::CONTENT_TYPE, "application/json")], Bytes::from_static(body));
    }
    if status.is_success() {
        let mut v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        match (p.lie, op.as_str()) {
            // The base point: a valid element, but not k * blinded.
            (Lie::WrongEvaluation, "recover1") => v["evaluated"] = "4vKuCmq8TnGohKlhxQBRX1jjC2qlgt2NtqZZReCNLXY".into(),
            (Lie::ClaimsErased, "recover1") => {
                v["evaluated"] = "4vKuCmq8TnGohKlhxQBRX1jjC2qlgt2NtqZZReCNLXY".into();
                v["guesses_left"] = 0.into();
            }
            (Lie::AlteredShare, "recover2") => {
                let s = v["encrypted_share"].as_str().unwrap().to_string();
                let flipped = if s.starts_with('A') { s.replacen('A', "B", 1) } else { format!("A{}", &s[1..]) };
                v["encrypted_share"] = flipped.into();
            }
            (Lie::Replay, "recover1" | "recover2") => {
                let mut rec = p.recorded.lock().unwrap();
                match rec.as_ref() {
                    Some(old) if op == "recover1" => out = old.clone(),
                    None if op == "recover1" => *rec = Some(out.clone()),
                    _ => {}
                }
                return (status, [(axum::http::header::CONTENT_TYPE, "application/json")], out);
            }
            _ => {}
        }
        out = Bytes::from(serde_json::to_vec(&v).unwrap());
    }
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], out)
}

async fn proxy(upstream: &str, lie: Lie) -> String {
    let state =
        Proxy { upstream: upstream.into(), lie, recorded: Arc::new(Mutex::new(None)), http: reqwest::Client::new() };
    let app = axum::Router::new().route("/v1/{op}", axum::routing::post(forward)).with_state(state);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malicious_realm_never_yields_a_wrong_key_and_two_honest_ones_suffice() {
    each_backend(a_malicious_realm_on).await;
}

async fn a_malicious_realm_on(backend: Backend) {
    for lie in [Lie::WrongEvaluation, Lie::AlteredShare, Lie::Replay] {
        let r = realms(3, backend);
        let mut u = urls(&r);
        let honest = provider(&u, 2, 50);
        let id = BackupId::generate().unwrap();
        let sealed = honest.seal_key(&ctx("482916", id)).await.unwrap();
        u[0].1 = proxy(&u[0].1, lie).await;
        // 2 of 3: the two honest realms carry the recovery (twice, so a replay is a replay).
        let p = provider(&u, 2, 50);
        for _ in 0..2 {
            let key = p.open_key(&sealed.header, &ctx("482916", id)).await.unwrap();
            assert_eq!(key.expose_secret(), sealed.key.expose_secret(), "{lie:?}");
        }
        // 3 of 3: the liar is needed; a typed error, never a wrong key.
        let id3 = BackupId::generate().unwrap();
        let all = provider(&urls(&r), 3, 50);
        let sealed3 = all.seal_key(&ctx("482916", id3)).await.unwrap();
        let p3 = provider(&u, 3, 50);
        let mut failed = 0;
        for _ in 0..2 {
            match p3.open_key(&sealed3.header, &ctx("482916", id3)).await {
                Ok(k) => assert_eq!(k.expose_secret(), sealed3.key.expose_secret(), "{lie:?}: a wrong key"),
                Err(e) => {
                    failed += 1;
                    assert!(matches!(e.kind(), ErrorKind::Integrity | ErrorKind::WrongSecret), "{lie:?}: {e}");
                }
            }
        }
        assert!(failed >= 1, "{lie:?}: the lie went unnoticed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_debug_output_hold_no_pin_token_or_key() {
    let r = realms(3, Backend::Sqlite);
    let p = provider(&urls(&r), 2, 10);
    let id = BackupId::generate().unwrap();
    let sealed = p.seal_key(&ctx("482916", id)).await.unwrap();
    let e = p.open_key(&sealed.header, &ctx("555123", id)).await.unwrap_err();
    let text = format!("{e} {e:?} {p:?} {:?}", ctx("482916", id));
    assert!(!text.contains("482916") && !text.contains("555123"), "{text}");
    assert!(!text.contains("eyJ"), "a JWT leaked: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_realm_cannot_make_the_client_erase_honest_parts() {
    each_backend(a_lying_realm_cannot_erase_on).await;
}

/// The worst case for the client: with the right PIN, one realm down and
/// one lying (a false evaluation, "no guess left", "erased"), exactly t = 2
/// answer and no subset reconstructs the unlock key, so the client cannot
/// tell the lie from a wrong PIN. It must not delete the honest parts on
/// the liar's word: once the realm that was down is back, the right PIN
/// recovers.
async fn a_lying_realm_cannot_erase_on(backend: Backend) {
    let r = realms(3, backend);
    let all = urls(&r);
    let p = provider(&all, 2, 10);
    let id = BackupId::generate().unwrap();
    let sealed = p.seal_key(&ctx("482916", id)).await.unwrap();
    let mut lying = all.clone();
    lying[0].1 = proxy(&all[0].1, Lie::ClaimsErased).await;
    lying[2].1 = "http://127.0.0.1:9/".into();
    let p_lying = provider(&lying, 2, 10);
    for _ in 0..3 {
        let e = p_lying.open_key(&sealed.header, &ctx("482916", id)).await.unwrap_err();
        let g = e.guesses().unwrap_or_else(|| panic!("{e}"));
        assert_eq!((e.kind(), g.locked_out), (&ErrorKind::WrongSecret, false), "one realm's word erased it: {e}");
    }
    let left = parts(&r, &sealed.header).await;
    assert!(left.iter().all(Option::is_some), "a part was deleted: {left:?}");
    // r2 is reachable again (it was never down, only unreachable by URL).
    let mut back = all.clone();
    back[0].1 = proxy(&all[0].1, Lie::ClaimsErased).await;
    let key = provider(&back, 2, 10).open_key(&sealed.header, &ctx("482916", id)).await.unwrap();
    assert_eq!(key.expose_secret(), sealed.key.expose_secret());
}

/// With t = n, one lying realm's "erased" is no quorum: the client must not
/// call the backup erased nor delete the other realms' parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_threshold_equal_to_the_realms_one_lying_realm_still_erases_nothing() {
    let r = realms(3, Backend::Sqlite);
    let all = urls(&r);
    let id = BackupId::generate().unwrap();
    let sealed = provider(&all, 3, 10).seal_key(&ctx("482916", id)).await.unwrap();
    let mut lying = all.clone();
    lying[0].1 = proxy(&all[0].1, Lie::ClaimsErased).await;
    let e = provider(&lying, 3, 10).open_key(&sealed.header, &ctx("482916", id)).await.unwrap_err();
    let g = e.guesses().unwrap_or_else(|| panic!("{e}"));
    assert_eq!((e.kind(), g.locked_out), (&ErrorKind::WrongSecret, false), "one realm's word erased it: {e}");
    assert!(parts(&r, &sealed.header).await.iter().all(Option::is_some), "a part was deleted");
    let key = provider(&all, 3, 10).open_key(&sealed.header, &ctx("482916", id)).await.unwrap();
    assert_eq!(key.expose_secret(), sealed.key.expose_secret());
}

/// A recovery that used the last guess at every realm but whose phase 2 did
/// not arrive leaves the realms "exhausted" for their phase-2 window: a
/// second recovery then is told to wait (InProgress), not that the backup
/// is erased, and deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_during_another_ones_phase2_window_is_told_to_wait_not_that_the_backup_is_erased() {
    each_backend(during_phase2_window_on).await;
}

async fn during_phase2_window_on(backend: Backend) {
    let r = realms(3, backend);
    let all = urls(&r);
    let id = BackupId::generate().unwrap();
    let sealed = provider(&all, 2, 1).seal_key(&ctx("482916", id)).await.unwrap();
    let mut failing = all.clone();
    for u in &mut failing {
        u.1 = proxy(&u.1, Lie::FailsPhase2).await;
    }
    let e = provider(&failing, 2, 1).open_key(&sealed.header, &ctx("482916", id)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
    let e = provider(&all, 2, 1).open_key(&sealed.header, &ctx("482916", id)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InProgress, "{e}");
    assert!(e.guesses().is_none_or(|g| !g.locked_out), "{e}");
    assert_eq!(parts(&r, &sealed.header).await, [Some(1), Some(1), Some(1)], "a part was deleted");
}

/// A realm that counted the guess but whose phase-1 answer came after the
/// client's timeout still gets its phase 2 after a successful recovery, so
/// its count is reset instead of left at the limit (where it would erase
/// its part when its phase-2 window ends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realm_whose_phase1_answer_came_too_late_is_reset_after_a_successful_recovery() {
    let r = realms(3, Backend::Sqlite);
    let all = urls(&r);
    let id = BackupId::generate().unwrap();
    let sealed = provider(&all, 2, 1).seal_key(&ctx("482916", id)).await.unwrap();
    let mut slow = all.clone();
    slow[2].1 = proxy(&all[2].1, Lie::SlowPhase1).await;
    let mut b = GuardedPinProvider::builder()
        .threshold(2)
        .max_guesses(1)
        .timeout(std::time::Duration::from_secs(3))
        .token_source(Arc::new(SigningTokenSource::new("acme", key())));
    for (id, url) in &slow {
        b = b.realm(Realm::new(id.clone(), url).unwrap());
    }
    let key = b.build().unwrap().open_key(&sealed.header, &ctx("482916", id)).await.unwrap();
    assert_eq!(key.expose_secret(), sealed.key.expose_secret());
    // The slow realm counted its guess (its only one); the background phase 2 resets it.
    let mut counts = parts(&r, &sealed.header).await;
    for _ in 0..300 {
        if counts == [Some(0), Some(0), Some(0)] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        counts = parts(&r, &sealed.header).await;
    }
    assert_eq!(counts, [Some(0), Some(0), Some(0)], "the late realm was left at its limit");
}
