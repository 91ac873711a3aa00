//! Real realm processes (the built binary on 127.0.0.1:0) over SQLite and,
//! when `SHARE_BACKUP_REALM_TEST_POSTGRES_URL` is set, PostgreSQL.

use serde_json::Value;
use share_backup_realm::{Db, RealmProcess, RegKey};
use share_backup_realm_protocol::{
    Claims, Recover1Request, Recover1Response, Recover2Request, Recover2Response, Recovery, Registration, SigningKey,
    mint, register,
};

const PG_ENV: &str = "SHARE_BACKUP_REALM_TEST_POSTGRES_URL";

/// A realm process; `url` without its trailing slash (paths start with one).
#[derive(Debug)]
struct Realm {
    process: RealmProcess,
    url: String,
    id: String,
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

fn spawn(id: &str, db: &str, rate: u32) -> Realm {
    let rate = format!("--rate-limit-per-minute={rate}");
    spawn_with(id, db, &[&rate]).unwrap()
}

/// A realm process trusting `acme` (and whatever `extra` adds).
fn spawn_with(id: &str, db: &str, extra: &[&str]) -> Result<Realm, String> {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_share-backup-realm"));
    let process = RealmProcess::spawn(bin, id, db, "acme", &key().verifying_key(), extra)?;
    Ok(Realm { url: process.url().trim_end_matches('/').to_string(), id: id.into(), process })
}

fn token(realm: &str, user: &str, nonce: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    mint(
        &key(),
        &Claims { iss: "acme".into(), sub: user.into(), aud: realm.into(), iat: now - nonce % 10, exp: now + 300 },
    )
}

async fn post(c: &reqwest::Client, r: &Realm, tok: &str, path: &str, body: &impl serde::Serialize) -> (u16, Value) {
    let resp = c.post(format!("{}{path}", r.url)).bearer_auth(tok).json(body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn databases(dir: &std::path::Path, name: &str) -> Vec<String> {
    let mut v = vec![format!("sqlite:{}", dir.join(format!("{name}.sqlite3")).display())];
    match std::env::var(PG_ENV) {
        Ok(url) => v.push(url),
        Err(_) if std::env::var_os("SHARE_BACKUP_REQUIRE_SERVERS").is_some_and(|v| v == "1") => {
            panic!("{PG_ENV} is not set but SHARE_BACKUP_REQUIRE_SERVERS=1 (run scripts/ci/realm.sh)")
        }
        Err(_) => eprintln!("skipping PostgreSQL: {PG_ENV} is not set (scripts/ci/realm.sh starts one)"),
    }
    v
}

/// A user name unique to this run (and to this call: two calls never collide).
fn user() -> String {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut b = [0u8; 8];
    getrandom(&mut b);
    format!("user-{}-{}", hex::encode(b), CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

fn getrandom(b: &mut [u8]) {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    for (i, x) in b.iter_mut().enumerate() {
        *x = (t >> (i * 7)) as u8 ^ (std::process::id() as u8).wrapping_mul(i as u8 + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_parallel_wrong_guesses_count_exactly_the_limit_then_lock_out() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path(), "guesses") {
        let realms: Vec<Realm> = (0..2).map(|i| spawn(&format!("realm-{i}"), &db, 0)).collect();
        let ids: Vec<String> = realms.iter().map(|r| r.id.clone()).collect();
        let user = user();
        let reg = register(b"482916", &user, [7; 16], &ids, 2, 10).unwrap();
        let c = reqwest::Client::new();
        for (r, req) in realms.iter().zip(&reg.requests) {
            let (s, v) = post(&c, r, &token(&r.id, &user, 0), "/v1/register", req).await;
            assert_eq!(s, 200, "{v}");
        }
        let (_rec, p1) = Recovery::start(b"000001", &user, reg.header.clone()).unwrap();
        let r0 = &realms[0];
        // A second, stateless process of realm-0 over the same database takes half the guesses.
        let replica = spawn("realm-0", &db, 0);
        let tasks = (0..100u64).map(|n| {
            let (c, tok, body) = (c.clone(), token(&r0.id, &user, n), p1[0].clone());
            let url = format!("{}/v1/recover1", if n % 2 == 0 { &r0.url } else { &replica.url });
            async move { c.post(url).bearer_auth(tok).json(&body).send().await.unwrap().status().as_u16() }
        });
        let statuses = futures::future::join_all(tasks).await;
        let counted = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(counted, 10, "{db}: {statuses:?}");
        assert!(statuses.iter().all(|s| [200, 409].contains(s)), "{statuses:?}");
        // No guess left: the next guess is refused as such ("exhausted": the
        // last guess's phase 2 may still come within the window; erased
        // after it), not as an unknown registration.
        let (s, v) = post(&c, r0, &token(&r0.id, &user, 0), "/v1/recover1", &p1[0]).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("exhausted")), "{v}");
        // Realm 1 still counts its own guesses from 0.
        let (s, v) = post(&c, &realms[1], &token(&realms[1].id, &user, 0), "/v1/recover1", &p1[1]).await;
        assert_eq!((s, v["guesses_left"].as_u64()), (200, Some(9)), "{v}");
    }
}

fn minute() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 60
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tokens_rate_limit_holds_across_two_realm_processes_over_one_database() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path(), "rate") {
        // Two stateless processes of one realm over one database, 6 requests per token and minute.
        let (a, b) = (spawn("realm-r", &db, 6), spawn("realm-r", &db, 6));
        let c = reqwest::Client::new();
        let body = serde_json::json!({"reg_id": "00".repeat(16)});
        // The budget is per clock minute: a run that crosses a minute boundary
        // proves nothing and is made again with a fresh token.
        let statuses = loop {
            let (before, user) = (minute(), user());
            let tok = token("realm-r", &user, 0);
            let tasks = (0..20).map(|n| {
                let (c, tok, body) = (c.clone(), tok.clone(), body.clone());
                let url = format!("{}/v1/delete", if n % 2 == 0 { &a.url } else { &b.url });
                async move { c.post(url).bearer_auth(tok).json(&body).send().await.unwrap().status().as_u16() }
            });
            let statuses = futures::future::join_all(tasks).await;
            if minute() == before {
                break statuses;
            }
        };
        let served = statuses.iter().filter(|s| **s != 429).count();
        assert_eq!(served, 6, "{db}: the budget is shared, not 6 per process: {statuses:?}");
        assert!(statuses.iter().all(|s| [200, 404, 429].contains(s)), "{statuses:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_pin_recovers_resets_the_count_and_logs_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path(), "flow") {
        let realms: Vec<Realm> = (0..3).map(|i| spawn(&format!("flow-{i}"), &db, 100)).collect();
        let ids: Vec<String> = realms.iter().map(|r| r.id.clone()).collect();
        let user = user();
        let reg = register(b"482916", &user, [9; 16], &ids, 2, 5).unwrap();
        let c = reqwest::Client::new();
        let toks: Vec<String> = realms.iter().map(|r| token(&r.id, &user, 0)).collect();
        for ((r, req), t) in realms.iter().zip(&reg.requests).zip(&toks) {
            assert_eq!(post(&c, r, t, "/v1/register", req).await.0, 200);
            // A retry of the identical registration is fine.
            assert_eq!(post(&c, r, t, "/v1/register", req).await.1["created"], false);
        }
        // A wrong PIN: phase 1 answers, but nothing unlocks; phase 2 with a wrong tag is refused.
        let (bad, p1) = Recovery::start(b"111111", &user, reg.header.clone()).unwrap();
        let mut answers = vec![];
        for (i, r) in realms.iter().enumerate() {
            let (s, v) = post(&c, r, &toks[i], "/v1/recover1", &p1[i]).await;
            assert_eq!(s, 200, "{v}");
            answers.push((i, serde_json::from_value::<Recover1Response>(v).unwrap()));
        }
        assert!(bad.unlock(&answers).is_err());
        let (s, v) = post(&c, &realms[0], &toks[0], "/v1/recover2", &bad.phase2_wrong().unwrap()).await;
        assert_eq!((s, v["error"].as_str(), v["guesses_left"].as_u64()), (403, Some("bad_unlock_tag"), Some(4)));
        // The right PIN through realms 1 and 2.
        let (rec, p1) = Recovery::start(b"482916", &user, reg.header.clone()).unwrap();
        let mut answers = vec![];
        for i in [1usize, 2] {
            let (_, v) = post(&c, &realms[i], &toks[i], "/v1/recover1", &p1[i]).await;
            answers.push((i, serde_json::from_value::<Recover1Response>(v).unwrap()));
        }
        let key = rec.unlock(&answers).unwrap();
        let mut shares = vec![];
        for (i, req) in rec.phase2(&key, &[1, 2]) {
            let (s, v) = post(&c, &realms[i], &toks[i], "/v1/recover2", &req).await;
            assert_eq!(s, 200, "{v}");
            shares.push((i, serde_json::from_value(v).unwrap()));
        }
        let dk = rec.finish(&key, &shares).unwrap();
        assert_eq!(&dk[..], &share_backup_realm_protocol::client::data_key(&reg.secret[..], &[9; 16], &user)[..]);
        // Phase 2 reset the count at realms 1 and 2: the next guess leaves 4.
        let (_, v) = post(&c, &realms[1], &toks[1], "/v1/recover1", &p1[1]).await;
        assert_eq!(v["guesses_left"].as_u64(), Some(4));
        // A token for another realm, and none at all, are refused.
        let (s, v) = post(&c, &realms[0], &toks[1], "/v1/recover1", &p1[0]).await;
        assert_eq!((s, v["error"].as_str()), (401, Some("unauthenticated")));
        // Delete is idempotent.
        for (i, r) in realms.iter().enumerate() {
            let body = serde_json::json!({"reg_id": hex::encode([9u8; 16])});
            assert_eq!(post(&c, r, &toks[i], "/v1/delete", &body).await.1["deleted"], true);
            assert_eq!(post(&c, r, &toks[i], "/v1/delete", &body).await.1["deleted"], false);
        }
        // TRACE logs name no token, key, tag, share or evaluation.
        let secrets: Vec<String> = toks
            .iter()
            .cloned()
            .chain(reg.requests.iter().flat_map(|r| {
                [&r.oprf_key, &r.unlock_tag, &r.masked_unlock_share, &r.encrypted_share]
                    .map(|b| serde_json::to_value(b).unwrap().as_str().unwrap().to_string())
            }))
            .chain(reg.requests.iter().flat_map(|r| [hex::encode(&r.oprf_key.0), hex::encode(&r.unlock_tag.0)]))
            .collect();
        drop(c);
        for mut r in realms {
            // Killing waits for the end of its stderr: the whole log.
            r.process.kill();
            let log = r.process.log();
            assert!(log.contains("recover1"), "the TRACE capture is empty: {log}");
            for s in &secrets {
                assert!(!log.contains(s.as_str()), "a secret leaked into the realm's log");
            }
        }
    }
}

#[test]
fn config_debug_redacts_the_database_password() {
    use clap::Parser;
    let c = share_backup_realm::Config::try_parse_from([
        "share-backup-realm",
        "--realm-id=r",
        "--database-url=postgres://realm:s3cr3t@127.0.0.1/realm",
        "--integrator-key=acme=00",
    ])
    .unwrap();
    let d = format!("{c:?}");
    assert!(!d.contains("s3cr3t") && d.contains("realm:***@"), "{d}");
}

#[tokio::test]
async fn malformed_requests_get_json_errors_that_echo_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("m.sqlite3").display());
    let r = spawn("m", &db, 100);
    let c = reqwest::Client::new();
    let t = token("m", "u", 0);
    let resp = c
        .post(format!("{}/v1/recover1", r.url))
        .bearer_auth(&t)
        .body("{\"reg_id\": \"SECRETVALUE\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_input");
    assert!(!v.to_string().contains("SECRETVALUE"));
    let (s, v) =
        post(&c, &r, &t, "/v1/recover1", &serde_json::json!({"reg_id": "0".repeat(32), "blinded": "AA"})).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_input")));
}

// --- Authentication, issuers, the phase-2 window and lock-out tombstones ---

/// The key of a second integrator, `beta`.
fn beta_key() -> SigningKey {
    SigningKey::from_bytes(&[43u8; 32])
}

/// `--integrator-key` trusting `beta` besides `acme`.
fn trust_beta() -> String {
    format!("--integrator-key=beta={}", hex::encode(beta_key().verifying_key().to_bytes()))
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// A token signed by `key` for issuer `iss`, valid from `iat` to `exp`.
fn token_of(key: &SigningKey, iss: &str, realm: &str, user: &str, iat: u64, exp: u64) -> String {
    mint(key, &Claims { iss: iss.into(), sub: user.into(), aud: realm.into(), iat, exp })
}

/// `beta`'s token for `user` at `realm`.
fn beta_token(realm: &str, user: &str) -> String {
    token_of(&beta_key(), "beta", realm, user, now(), now() + 300)
}

/// A registration whose first realm is `realm` (only its part is stored there).
fn registration(pin: &[u8], user: &str, reg_id: [u8; 16], realm: &str, max_guesses: u32) -> Registration {
    register(pin, user, reg_id, &[realm.to_string(), "elsewhere".to_string()], 2, max_guesses).unwrap()
}

/// Two registrations under one PIN from the very same randomness, differing
/// only in their ids.
fn same_randomness(user: &str, a: [u8; 16], b: [u8; 16], realm: &str, max: u32) -> (Registration, Registration) {
    use share_backup_realm_protocol::client::{Randomness, register_with};
    use share_backup_realm_protocol::{oprf, shamir};
    let realms = [realm.to_string(), "elsewhere".to_string()];
    let rnd = Randomness {
        oprf_keys: vec![oprf::random_scalar().unwrap(), oprf::random_scalar().unwrap()],
        unlock_key: [0x17; 32],
        secret: [0x29; 32],
        unlock_shares: shamir::split(2, 2, &[0x17; 32]).unwrap(),
        secret_shares: shamir::split(2, 2, &[0x29; 32]).unwrap(),
    };
    (
        register_with(b"482916", user, a, &realms, 2, max, &rnd).unwrap(),
        register_with(b"482916", user, b, &realms, 2, max, &rnd).unwrap(),
    )
}

fn phase1(pin: &[u8], user: &str, reg: &Registration) -> Recover1Request {
    Recovery::start(pin, user, reg.header.clone()).unwrap().1.remove(0)
}

/// Realm-0's correct phase-2 request of `reg` (its stored unlock tag).
fn right_tag(reg: &Registration) -> Recover2Request {
    Recover2Request { reg_id: reg.requests[0].reg_id.clone(), unlock_tag: reg.requests[0].unlock_tag.clone() }
}

fn reg_body(reg: &Registration) -> Value {
    serde_json::json!({"reg_id": reg.requests[0].reg_id})
}

/// Guesses counted at `realm` for (`issuer`, `user`, `reg`), read from its database.
async fn counted(db: &str, realm: &str, issuer: &str, user: &str, reg: &Registration) -> Option<u32> {
    let db = Db::connect(db, 1).await.unwrap();
    let k = RegKey { realm, issuer, user, reg_id: &reg.requests[0].reg_id };
    db.guesses_of(&k).await.unwrap()
}

fn error_of(answer: &(u16, Value)) -> (u16, Option<&str>) {
    (answer.0, answer.1["error"].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_other_user_and_other_realm_tokens_are_refused_and_count_no_guess() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path(), "auth") {
        let r = spawn("auth-0", &db, 0);
        let (alice, mallory) = (user(), user());
        let reg = registration(b"482916", &alice, [3; 16], &r.id, 5);
        let c = reqwest::Client::new();
        assert_eq!(post(&c, &r, &token(&r.id, &alice, 0), "/v1/register", &reg.requests[0]).await.0, 200);
        let guess = phase1(b"482916", &alice, &reg);
        // Expired (5 minutes ago, beyond the 30 s leeway): refused, nothing counted or released.
        let expired = token_of(&key(), "acme", &r.id, &alice, now() - 600, now() - 300);
        for (path, body) in [
            ("/v1/recover1", serde_json::to_value(&guess).unwrap()),
            ("/v1/recover2", serde_json::to_value(right_tag(&reg)).unwrap()),
            ("/v1/delete", reg_body(&reg)),
        ] {
            let a = post(&c, &r, &expired, path, &body).await;
            assert_eq!(error_of(&a), (401, Some("unauthenticated")), "{path}: {}", a.1);
        }
        assert_eq!(counted(&db, &r.id, "acme", &alice, &reg).await, Some(0), "{db}: an expired token counted a guess");
        // Another user's valid token: no such registration for it; the count is untouched.
        let other = token(&r.id, &mallory, 0);
        let a = post(&c, &r, &other, "/v1/recover1", &guess).await;
        assert_eq!(error_of(&a), (404, Some("not_found")), "{}", a.1);
        let a = post(&c, &r, &other, "/v1/recover2", &right_tag(&reg)).await;
        assert_eq!(error_of(&a), (404, Some("not_found")), "the right tag releases nothing to another user: {}", a.1);
        assert_eq!(post(&c, &r, &other, "/v1/delete", &reg_body(&reg)).await.1["deleted"], false);
        assert_eq!(counted(&db, &r.id, "acme", &alice, &reg).await, Some(0), "{db}: another user's token counted");
        // A token for another realm (aud) is refused.
        let a = post(&c, &r, &token("auth-other", &alice, 0), "/v1/recover1", &guess).await;
        assert_eq!(error_of(&a), (401, Some("unauthenticated")), "{}", a.1);
        assert_eq!(counted(&db, &r.id, "acme", &alice, &reg).await, Some(0));
        // The owner's own first guess leaves 4 of 5: none of the above counted.
        let (s, v) = post(&c, &r, &token(&r.id, &alice, 0), "/v1/recover1", &guess).await;
        assert_eq!((s, v["guesses_left"].as_u64()), (200, Some(4)), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phase2_tag_replayed_from_another_registration_is_a_bad_tag_and_releases_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path(), "replay") {
        let r = spawn("replay-0", &db, 0);
        let alice = user();
        let tok = token(&r.id, &alice, 0);
        // X and Y share every random value (OPRF keys, unlock key, secret,
        // shares): their tags differ only because a tag binds its reg_id, so
        // this catches a tag that stops binding it.
        let (x, y) = same_randomness(&alice, [4; 16], [5; 16], &r.id, 5);
        assert_ne!(x.requests[0].unlock_tag, y.requests[0].unlock_tag, "a tag must bind its registration id");
        let c = reqwest::Client::new();
        for reg in [&x, &y] {
            assert_eq!(post(&c, &r, &tok, "/v1/register", &reg.requests[0]).await.0, 200);
        }
        // Y's phase 1 (one guess counted), then X's valid unlock tag sent for Y.
        let (s, _) = post(&c, &r, &tok, "/v1/recover1", &phase1(b"482916", &alice, &y)).await;
        assert_eq!(s, 200);
        let replay = Recover2Request { reg_id: y.requests[0].reg_id.clone(), ..right_tag(&x) };
        let (s, v) = post(&c, &r, &tok, "/v1/recover2", &replay).await;
        assert_eq!((s, v["error"].as_str(), v["guesses_left"].as_u64()), (403, Some("bad_unlock_tag"), Some(4)), "{v}");
        assert!(v.get("encrypted_share").is_none(), "{v}");
        // X's tag at another realm (realm index 1) is no good either.
        let other_realm =
            Recover2Request { reg_id: y.requests[0].reg_id.clone(), unlock_tag: y.requests[1].unlock_tag.clone() };
        assert_eq!(post(&c, &r, &tok, "/v1/recover2", &other_realm).await.0, 403);
        // Y's own tag releases Y's share, and X still releases X's.
        for reg in [&y, &x] {
            let (s, v) = post(&c, &r, &tok, "/v1/recover2", &right_tag(reg)).await;
            assert_eq!(s, 200, "{v}");
            let got: Recover2Response = serde_json::from_value(v).unwrap();
            assert_eq!(got.encrypted_share, reg.requests[0].encrypted_share);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_registration_erases_itself_after_the_phase2_window_and_then_answers_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path(), "window") {
        let r = spawn_with("window-0", &db, &["--phase2-window-secs=1", "--rate-limit-per-minute=0"]).unwrap();
        let alice = user();
        let tok = token(&r.id, &alice, 0);
        let reg = registration(b"482916", &alice, [6; 16], &r.id, 2);
        let c = reqwest::Client::new();
        assert_eq!(post(&c, &r, &tok, "/v1/register", &reg.requests[0]).await.0, 200);
        // Two phase-1 guesses count out; the client never sends phase 2.
        for left in [1, 0] {
            let (s, v) = post(&c, &r, &tok, "/v1/recover1", &phase1(b"111111", &alice, &reg)).await;
            assert_eq!((s, v["guesses_left"].as_u64()), (200, Some(left)), "{v}");
        }
        // With no further request, the realm erases it and keeps a tombstone (read from its database).
        let store = Db::connect(&db, 1).await.unwrap();
        let k = RegKey { realm: &r.id, issuer: "acme", user: &alice, reg_id: &reg.requests[0].reg_id };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while store.guesses_of(&k).await.unwrap().is_some() {
            assert!(std::time::Instant::now() < deadline, "{db}: the exhausted registration was never erased");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(store.locked_out(&k).await.unwrap(), "{db}: erased without a tombstone");
        // Now every request says locked out, even the right tag; the reg_id is not reused.
        let a = post(&c, &r, &tok, "/v1/recover2", &right_tag(&reg)).await;
        assert_eq!(error_of(&a), (410, Some("locked_out")), "{}", a.1);
        let a = post(&c, &r, &tok, "/v1/recover1", &phase1(b"482916", &alice, &reg)).await;
        assert_eq!(error_of(&a), (410, Some("locked_out")), "{}", a.1);
        let a = post(&c, &r, &tok, "/v1/register", &reg.requests[0]).await;
        assert_eq!(error_of(&a), (409, Some("conflict")), "{}", a.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_registration_still_unlocks_with_the_right_tag_within_the_phase2_window() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path(), "within") {
        let r = spawn_with("within-0", &db, &["--phase2-window-secs=3600"]).unwrap();
        let alice = user();
        let tok = token(&r.id, &alice, 0);
        let reg = registration(b"482916", &alice, [7; 16], &r.id, 2);
        let c = reqwest::Client::new();
        assert_eq!(post(&c, &r, &tok, "/v1/register", &reg.requests[0]).await.0, 200);
        for _ in 0..2 {
            assert_eq!(post(&c, &r, &tok, "/v1/recover1", &phase1(b"482916", &alice, &reg)).await.0, 200);
        }
        // No guess left: phase 1 is refused as "exhausted" (not an erasure
        // yet), and the last guess's phase 2 may still come.
        let a = post(&c, &r, &tok, "/v1/recover1", &phase1(b"482916", &alice, &reg)).await;
        assert_eq!(error_of(&a), (409, Some("exhausted")), "{}", a.1);
        let (s, v) = post(&c, &r, &tok, "/v1/recover2", &right_tag(&reg)).await;
        assert_eq!(s, 200, "{db}: {v}");
        // The count is reset.
        let (s, v) = post(&c, &r, &tok, "/v1/recover1", &phase1(b"482916", &alice, &reg)).await;
        assert_eq!((s, v["guesses_left"].as_u64()), (200, Some(1)), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_issuers_with_the_same_user_and_reg_id_each_reach_only_their_own_registration() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path(), "issuers") {
        let r = spawn_with("issuers-0", &db, &[&trust_beta(), "--rate-limit-per-minute=0"]).unwrap();
        let sub = user();
        let (ta, tb) = (token(&r.id, &sub, 0), beta_token(&r.id, &sub));
        // The same user name and reg_id at both integrators, different secrets.
        let (a, b) =
            (registration(b"482916", &sub, [8; 16], &r.id, 5), registration(b"135790", &sub, [8; 16], &r.id, 5));
        let c = reqwest::Client::new();
        assert_eq!(post(&c, &r, &ta, "/v1/register", &a.requests[0]).await.1["created"], true);
        // Beta cannot guess against, unlock or delete acme's registration.
        let a1 = post(&c, &r, &tb, "/v1/recover1", &phase1(b"482916", &sub, &a)).await;
        assert_eq!(error_of(&a1), (404, Some("not_found")), "{}", a1.1);
        let a2 = post(&c, &r, &tb, "/v1/recover2", &right_tag(&a)).await;
        assert_eq!(error_of(&a2), (404, Some("not_found")), "{}", a2.1);
        assert_eq!(post(&c, &r, &tb, "/v1/delete", &reg_body(&a)).await.1["deleted"], false);
        assert_eq!(counted(&db, &r.id, "acme", &sub, &a).await, Some(0), "{db}: beta counted a guess of acme's");
        // Beta registers its own under the same names: a new registration, not a conflict.
        assert_eq!(post(&c, &r, &tb, "/v1/register", &b.requests[0]).await.1["created"], true);
        for (tok, reg, pin) in [(&ta, &a, b"482916"), (&tb, &b, b"135790")] {
            let (s, v) = post(&c, &r, tok, "/v1/recover1", &phase1(pin, &sub, reg)).await;
            assert_eq!((s, v["guesses_left"].as_u64()), (200, Some(4)), "each counts its own: {v}");
            assert_eq!(v["masked_unlock_share"], serde_json::to_value(&reg.requests[0].masked_unlock_share).unwrap());
        }
        // Acme's tag is wrong for beta's registration; each releases its own share.
        let a2 = post(&c, &r, &tb, "/v1/recover2", &right_tag(&a)).await;
        assert_eq!(error_of(&a2), (403, Some("bad_unlock_tag")), "{}", a2.1);
        for (tok, reg) in [(&ta, &a), (&tb, &b)] {
            let (s, v) = post(&c, &r, tok, "/v1/recover2", &right_tag(reg)).await;
            assert_eq!(s, 200, "{v}");
            let got: Recover2Response = serde_json::from_value(v).unwrap();
            assert_eq!(got.encrypted_share, reg.requests[0].encrypted_share);
        }
        // Beta deletes its own; acme's stays.
        assert_eq!(post(&c, &r, &tb, "/v1/delete", &reg_body(&b)).await.1["deleted"], true);
        assert_eq!(counted(&db, &r.id, "beta", &sub, &b).await, None);
        assert_eq!(counted(&db, &r.id, "acme", &sub, &a).await, Some(0));
        assert_eq!(post(&c, &r, &ta, "/v1/delete", &reg_body(&a)).await.1["deleted"], true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_out_registration_answers_locked_out_but_a_deleted_one_answers_not_found() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path(), "tombstone") {
        let r = spawn("tombstone-0", &db, 0);
        let alice = user();
        let tok = token(&r.id, &alice, 0);
        let (locked, deleted) =
            (registration(b"482916", &alice, [10; 16], &r.id, 1), registration(b"482916", &alice, [11; 16], &r.id, 1));
        let c = reqwest::Client::new();
        for reg in [&locked, &deleted] {
            assert_eq!(post(&c, &r, &tok, "/v1/register", &reg.requests[0]).await.0, 200);
        }
        // The last guess is wrong: phase 2 with a wrong tag erases it.
        let (rec, p1) = Recovery::start(b"111111", &alice, locked.header.clone()).unwrap();
        assert_eq!(post(&c, &r, &tok, "/v1/recover1", &p1[0]).await.0, 200);
        let a = post(&c, &r, &tok, "/v1/recover2", &rec.phase2_wrong().unwrap()).await;
        assert_eq!(error_of(&a), (410, Some("locked_out")), "{}", a.1);
        assert_eq!(counted(&db, &r.id, "acme", &alice, &locked).await, None, "erased");
        // Later: locked out, not "no such registration", even after a delete; the reg_id is refused.
        for _ in 0..2 {
            let a = post(&c, &r, &tok, "/v1/recover1", &phase1(b"482916", &alice, &locked)).await;
            assert_eq!(error_of(&a), (410, Some("locked_out")), "{}", a.1);
            let a = post(&c, &r, &tok, "/v1/recover2", &right_tag(&locked)).await;
            assert_eq!(error_of(&a), (410, Some("locked_out")), "{}", a.1);
            let a = post(&c, &r, &tok, "/v1/register", &locked.requests[0]).await;
            assert_eq!(error_of(&a), (409, Some("conflict")), "{}", a.1);
            assert_eq!(post(&c, &r, &tok, "/v1/delete", &reg_body(&locked)).await.1["deleted"], false);
        }
        // Another user with the same reg_id is not locked out.
        let a = post(&c, &r, &token(&r.id, &user(), 0), "/v1/recover1", &phase1(b"482916", &alice, &locked)).await;
        assert_eq!(error_of(&a), (404, Some("not_found")), "{}", a.1);
        // An explicit delete of a live registration leaves no tombstone.
        assert_eq!(post(&c, &r, &tok, "/v1/delete", &reg_body(&deleted)).await.1["deleted"], true);
        let a = post(&c, &r, &tok, "/v1/recover1", &phase1(b"482916", &alice, &deleted)).await;
        assert_eq!(error_of(&a), (404, Some("not_found")), "{}", a.1);
        let a = post(&c, &r, &tok, "/v1/recover2", &right_tag(&deleted)).await;
        assert_eq!(error_of(&a), (404, Some("not_found")), "{}", a.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_from_before_migration_0003_are_adopted_only_by_the_issuer_the_operator_names() {
    use sqlx::migrate::Migrator;
    let dir = tempfile::tempdir().unwrap();
    // An SQLite database as migrations 0001 and 0002 left it, with one registration.
    let old = dir.path().join("old-migrations");
    std::fs::create_dir(&old).unwrap();
    std::fs::write(old.join("0001_registrations.sql"), include_str!("../migrations/sqlite/0001_registrations.sql"))
        .unwrap();
    std::fs::write(old.join("0002_rate_limits.sql"), include_str!("../migrations/sqlite/0002_rate_limits.sql"))
        .unwrap();
    let db = format!("sqlite:{}", dir.path().join("legacy.sqlite3").display());
    let alice = user();
    let reg = registration(b"482916", &alice, [12; 16], "legacy-0", 5);
    {
        let opts = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&db).unwrap();
        let pool = sqlx::SqlitePool::connect_with(opts.create_if_missing(true)).await.unwrap();
        Migrator::new(old.as_path()).await.unwrap().run(&pool).await.unwrap();
        let q = &reg.requests[0];
        sqlx::query(
            "INSERT INTO registrations (realm_id, user_id, reg_id, share_index, oprf_key, masked_unlock_share, \
             unlock_tag, encrypted_share, max_guesses, guesses, created_at) VALUES ($1, $2, $3, 1, $4, $5, $6, $7, 5, 1, 0)",
        )
        .bind("legacy-0")
        .bind(&alice)
        .bind(&q.reg_id)
        .bind(&q.oprf_key.0)
        .bind(&q.masked_unlock_share.0)
        .bind(&q.unlock_tag.0)
        .bind(&q.encrypted_share.0)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    // Which issuer owns the row is never guessed, not even with one trusted
    // issuer: the realm does not start and says what to do.
    let e = spawn_with("legacy-0", &db, &[&trust_beta()]).unwrap_err();
    assert!(e.contains("migration 0003") && e.contains("--adopt-legacy-rows-as"), "{e}");
    let e = spawn_with("legacy-0", &db, &[]).unwrap_err();
    assert!(e.contains("--adopt-legacy-rows-as"), "{e}");
    // Naming an issuer the realm does not trust is refused.
    let e = spawn_with("legacy-0", &db, &["--adopt-legacy-rows-as=nobody"]).unwrap_err();
    assert!(e.contains("not one of the trusted issuers"), "{e}");
    // The operator names the owner: adopted, with its count.
    let r = spawn_with("legacy-0", &db, &[&trust_beta(), "--adopt-legacy-rows-as=acme"]).unwrap();
    let c = reqwest::Client::new();
    let (s, v) = post(&c, &r, &token(&r.id, &alice, 0), "/v1/recover1", &phase1(b"482916", &alice, &reg)).await;
    assert_eq!((s, v["guesses_left"].as_u64()), (200, Some(3)), "{v}");
    drop(r);
    // Adopted: now a second issuer may be trusted, and it does not see acme's row.
    let r = spawn_with("legacy-0", &db, &[&trust_beta()]).unwrap();
    let a = post(&c, &r, &beta_token(&r.id, &alice), "/v1/recover1", &phase1(b"482916", &alice, &reg)).await;
    assert_eq!(error_of(&a), (404, Some("not_found")), "{}", a.1);
}
