//! Two processes backing up one user at the same moment, through the whole
//! orchestrator, on a real local directory and on moto's S3 server: one
//! winner, and nothing lost.
//!
//! The test binary re-executes itself: with `SB_RACE_CHILD` set, the
//! `race_child` test is one competing process (it does nothing otherwise).
//! Each round starts two children that back up *different* shares of the
//! same user and method into the same store, released together by a go file
//! that names an instant, each after its own random delay (both none; one
//! of them up to half a backup's duration; both up to two durations, the
//! duration measured in the previous round) so that the rounds cover every
//! interleaving, from fully overlapping to sequential. Both children warm up
//! their connection before the go, and the password KDF runs at its minimum
//! cost, so the race window is the store protocol. The rounds follow each
//! other on the same user, so every round supersedes the previous round's
//! winner. Each child prints one `RACE-OUTCOME` line: `ok` with its backup
//! id and the previous version its receipt names, or `err` with the error
//! kind and its [`IncompleteBackup`] detail. While the children run, the
//! parent recovers the user in a loop on a third store instance.
//!
//! The wallet service is one `share_backup_tests::FileNotifier` file shared
//! by both processes (one synced `write` per line on an `O_APPEND` file, so
//! their lines never interleave and their order is the order the wallet
//! service heard them).
//!
//! What is asserted after every round, which is what the orchestrator
//! promises (README: "Concurrency" and "When the protocol stops after
//! staging"):
//! - **One winner.** At least one child is `Ok`. Both are `Ok` only when
//!   they ran one after the other: the second's receipt names the first as
//!   its previous version. A loser gets `Conflict` (never `Ok`, never another
//!   kind) with an `IncompleteBackup` naming its own staged backup id and,
//!   as `current`, the winner; it was acknowledged (`true`) exactly when it
//!   passed the check before the acknowledgement and then lost the commit's
//!   compare-and-swap, and then it acknowledged the winner again.
//! - **The store agrees.** A fresh store instance's current version is the
//!   last winner, its listing has exactly one current version (that one),
//!   and a fresh orchestrator recovers the winner's share, as does the
//!   parent's long-lived store instance (its commit cache is stale).
//! - **Nothing lost.** The loser's envelope is still stored (staged, within
//!   the prune grace) and parses as its own backup id. Every recovery the
//!   parent ran during the round succeeded and gave the previous round's
//!   share or a winner's share (never the loser's, never an error), and the
//!   successive recoveries never went back. Every acknowledged backup id is
//!   still stored, except winners of earlier rounds that a later winner
//!   superseded and pruned.
//! - **The wallet service.** Nobody is told `false` (the loser of a race is
//!   not told `false`: the winner acknowledged itself). Each winner was told
//!   `true`. The wallet service's view (the last `true` not withdrawn)
//!   names the store's current version, also when both processes passed
//!   the check and the loser's `true` arrived after the winner's: the loser
//!   then lost the commit and acknowledged the winner again
//!   (`IncompleteBackup::current_reacknowledged`), and that `true` is the
//!   last one. At the end, `commit_staged` of the last loser's staged backup
//!   makes it current and acknowledged, and recovers its share.
//!
//! Run it with `--nocapture` to see the figures:
//! `eval "$(scripts/test-servers.sh start)" && cargo test -p share-backup-tests --test race -- --nocapture`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use share_backup_core::{BackupId, BackupShare, Configs, Envelope, ExposeSecret, MethodId, Registry, Result, UserId};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_orchestrator::{
    BackupRequest, CipherTextStore, IncompleteBackup, Orchestrator, RecoverRequest, VersionState,
};
use share_backup_password::PasswordConfig;
use share_backup_tests::{Ack, Backend, FileNotifier, backend, fast_password_provider, unique};

const PASSWORD: &str = "tangerine vortex 91 quietly marble";
const M: MethodId = MethodId::PASSWORD;
const CHILD: &str = "SB_RACE_CHILD";
const OUTCOME: &str = "RACE-OUTCOME ";

fn orchestrator(store: Arc<dyn CipherTextStore>, log: &Path) -> Orchestrator {
    Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(fast_password_provider()))
        .store(store)
        .notifier(Arc::new(FileNotifier::new(log)))
        .build()
        .unwrap()
}

fn backup_req(u: &UserId, share: &[u8]) -> BackupRequest {
    BackupRequest::new(u.clone(), BackupShare::from_slice(share).unwrap())
        .with_method(M)
        .with_config(PasswordConfig::new(PASSWORD))
}

async fn recover(orch: &Orchestrator, u: &UserId) -> Result<Vec<u8>> {
    let r = orch.recover(RecoverRequest::new(u.clone()).with_method(M).with_config(PasswordConfig::new(PASSWORD)));
    Ok(r.await?.share().expose_secret().to_vec())
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    share_backup_core::fill_random(&mut b).unwrap();
    if n == 0 { 0 } else { u64::from_le_bytes(b) % n }
}

fn env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("the parent sets {var}"))
}

fn show(id: Option<BackupId>) -> String {
    id.map_or_else(|| "none".to_owned(), |b| b.to_hex())
}

/// Where the children find the store: a directory, or a URL and options.
fn open_store(location: &str, options: &str) -> ObjectCipherTextStore {
    if let Some(dir) = location.strip_prefix("dir:") {
        ObjectCipherTextStore::local_dir(dir).unwrap()
    } else {
        share_backup_object_store::install_default_crypto_provider();
        let options: Vec<(String, String)> = serde_json::from_str(options).unwrap();
        ObjectCipherTextStore::from_url(location, options).unwrap()
    }
}

/// One competing process (does nothing unless started by a parent test).
#[tokio::test]
async fn race_child() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let tag = env("SB_RACE_TAG");
    let store = open_store(&env("SB_RACE_LOCATION"), &env("SB_RACE_OPTIONS"));
    // Open the connection (another user: this process knows nothing of ours yet).
    store.current(&UserId::new(format!("warm-up-{tag}")).unwrap().into(), &M).await.unwrap();
    let orch = orchestrator(Arc::new(store), Path::new(&env("SB_RACE_LOG")));
    let u = UserId::new(env("SB_RACE_USER")).unwrap();
    let share = hex::decode(env("SB_RACE_SHARE")).unwrap();
    let delay = Duration::from_micros(env("SB_RACE_DELAY_US").parse().unwrap());
    let ready = PathBuf::from(env("SB_RACE_READY"));
    std::fs::write(ready.with_extension("tmp"), b"").unwrap();
    std::fs::rename(ready.with_extension("tmp"), &ready).unwrap();
    // Wait for the go file, then for the instant it names, then our delay.
    let go = PathBuf::from(env("SB_RACE_GO"));
    let at: u64 = loop {
        if let Ok(s) = std::fs::read_to_string(&go)
            && let Ok(at) = s.trim().parse()
        {
            break at;
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    if let Some(wait) = at.checked_sub(now_us() + 2000) {
        std::thread::sleep(Duration::from_micros(wait));
    }
    while now_us() < at {
        std::hint::spin_loop();
    }
    std::thread::sleep(delay);
    let start = now_us();
    let r = orch.backup(backup_req(&u, &share)).await;
    let end = now_us();
    let head = format!("{OUTCOME}tag={tag} start={start} end={end}");
    match r {
        Ok(receipt) => println!("{head} ok id={} previous={}", receipt.backup_id, show(receipt.previous)),
        Err(e) => {
            let inc = IncompleteBackup::find(&e);
            println!(
                "{head} err kind={} incomplete={} acknowledged={} reacked={} id={} current={} msg={}",
                e.kind().name(),
                inc.is_some(),
                inc.is_some_and(|i| i.acknowledged),
                inc.is_some_and(|i| i.current_reacknowledged),
                show(inc.map(|i| i.backup_id)),
                show(inc.and_then(|i| i.current)),
                format!("{e:#}").replace('\n', " | ")
            );
        }
    }
}

/// A child's `RACE-OUTCOME` line, parsed.
#[derive(Clone, Debug)]
struct Outcome {
    tag: String,
    start: u64,
    end: u64,
    share: Vec<u8>,
    ok: bool,
    /// Ok: the receipt's id; err: the `IncompleteBackup`'s, if any.
    id: Option<BackupId>,
    /// Ok: the receipt's previous version.
    previous: Option<BackupId>,
    kind: String,
    incomplete: bool,
    acknowledged: bool,
    /// Err: whether it acknowledged the winner again after losing the commit.
    reacked: bool,
    /// Err: the `IncompleteBackup`'s current version.
    inc_current: Option<BackupId>,
    msg: String,
}

fn parse_outcome(stdout: &str, share: Vec<u8>) -> Outcome {
    let line = stdout
        .lines()
        .find_map(|l| l.find(OUTCOME).map(|at| &l[at + OUTCOME.len()..]))
        .unwrap_or_else(|| panic!("no outcome line in the child's output: {stdout}"));
    let (line, msg) = line.split_once(" msg=").unwrap_or((line, ""));
    let mut o = Outcome {
        tag: String::new(),
        start: 0,
        end: 0,
        share,
        ok: false,
        id: None,
        previous: None,
        kind: String::new(),
        incomplete: false,
        acknowledged: false,
        reacked: false,
        inc_current: None,
        msg: msg.to_owned(),
    };
    let id = |v: &str| if v == "none" { None } else { Some(v.parse::<BackupId>().unwrap()) };
    for token in line.split(' ') {
        match token.split_once('=') {
            None if token == "ok" => o.ok = true,
            None if token == "err" => o.ok = false,
            Some(("tag", v)) => o.tag = v.to_owned(),
            Some(("start", v)) => o.start = v.parse().unwrap(),
            Some(("end", v)) => o.end = v.parse().unwrap(),
            Some(("id", v)) => o.id = id(v),
            Some(("previous", v)) => o.previous = id(v),
            Some(("kind", v)) => o.kind = v.to_owned(),
            Some(("incomplete", v)) => o.incomplete = v == "true",
            Some(("acknowledged", v)) => o.acknowledged = v == "true",
            Some(("reacked", v)) => o.reacked = v == "true",
            Some(("current", v)) => o.inc_current = id(v),
            _ => panic!("unexpected token {token:?} in {line:?}"),
        }
    }
    o
}

struct ChildSpec<'a> {
    tag: &'a str,
    location: &'a str,
    options: &'a str,
    user: &'a UserId,
    share: &'a [u8],
    log: &'a Path,
    ready: PathBuf,
    go: &'a Path,
    delay_us: u64,
}

fn spawn_child(s: &ChildSpec<'_>) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["race_child", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD, "1")
        .env("SB_RACE_TAG", s.tag)
        .env("SB_RACE_LOCATION", s.location)
        .env("SB_RACE_OPTIONS", s.options)
        .env("SB_RACE_USER", s.user.as_str())
        .env("SB_RACE_SHARE", hex::encode(s.share))
        .env("SB_RACE_LOG", s.log)
        .env("SB_RACE_READY", &s.ready)
        .env("SB_RACE_GO", s.go)
        .env("SB_RACE_DELAY_US", s.delay_us.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a child")
}

/// The two children of a round; a child still running when this is dropped
/// (the parent test failed) is killed, so that no process outlives the test.
struct Kids(Vec<Child>);

impl Drop for Kids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            if c.try_wait().ok().flatten().is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn stderr_of(c: &mut Child) -> String {
    let mut err = String::new();
    if let Some(mut e) = c.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    err
}

impl Kids {
    async fn wait_ready(&mut self, ready: &[PathBuf]) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.iter().all(|r| r.exists()) {
            for c in &mut self.0 {
                if let Some(status) = c.try_wait().unwrap() {
                    panic!("a child exited with {status} before it was ready: {}", stderr_of(c));
                }
            }
            assert!(Instant::now() < deadline, "the children were not ready within 60 s (is the server up?)");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Each child's stdout, once both exited successfully.
    async fn wait_exit(&mut self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.0.iter_mut().any(|c| c.try_wait().unwrap().is_none()) {
            assert!(Instant::now() < deadline, "a child did not finish its backup within 120 s");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut out = Vec::new();
        for c in self.0.drain(..) {
            let o = c.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "a child failed ({}): {stdout}\n{stderr}", o.status);
            out.push(stdout);
        }
        out
    }
}

/// What the recoveries during a round saw, in order (distinct values only).
#[derive(Debug, Default)]
struct Observed {
    reads: usize,
    sequence: Vec<Vec<u8>>,
    errors: Vec<String>,
}

/// Recovers `u` until `stop`, noting each change of the recovered share.
async fn observe(orch: Orchestrator, u: UserId, stop: Arc<AtomicBool>) -> Observed {
    let mut seen = Observed::default();
    while !stop.load(Ordering::Relaxed) {
        match recover(&orch, &u).await {
            Ok(share) => {
                if seen.sequence.last() != Some(&share) {
                    seen.sequence.push(share);
                }
            }
            Err(e) => seen.errors.push(format!("{}: {e:#}", e.kind().name())),
        }
        seen.reads += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    seen
}

#[derive(Debug, Default)]
struct Figures {
    rounds: usize,
    overlapping: usize,
    sequential_both_ok: usize,
    lost_at_check: usize,
    lost_at_commit: usize,
    loser_told_before_winner_again: usize,
    observer_reads: usize,
    observer_changes: usize,
    loser_kinds: BTreeMap<String, usize>,
    child_backup_ms: Vec<f64>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn acks_of<'a>(acks: &'a [Ack], u: &UserId) -> impl Iterator<Item = (usize, &'a Ack)> {
    acks.iter().enumerate().filter(move |(_, a)| a.user == u.as_str() && a.method == M.as_str())
}

/// One race test at a time: each runs three processes on two cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn race_on(b: &Backend, rounds: usize) {
    let _serial = SERIAL.lock().await;
    let t_all = Instant::now();
    let (location, options) = match b.dir() {
        Some(dir) => (format!("dir:{}", dir.display()), "[]".to_owned()),
        None => (b.url.clone(), serde_json::to_string(&b.options).unwrap()),
    };
    let root = tempfile::tempdir().unwrap();
    let log = root.path().join("acks");
    let u = UserId::new(unique("race")).unwrap();
    let orch = orchestrator(Arc::new(b.reopen().unwrap()), &log);
    let mut prev_share = b"round zero share".to_vec();
    let first = orch.backup(backup_req(&u, &prev_share)).await.unwrap().backup_id;
    // One backup's duration, superseding: the range of the children's delays.
    let t0 = Instant::now();
    prev_share = b"round zero share, again".to_vec();
    let mut prev = orch.backup(backup_req(&u, &prev_share)).await.unwrap().backup_id;
    // Then the children's own (slower: cold processes, sharing the cores).
    let mut span_us = (t0.elapsed().as_micros() as u64).max(1000);
    let parent_backup_us = span_us;
    // Winners a later winner superseded (and pruned).
    let mut superseded: HashSet<BackupId> = HashSet::from([first]);
    let observer = orchestrator(Arc::new(b.reopen().unwrap()), &log);
    let mut f = Figures::default();
    let mut last_loser: Option<Outcome> = None;

    for round in 0..rounds {
        let what = format!("{} round {round}", b.name);
        let shares = [format!("round {round} share A").into_bytes(), format!("round {round} share B").into_bytes()];
        // Together, one late by up to half a backup, or both late by up to
        // two backups (which gives rounds that run one after the other).
        let delays = match round % 4 {
            0 => [0, 0],
            1 => [random_below(span_us / 2), 0],
            2 => [0, random_below(span_us / 2)],
            _ => [random_below(2 * span_us), random_below(2 * span_us)],
        };
        let go = root.path().join(format!("go-{round}"));
        let specs: Vec<ChildSpec<'_>> = ["A", "B"]
            .iter()
            .enumerate()
            .map(|(i, tag)| ChildSpec {
                tag,
                location: &location,
                options: &options,
                user: &u,
                share: &shares[i],
                log: &log,
                ready: root.path().join(format!("ready-{round}-{tag}")),
                go: &go,
                delay_us: delays[i],
            })
            .collect();
        let mut children = Kids(specs.iter().map(spawn_child).collect());
        let ready: Vec<PathBuf> = specs.iter().map(|s| s.ready.clone()).collect();
        children.wait_ready(&ready).await;
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = tokio::spawn(observe(observer.clone(), u.clone(), stop.clone()));
        std::fs::write(go.with_extension("tmp"), (now_us() + 20_000).to_string()).unwrap();
        std::fs::rename(go.with_extension("tmp"), &go).unwrap();
        let stdouts = children.wait_exit().await;
        stop.store(true, Ordering::Relaxed);
        let seen = watcher.await.unwrap();
        let outs: Vec<Outcome> =
            stdouts.iter().zip(&shares).map(|(s, share)| parse_outcome(s, share.clone())).collect();
        let [a, bb] = [&outs[0], &outs[1]];
        let overlapping = a.start < bb.end && bb.start < a.end;

        // One winner: the Ok outcomes form a chain from the previous version.
        let mut chain: Vec<&Outcome> = Vec::new();
        let mut at = Some(prev);
        while let Some(next) = outs.iter().find(|o| o.ok && o.previous == at && !chain.iter().any(|c| c.tag == o.tag)) {
            at = next.id;
            chain.push(next);
        }
        let oks = outs.iter().filter(|o| o.ok).count();
        assert!(oks >= 1, "{what}: no winner: {outs:#?}");
        assert_eq!(chain.len(), oks, "{what}: Ok outcomes that do not follow each other (two winners?): {outs:#?}");
        let winner = *chain.last().unwrap();
        let current_id = winner.id.unwrap();
        let loser = outs.iter().find(|o| !o.ok);
        if let Some(l) = loser {
            assert_eq!(l.kind, "conflict", "{what}: the loser's error: {l:#?}");
            assert!(l.incomplete, "{what}: a Conflict without IncompleteBackup: {l:#?}");
            assert!(l.id.is_some(), "{what}: {l:#?}");
            // The winner, or (when the loser was refused while the winner was
            // still between its record and its commit) the version both read.
            assert!(
                l.inc_current == Some(current_id) || l.inc_current == Some(prev),
                "{what}: the loser's detail names the winner or the version both read: {l:#?}"
            );
            assert_eq!(
                l.reacked, l.acknowledged,
                "{what}: an acknowledged loser acknowledges the winner again: {l:#?}"
            );
            if f.loser_kinds.is_empty() {
                eprintln!("{what}: the loser's error, for example: {}", l.msg);
            }
            *f.loser_kinds.entry(format!("{}(acknowledged={})", l.kind, l.acknowledged)).or_default() += 1;
            if l.acknowledged { f.lost_at_commit += 1 } else { f.lost_at_check += 1 }
        } else {
            f.sequential_both_ok += 1;
        }

        // The store agrees (a fresh instance: no cache of this process).
        let fresh = b.reopen().unwrap();
        let cur = fresh.current(&(&u).into(), &M).await.unwrap().unwrap_or_else(|| panic!("{what}: no current"));
        assert_eq!(cur.backup_id, current_id, "{what}: current is not the winner: {outs:#?}");
        let listed = fresh.versions(&(&u).into(), &M).await.unwrap();
        let currents: Vec<BackupId> =
            listed.iter().filter(|v| v.state == VersionState::Current).map(|v| v.backup_id).collect();
        assert_eq!(currents, [current_id], "{what}: the listing's current versions");
        let fresh_orch = orchestrator(Arc::new(fresh.clone()), &log);
        assert_eq!(recover(&fresh_orch, &u).await.unwrap(), winner.share, "{what}");
        assert_eq!(recover(&observer, &u).await.unwrap(), winner.share, "{what}: the observer's store instance");

        // Nothing lost: the loser's envelope is still there.
        if let Some(l) = loser {
            let id = l.id.unwrap();
            let text = fresh
                .get(&(&u).into(), &M, id)
                .await
                .unwrap_or_else(|e| panic!("{what}: loser {id} not stored: {e:#}"));
            assert_eq!(Envelope::parse(&text).unwrap().backup_id(), id, "{what}");
        }
        // The recoveries during the round: no error, no loser, never back.
        assert!(seen.errors.is_empty(), "{what}: recoveries failed during the race: {:#?}", seen.errors);
        let mut order: Vec<&[u8]> = vec![&prev_share];
        order.extend(chain.iter().map(|c| c.share.as_slice()));
        let mut pos = 0;
        for s in &seen.sequence {
            let p = order.iter().position(|o| *o == s.as_slice());
            let p = p.unwrap_or_else(|| panic!("{what}: recovered a share that never was current: {s:?}"));
            assert!(p >= pos, "{what}: a recovery went back: {:?}", seen.sequence);
            pos = p;
        }
        f.observer_reads += seen.reads;
        f.observer_changes += seen.sequence.len().saturating_sub(1);

        // The wallet service.
        let acks = FileNotifier::read(&log);
        let mine: Vec<(usize, &Ack)> = acks_of(&acks, &u).collect();
        assert!(mine.iter().all(|(_, a)| a.success), "{what}: someone was told false: {mine:?}");
        let told = |id: BackupId| mine.iter().rev().find(|(_, a)| a.backup_id == id).map(|(i, _)| *i);
        for o in &outs {
            let id = o.id.unwrap();
            assert_eq!(told(id).is_some(), o.ok || o.acknowledged, "{what}: acks of {}: {o:#?} {mine:?}", o.tag);
        }
        let wallet = FileNotifier::acknowledged(&acks, &u, &M);
        assert_eq!(
            wallet,
            Some(current_id),
            "{what}: the wallet service's last word is not the current version: {mine:?}"
        );
        if let Some(l) = loser.filter(|l| l.acknowledged) {
            // Both said `true`; the winner's was said (again) after the loser's.
            assert!(told(current_id) > told(l.id.unwrap()), "{what}: {mine:?}");
            f.loser_told_before_winner_again += 1;
        }
        superseded.insert(prev);
        superseded.extend(chain[..chain.len() - 1].iter().filter_map(|c| c.id));
        for (_, a) in &mine {
            if !superseded.contains(&a.backup_id) {
                assert!(
                    fresh.get(&(&u).into(), &M, a.backup_id).await.is_ok(),
                    "{what}: acknowledged {} is gone",
                    a.backup_id
                );
            }
        }

        f.rounds += 1;
        f.child_backup_ms.extend(outs.iter().map(|o| (o.end - o.start) as f64 / 1000.0));
        f.overlapping += usize::from(overlapping);
        let t = |o: &Outcome| {
            let base = a.start.min(bb.start);
            let ms = |us: u64| (us - base) as f64 / 1000.0;
            let how = if o.ok { "ok".to_owned() } else { format!("{}(acknowledged={})", o.kind, o.acknowledged) };
            format!("{} {how} {:.1}..{:.1} ms", o.tag, ms(o.start), ms(o.end))
        };
        eprintln!("{what}: delays {delays:?} us; {}; {}; overlap {overlapping}; winner {}", t(a), t(bb), winner.tag);
        span_us = outs.iter().map(|o| o.end - o.start).max().unwrap().max(1000);
        last_loser = loser.cloned();
        prev = current_id;
        prev_share = winner.share.clone();
    }

    // The last round's loser is staged and verified: finishing it makes it
    // current and acknowledged, and recovers its share.
    if let Some(l) = last_loser {
        let id = l.id.unwrap();
        orch.commit_staged(&u, &M, id, Configs::new()).await.unwrap();
        assert_eq!(recover(&orch, &u).await.unwrap(), l.share, "{}: commit_staged of the loser", b.name);
        let acks = FileNotifier::read(&log);
        assert_eq!(FileNotifier::acknowledged(&acks, &u, &M), Some(id));
    }
    eprintln!(
        "{}: {} rounds in {:.1} s (one backup {:.1} ms alone, {:.1} ms median in a child): {} overlapping in time, \
         {} contended (one loser), {} one after the other (both Ok, chained); losers: {} at the check \
         (not acknowledged), {} at the commit (acknowledged, then the winner acknowledged again: {}); \
         {} recoveries during the races saw {} changes; \
         loser kinds {:?}",
        b.name,
        f.rounds,
        t_all.elapsed().as_secs_f64(),
        parent_backup_us as f64 / 1000.0,
        median(&mut f.child_backup_ms),
        f.overlapping,
        f.lost_at_check + f.lost_at_commit,
        f.sequential_both_ok,
        f.lost_at_check,
        f.lost_at_commit,
        f.loser_told_before_winner_again,
        f.observer_reads,
        f.observer_changes,
        f.loser_kinds,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_backing_up_one_user_end_with_one_winner_and_nothing_lost_on_a_local_directory() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    race_on(&backend("local").unwrap(), 40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_backing_up_one_user_end_with_one_winner_and_nothing_lost_on_s3() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    if let Some(b) = backend("s3") {
        race_on(&b, 32).await;
    }
}
