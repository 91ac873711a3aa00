//! Requests per backup and per recovery, and wall time under an injected
//! round-trip delay, against the fake Drive server on 127.0.0.1: the
//! provider's own calls, and whole backups and recoveries under the
//! orchestrator (one upload: the Drive provider's write is verified on
//! upload, so there is no probe and no read-back; then the prune of the
//! superseded backup, after the acknowledgement), the requests made before
//! the acknowledgement, and the orchestrator without pruning
//! (`read_back(false)`, `prune(false)`).
//!
//! `cargo bench -p share-backup-gdrive --bench requests` (optional argument: runs per case, default 20).

use std::sync::Arc;
use std::time::{Duration, Instant};

use share_backup_core::{BackupId, BackupProvider, BackupShare, Configs, Context, Registry, UserId};
use share_backup_fake_drive::{DEFAULT_TOKEN, FakeDrive, RecordedRequest};
use share_backup_gdrive::{DriveConfig, DriveProvider};
use share_backup_orchestrator::{BackupRequest, MemoryStore, Orchestrator, RecordingNotifier, RecoverRequest};

const RTT: Duration = Duration::from_millis(50);

fn ctx(user: &str) -> Context {
    Context::new(UserId::new(user).unwrap(), BackupId::generate().unwrap())
        .with_configs(Configs::new().with(DriveConfig::access_token(DEFAULT_TOKEN)))
}

/// What a request is, in a word.
fn kind(r: &RecordedRequest) -> &'static str {
    match (r.method.as_str(), r.path.as_str()) {
        ("POST", p) if p.starts_with("/upload/") => "upload",
        ("POST", _) => "create folder",
        ("DELETE", _) => "delete",
        ("GET", "/drive/v3/files") => "list",
        ("GET", _) if r.param("alt") == Some("media") => "get media",
        ("GET", _) => "get metadata",
        _ => "other",
    }
}

/// Records how many Drive requests had been made when each `true` went out.
#[derive(Debug)]
struct AckCounter {
    fake: Arc<FakeDrive>,
    at_ack: std::sync::Mutex<Vec<usize>>,
}

#[share_backup_core::async_trait]
impl share_backup_orchestrator::Notifier for AckCounter {
    async fn stored_client_backup_share(
        &self,
        _user: &UserId,
        _method: &share_backup_core::MethodId,
        _backup_id: BackupId,
        _success: bool,
    ) -> share_backup_core::Result<()> {
        self.at_ack.lock().unwrap().push(self.fake.request_count());
        Ok(())
    }
}

#[derive(Default)]
struct Acc {
    requests: usize,
    time: Duration,
    seen: Vec<&'static str>,
}

impl Acc {
    fn add(&mut self, fake: &FakeDrive, t: Instant) {
        self.time += t.elapsed();
        let log = fake.requests();
        self.requests += log.len();
        self.seen = log.iter().map(kind).collect();
    }
}

struct Case {
    name: String,
    requests: f64,
    /// Mean wall time over the injected delay.
    wall: f64,
    /// `wall` per request.
    ratio: f64,
    seen: String,
}

async fn measure(runs: usize, folder: bool) -> Vec<Case> {
    let fake = Arc::new(FakeDrive::start().await.unwrap());
    let acks = Arc::new(AckCounter { fake: fake.clone(), at_ack: Default::default() });
    let mut b = DriveProvider::builder().endpoint(fake.root_url());
    if folder {
        b = b.visible_folder("Wallet backup");
    }
    let p = Arc::new(b.build().unwrap());
    let orch = Orchestrator::builder()
        .registry(Registry::empty().with_provider(p.clone()))
        .store(Arc::new(MemoryStore::new()))
        .notifier(acks.clone())
        .prune_grace(share_backup_orchestrator::MIN_PRUNE_GRACE)
        .build()
        .unwrap();
    // The leanest orchestrator: no key read-back, no pruning.
    let lean = Orchestrator::builder()
        .registry(Registry::empty().with_provider(p.clone()))
        .store(Arc::new(MemoryStore::new()))
        .notifier(Arc::new(RecordingNotifier::new()))
        .read_back(false)
        .prune(false)
        .build()
        .unwrap();
    let backup = |user: &UserId| {
        BackupRequest::new(user.clone(), BackupShare::from_slice(b"a client key share").unwrap())
            .with_config(DriveConfig::access_token(DEFAULT_TOKEN))
    };
    let recover =
        |user: &UserId| RecoverRequest::new(user.clone()).with_config(DriveConfig::access_token(DEFAULT_TOKEN));
    // Warm up the connection pool (and, in folder mode, make the folder and cache its id).
    let warm = ctx("warm-up");
    let s = p.seal_key(&warm).await.unwrap();
    p.open_key(&s.header, &warm).await.unwrap();
    let repeat_user = UserId::new("repeat-user").unwrap();
    orch.backup(backup(&repeat_user)).await.unwrap();
    lean.backup(backup(&repeat_user)).await.unwrap();
    fake.set_latency(RTT);

    let (mut seal, mut open, mut fallback) = (Acc::default(), Acc::default(), Acc::default());
    let (mut first, mut again, mut restore) = (Acc::default(), Acc::default(), Acc::default());
    let mut lean_again = Acc::default();
    let mut before_ack = 0usize;
    for i in 0..runs {
        let c = ctx("warm-up").with_backup_id(BackupId::generate().unwrap());
        fake.clear_requests();
        let t = Instant::now();
        let sealed = p.seal_key(&c).await.unwrap();
        seal.add(&fake, t);

        fake.clear_requests();
        let t = Instant::now();
        p.open_key(&sealed.header, &c).await.unwrap();
        open.add(&fake, t);

        // The id in the header is gone: lookup by name, then get.
        let id = fake.files().into_iter().rev().find(|f| !f.is_folder()).unwrap().id;
        fake.reissue_id(&id).unwrap();
        fake.clear_requests();
        let t = Instant::now();
        p.open_key(&sealed.header, &c).await.unwrap();
        fallback.add(&fake, t);

        // A user's first backup under the orchestrator (nothing to prune).
        let new_user = UserId::new(format!("new-user-{i}")).unwrap();
        fake.clear_requests();
        let t = Instant::now();
        orch.backup(backup(&new_user)).await.unwrap();
        first.add(&fake, t);

        // A backup that replaces the user's previous one, which is then pruned.
        fake.clear_requests();
        acks.at_ack.lock().unwrap().clear();
        let t = Instant::now();
        let r = orch.backup(backup(&repeat_user)).await.unwrap();
        again.add(&fake, t);
        before_ack += acks.at_ack.lock().unwrap()[0];
        assert_eq!(r.pruned.len(), 1, "the previous backup is pruned");

        fake.clear_requests();
        let t = Instant::now();
        orch.recover(recover(&repeat_user)).await.unwrap();
        restore.add(&fake, t);

        // The same replacing backup with read_back(false) and prune(false).
        fake.clear_requests();
        let t = Instant::now();
        lean.backup(backup(&repeat_user)).await.unwrap();
        lean_again.add(&fake, t);
    }
    let n = runs as f64;
    let mode = if folder { "folder" } else { "appdata" };
    let mut out = Vec::new();
    for (name, acc) in [
        ("provider: backup (seal_key)", seal),
        ("provider: recovery (open_key)", open),
        ("provider: recovery, id gone", fallback),
        ("orchestrator: first backup of a user", first),
        ("orchestrator: backup replacing the previous one", again),
        ("orchestrator: recovery", restore),
        ("orchestrator, prune(false): any backup", lean_again),
    ] {
        let requests = acc.requests as f64 / n;
        let wall = acc.time.as_secs_f64() / n / RTT.as_secs_f64();
        out.push(Case {
            name: format!("{name} ({mode})"),
            requests,
            wall,
            ratio: wall / requests,
            seen: acc.seen.join(", "),
        });
    }
    out.push(Case {
        name: format!("orchestrator: replacing backup, requests before the acknowledgement ({mode})"),
        requests: before_ack as f64 / n,
        wall: f64::NAN,
        ratio: f64::NAN,
        seen: "upload".to_owned(),
    });
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
    println!("| operation | requests | the requests | wall time / 50 ms | per request (goal <= 1.1) |");
    println!("| --- | --- | --- | --- | --- |");
    for c in cases {
        let f = |x: f64| if x.is_nan() { "-".to_owned() } else { format!("{x:.3}") };
        println!("| {} | {:.2} | {} | {} | {} |", c.name, c.requests, c.seen, f(c.wall), f(c.ratio));
    }
}
