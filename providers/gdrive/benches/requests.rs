//! Requests per backup and per recovery, and wall time under an injected
//! round-trip delay, against the fake Drive server on 127.0.0.1.
//!
//! `cargo bench -p share-backup-gdrive --bench requests` (optional argument: runs per case, default 20).

use std::time::{Duration, Instant};

use share_backup_core::{BackupId, BackupProvider, Configs, Context, UserId};
use share_backup_fake_drive::{DEFAULT_TOKEN, FakeDrive};
use share_backup_gdrive::{DriveConfig, DriveProvider};

const RTT: Duration = Duration::from_millis(50);

fn ctx(user: &str) -> Context {
    Context::new(UserId::new(user).unwrap(), BackupId::generate().unwrap())
        .with_configs(Configs::new().with(DriveConfig::access_token(DEFAULT_TOKEN)))
}

struct Case {
    name: &'static str,
    requests: f64,
    /// Mean wall time over the injected delay.
    wall: f64,
    /// `wall` per request.
    ratio: f64,
}

async fn measure(runs: usize, folder: bool) -> Vec<Case> {
    let fake = FakeDrive::start().await.unwrap();
    let mut b = DriveProvider::builder().endpoint(fake.root_url());
    if folder {
        b = b.visible_folder("Wallet backup");
    }
    let p = b.build().unwrap();
    // Warm up the connection pool (and, in folder mode, the folder cache).
    let warm = ctx("warm-up");
    let s = p.seal_key(&warm).await.unwrap();
    p.open_key(&s.header, &warm).await.unwrap();
    fake.set_latency(RTT);

    let (mut seal_req, mut seal_time, mut open_req, mut open_time, mut fb_req, mut fb_time) =
        (0usize, Duration::ZERO, 0usize, Duration::ZERO, 0usize, Duration::ZERO);
    for _ in 0..runs {
        let c = ctx("warm-up").with_backup_id(BackupId::generate().unwrap());
        fake.clear_requests();
        let t = Instant::now();
        let sealed = p.seal_key(&c).await.unwrap();
        seal_time += t.elapsed();
        seal_req += fake.request_count();

        fake.clear_requests();
        let t = Instant::now();
        p.open_key(&sealed.header, &c).await.unwrap();
        open_time += t.elapsed();
        open_req += fake.request_count();

        // The id in the header is gone: lookup by name, then get.
        let id = fake.files().into_iter().rev().find(|f| !f.is_folder()).unwrap().id;
        fake.reissue_id(&id).unwrap();
        fake.clear_requests();
        let t = Instant::now();
        p.open_key(&sealed.header, &c).await.unwrap();
        fb_time += t.elapsed();
        fb_req += fake.request_count();
    }
    let n = runs as f64;
    let per = |req: usize, time: Duration| {
        let requests = req as f64 / n;
        let wall = time.as_secs_f64() / n / RTT.as_secs_f64();
        (requests, wall, wall / requests)
    };
    let mut out = Vec::new();
    for (name, req, time) in [
        (if folder { "backup (folder)" } else { "backup (appdata)" }, seal_req, seal_time),
        (if folder { "recovery (folder)" } else { "recovery (appdata)" }, open_req, open_time),
        (if folder { "recovery, id gone (folder)" } else { "recovery, id gone (appdata)" }, fb_req, fb_time),
    ] {
        let (requests, wall, ratio) = per(req, time);
        out.push(Case { name, requests, wall, ratio });
    }
    out
}

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut cases = rt.block_on(measure(runs, false));
    cases.extend(rt.block_on(measure(runs, true)));
    println!(
        "gdrive provider against the fake Drive, {runs} runs per case, {} ms injected per request",
        RTT.as_millis()
    );
    println!(
        "| operation | requests (goal 1; Portal SDK: backup 3, recovery 2) | wall time / 50 ms | per request (goal <= 1.1) |"
    );
    println!("| --- | --- | --- | --- |");
    for c in cases {
        println!("| {} | {:.2} | {:.3} | {:.3} |", c.name, c.requests, c.wall, c.ratio);
    }
}
