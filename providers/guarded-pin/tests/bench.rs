//! Figures for BENCHMARKS.md (ignored by default; no timed assertion):
//! `cargo test -p share-backup-guarded-pin --test bench -- --ignored --nocapture`
//! (PostgreSQL figures when SHARE_BACKUP_REALM_TEST_POSTGRES_URL is set).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use share_backup_core::{BackupId, BackupProvider, Configs, Context, UserId};
use share_backup_guarded_pin::{GuardedPinProvider, PinConfig, Realm, SigningTokenSource};
use share_backup_realm::LocalRealm;
use share_backup_realm_protocol::{Claims, Recovery, SigningKey, mint, register};

fn key() -> SigningKey {
    SigningKey::from_bytes(&[3u8; 32])
}

/// The delaying proxy: upstream, latency, client, and the latency it
/// actually injected per request (a tokio sleep ends on the timer's next
/// millisecond tick or later, so it overshoots what was asked).
#[derive(Clone)]
struct Delay(String, Duration, reqwest::Client, Arc<std::sync::Mutex<Vec<Duration>>>);

async fn delayed(
    State(d): State<Delay>,
    Path(op): Path<String>,
    h: HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, [(axum::http::HeaderName, &'static str); 1], Bytes) {
    let t0 = Instant::now();
    tokio::time::sleep(d.1).await;
    d.3.lock().unwrap().push(t0.elapsed());
    let r =
        d.2.post(format!("{}v1/{op}", d.0))
            .header("authorization", h.get("authorization").unwrap().to_str().unwrap())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
    let s = axum::http::StatusCode::from_u16(r.status().as_u16()).unwrap();
    (s, [(axum::http::header::CONTENT_TYPE, "application/json")], r.bytes().await.unwrap())
}

async fn delay_proxy(upstream: &str, d: Duration, injected: Arc<std::sync::Mutex<Vec<Duration>>>) -> String {
    let app = axum::Router::new().route("/v1/{op}", axum::routing::post(delayed)).with_state(Delay(
        upstream.into(),
        d,
        reqwest::Client::new(),
        injected,
    ));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

fn ctx(pin: &str, id: BackupId) -> Context {
    Context::new(UserId::new("bench").unwrap(), id).with_configs(Configs::new().with(PinConfig::new(pin)))
}

fn token(realm: &str, user: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    mint(&key(), &Claims { iss: "acme".into(), sub: user.into(), aud: realm.into(), iat: now, exp: now + 300 })
}

/// Registers and guesses per second at one realm; `rate`: each token's
/// per-minute budget (0: off; on, each request also counts in the database).
async fn throughput(db: &str, label: &str, rate: u32) {
    let realm = LocalRealm::start("tp", db, "acme", key().verifying_key(), rate).unwrap();
    let c = reqwest::Client::new();
    let n_users = 40;
    let t0 = Instant::now();
    let mut regs = vec![];
    for u in 0..n_users {
        let user = format!("tp-{label}-{rate}-{u}-{}", std::process::id());
        let reg = register(b"482916", &user, [u as u8; 16], &["tp".to_string(), "other".to_string()], 2, 1000).unwrap();
        let tok = token("tp", &user);
        c.post(format!("{}v1/register", realm.url()))
            .bearer_auth(&tok)
            .json(&reg.requests[0])
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        regs.push((user, tok, reg));
    }
    let reg_rate = n_users as f64 / t0.elapsed().as_secs_f64();
    let per_user = 25;
    let t0 = Instant::now();
    let tasks = regs.iter().map(|(user, tok, reg)| {
        let (c, url) = (c.clone(), format!("{}v1/recover1", realm.url()));
        let (_r, p1) = Recovery::start(b"000001", user, reg.header.clone()).unwrap();
        let (tok, body) = (tok.clone(), p1[0].clone());
        async move {
            for _ in 0..per_user {
                c.post(&url).bearer_auth(&tok).json(&body).send().await.unwrap().error_for_status().unwrap();
            }
        }
    });
    futures::future::join_all(tasks).await;
    let guesses = (n_users * per_user) as f64 / t0.elapsed().as_secs_f64();
    println!(
        "{label} (rate limit {}): registers/s {reg_rate:.0} (sequential), guesses/s {guesses:.0} (40 concurrent clients, realm + client on the same 2 cores)",
        if rate == 0 { "off".to_string() } else { format!("{rate}/min, counted in the database") }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_guarded_pin() {
    let dir = tempfile::tempdir().unwrap();
    let realms: Vec<LocalRealm> = (0..3)
        .map(|i| {
            LocalRealm::start(
                &format!("b{i}"),
                &format!("sqlite:{}", dir.path().join(format!("b{i}.db")).display()),
                "acme",
                key().verifying_key(),
                0,
            )
            .unwrap()
        })
        .collect();
    let delay = Duration::from_millis(50);
    let mut b = GuardedPinProvider::builder()
        .threshold(2)
        .max_guesses(1000)
        .token_source(Arc::new(SigningTokenSource::new("acme", key())));
    let injected = Arc::new(std::sync::Mutex::new(Vec::new()));
    for r in &realms {
        b = b.realm(Realm::new(r.id(), &delay_proxy(r.url(), delay, injected.clone()).await).unwrap());
    }
    let p = b.build().unwrap();
    let (mut nominal, mut measured) = (vec![], vec![]);
    for _ in 0..10 {
        let id = BackupId::generate().unwrap();
        let sealed = p.seal_key(&ctx("482916", id)).await.unwrap();
        injected.lock().unwrap().clear();
        let t0 = Instant::now();
        p.open_key(&sealed.header, &ctx("482916", id)).await.unwrap();
        let wall = t0.elapsed().as_secs_f64();
        let got = injected.lock().unwrap().clone();
        let mean = got.iter().map(Duration::as_secs_f64).sum::<f64>() / got.len() as f64;
        nominal.push(wall / delay.as_secs_f64());
        measured.push(wall / mean);
    }
    nominal.sort_by(f64::total_cmp);
    measured.sort_by(f64::total_cmp);
    println!(
        "recovery wall / injected per-request latency (3 realms, t = 2, 10 runs): \
         / 50 ms asked: median {:.3}, max {:.3}; / latency actually injected (mean of the run's sleeps): median {:.3}, max {:.3}",
        nominal[5], nominal[9], measured[5], measured[9]
    );

    // Backup wall time: guarded PIN (no injected latency) vs password at default costs.
    let mut b =
        GuardedPinProvider::builder().threshold(2).token_source(Arc::new(SigningTokenSource::new("acme", key())));
    for r in &realms {
        b = b.realm(Realm::new(r.id(), r.url()).unwrap());
    }
    let g = b.build().unwrap();
    let t0 = Instant::now();
    for _ in 0..10 {
        g.seal_key(&ctx("482916", BackupId::generate().unwrap())).await.unwrap();
    }
    let guarded = t0.elapsed().as_secs_f64() / 10.0;
    // Recovery without any injected latency: the local work of both phases
    // (client OPRF and Shamir, token signing and checking, the realms' SQLite commits).
    let mut local = vec![];
    for _ in 0..10 {
        let id = BackupId::generate().unwrap();
        let sealed = g.seal_key(&ctx("482916", id)).await.unwrap();
        let t0 = Instant::now();
        g.open_key(&sealed.header, &ctx("482916", id)).await.unwrap();
        local.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    local.sort_by(f64::total_cmp);
    println!("recovery wall without injected latency: median {:.2} ms, max {:.2} ms", local[5], local[9]);
    let pw = share_backup_password::PasswordProvider::default();
    let pctx = Context::new(UserId::new("bench").unwrap(), BackupId::generate().unwrap()).with_configs(
        Configs::new().with(share_backup_password::PasswordConfig::new("violet tractor 8c1e under the bridge")),
    );
    let t0 = Instant::now();
    for _ in 0..3 {
        pw.seal_key(&pctx).await.unwrap();
    }
    let password = t0.elapsed().as_secs_f64() / 3.0;
    println!(
        "backup seal_key wall: guarded-pin {:.1} ms, password (default KDF) {:.1} ms, ratio {:.4}",
        guarded * 1e3,
        password * 1e3,
        guarded / password
    );

    for rate in [0, 1_000_000] {
        throughput(&format!("sqlite:{}", dir.path().join(format!("tp{rate}.db")).display()), "sqlite", rate).await;
        if let Ok(url) = std::env::var("SHARE_BACKUP_REALM_TEST_POSTGRES_URL") {
            throughput(&url, "postgres", rate).await;
        }
    }
}
