//! Real realm processes (the built binary on 127.0.0.1:0) over SQLite and,
//! when `SHARE_BACKUP_REALM_TEST_POSTGRES_URL` is set, PostgreSQL.

use serde_json::Value;
use share_backup_realm::RealmProcess;
use share_backup_realm_protocol::{Claims, Recover1Response, Recovery, SigningKey, mint, register};

const PG_ENV: &str = "SHARE_BACKUP_REALM_TEST_POSTGRES_URL";

/// A realm process; `url` without its trailing slash (paths start with one).
struct Realm {
    process: RealmProcess,
    url: String,
    id: String,
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

fn spawn(id: &str, db: &str, rate: u32) -> Realm {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_share-backup-realm"));
    let rate = format!("--rate-limit-per-minute={rate}");
    let process = RealmProcess::spawn(bin, id, db, "acme", &key().verifying_key(), &[&rate]).unwrap();
    Realm { url: process.url().trim_end_matches('/').to_string(), id: id.into(), process }
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

fn user() -> String {
    let mut b = [0u8; 8];
    getrandom(&mut b);
    format!("user-{}", hex::encode(b))
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
        assert!(statuses.iter().all(|s| [200, 404, 410].contains(s)), "{statuses:?}");
        // Locked out: the next guess is refused as such, not as an unknown registration.
        let (s, v) = post(&c, r0, &token(&r0.id, &user, 0), "/v1/recover1", &p1[0]).await;
        assert_eq!((s, v["error"].as_str()), (410, Some("locked_out")), "{v}");
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
