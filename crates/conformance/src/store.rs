//! The store cases: the `CipherTextStore` contract, each a public async fn.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use share_backup_core::{BackupId, ClientId, CustodianId, Error, ErrorKind, MethodId, UserId, fill_random};
use share_backup_orchestrator::{Acknowledgement, CipherTextStore, Namespace, VersionState};

use crate::outcome::{CaseResult, Failure, Outcome, ensure};

fn user(case: &str, role: &str) -> Namespace {
    Namespace::from(crate::provider::user(case, role))
}

/// The future a store case returns, boxed.
pub type StoreCaseFuture = Pin<Box<dyn Future<Output = CaseResult> + Send>>;

/// One store case, as listed in [`STORE_CASES`].
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct StoreCase {
    /// The case's name, as in test names.
    pub name: &'static str,
    /// What it checks, one line.
    pub checks: &'static str,
    run: fn(Arc<dyn CipherTextStore>) -> StoreCaseFuture,
}

impl StoreCase {
    /// Runs the case against `store`.
    pub fn run(&self, store: Arc<dyn CipherTextStore>) -> StoreCaseFuture {
        (self.run)(store)
    }
}

impl std::fmt::Debug for StoreCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCase").field("name", &self.name).finish_non_exhaustive()
    }
}

macro_rules! store_case {
    ($name:literal, $checks:literal, $f:ident) => {
        StoreCase { name: $name, checks: $checks, run: |s| Box::pin(async move { $f(&s).await }) }
    };
}

/// Every store case, in the order the runners list them.
pub const STORE_CASES: &[StoreCase] = &[
    store_case!(
        "store_missing_user",
        "an unknown user has no current version, no versions, no methods",
        store_missing_user
    ),
    store_case!(
        "store_stage_create_only",
        "staging an existing version is Conflict and changes nothing",
        store_stage_create_only
    ),
    store_case!("store_versions_kept", "every staged version is kept and listed", store_versions_kept),
    store_case!("store_commit", "commit is a compare-and-swap of the current version", store_commit),
    store_case!("store_commit_race", "of racing commits from one expected state, exactly one wins", store_commit_race),
    store_case!("store_stage_race", "of racing stages of one version, exactly one wins", store_stage_race),
    store_case!("store_methods", "methods lists the methods with a current version, sorted", store_methods),
    store_case!("store_remove", "remove prunes staged versions, never the current one", store_remove),
    store_case!(
        "store_user_isolation",
        "look-alike user ids, and one user id with other custodians or clients, never see each other's versions",
        store_user_isolation
    ),
    store_case!("store_retire", "a retired version is never committed; the current one is never retired", store_retire),
    store_case!("store_large_envelope", "a large envelope comes back byte for byte", store_large_envelope),
    store_case!(
        "store_acknowledgement",
        "acknowledgement records are create-only per version they were made over, withdrawable, never lost",
        store_acknowledgement
    ),
    store_case!(
        "store_acknowledgement_race",
        "of racing acknowledgements over one version, exactly one is recorded",
        store_acknowledgement_race
    ),
];

fn bid() -> Result<BackupId, Failure> {
    BackupId::generate().map_err(|e| Failure::new("(suite setup) generate a backup id", format!("{e:#}")))
}

fn envelope_text(tag: &str) -> String {
    let mut b = [0u8; 24];
    let _ = fill_random(&mut b);
    format!("sb1.conformance-{tag}.{}", hex::encode(b))
}

fn described(e: &Error) -> String {
    format!("error {}: {e:#}", e.kind().name())
}

fn call<T>(r: Result<T, Error>, contract: &str) -> Result<T, Failure> {
    r.map_err(|e| Failure::new(contract, described(&e)))
}

fn method(s: &str) -> MethodId {
    MethodId::new(s).expect("valid method id")
}

fn expect_kind<T>(r: Result<T, Error>, kind: ErrorKind, contract: &str, what: &str) -> Result<(), Failure> {
    match r {
        Ok(_) => Err(Failure::new(contract, format!("{what} succeeded"))),
        Err(e) => ensure(e.kind() == &kind, contract, || format!("{what}: {}", described(&e))),
    }
}

/// The current version's id, read both ways: `current` and `current_id`
/// must agree wherever a case looks.
async fn current_id(s: &Arc<dyn CipherTextStore>, u: &Namespace, m: &MethodId) -> Result<Option<BackupId>, Failure> {
    let full = call(s.current(u, m).await, "current reads the current version")?.map(|c| c.backup_id);
    let id = call(s.current_id(u, m).await, "current_id reads the current version's id")?;
    ensure(id == full, "current_id agrees with current", || format!("current_id {id:?}, current {full:?}"))?;
    Ok(full)
}

/// A user the store has never seen: `current` is `None`, `versions` and
/// `methods` are empty, `get` is `NotFound`.
pub async fn store_missing_user(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, m) = (user("store-missing", "a"), method("password"));
    ensure(current_id(store, &u, &m).await?.is_none(), "an unknown user has no current version", || {
        "current returned a version".to_owned()
    })?;
    let v = call(store.versions(&u, &m).await, "versions of an unknown user succeeds")?;
    ensure(v.is_empty(), "an unknown user has no versions", || format!("{v:?}"))?;
    let ms = call(store.methods(&u).await, "methods of an unknown user succeeds")?;
    ensure(ms.is_empty(), "an unknown user has no methods", || format!("{ms:?}"))?;
    expect_kind(store.get(&u, &m, bid()?).await, ErrorKind::NotFound, "get of a missing version is NotFound", "get")?;
    Ok(Outcome::Passed)
}

/// `stage` of an existing (user, method, backup id) fails with `Conflict`
/// and the first envelope stays.
pub async fn store_stage_create_only(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, m, id) = (user("store-create-only", "a"), method("password"), bid()?);
    let (one, two) = (envelope_text("one"), envelope_text("two"));
    call(store.stage(&u, &m, id, &one).await, "stage of a new version succeeds")?;
    expect_kind(
        store.stage(&u, &m, id, &two).await,
        ErrorKind::Conflict,
        "stage is create-only: a second stage of one version is Conflict",
        "the second stage",
    )?;
    let got = call(store.get(&u, &m, id).await, "get of a staged version succeeds")?;
    ensure(got == one, "a refused stage changes nothing", || "the envelope was replaced".to_owned())?;
    Ok(Outcome::Passed)
}

/// Three staged versions are all listed (staged, not current), in staging
/// order where the store records times, and each `get` returns its own
/// envelope; staging alone makes nothing current.
pub async fn store_versions_kept(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, m) = (user("store-versions", "a"), method("gdrive"));
    let mut staged = Vec::new();
    for i in 0..3 {
        let (id, text) = (bid()?, envelope_text(&format!("v{i}")));
        call(store.stage(&u, &m, id, &text).await, "stage succeeds")?;
        staged.push((id, text));
    }
    let v = call(store.versions(&u, &m).await, "versions succeeds")?;
    let mut listed: Vec<BackupId> = v.iter().map(|v| v.backup_id).collect();
    let mut want: Vec<BackupId> = staged.iter().map(|(id, _)| *id).collect();
    if v.iter().all(|v| v.staged_at.is_some()) {
        ensure(v.windows(2).all(|w| w[0].staged_at <= w[1].staged_at), "versions are listed oldest first", || {
            format!("{v:?}")
        })?;
    }
    listed.sort();
    want.sort();
    ensure(listed == want, "every staged version is kept and listed once", || format!("listed {v:?}"))?;
    ensure(v.iter().all(|v| v.state == VersionState::Staged), "staged versions are Staged until committed", || {
        format!("{v:?}")
    })?;
    ensure(current_id(store, &u, &m).await?.is_none(), "staging makes nothing current", || {
        "a version is current without a commit".to_owned()
    })?;
    for (id, text) in &staged {
        let got = call(store.get(&u, &m, *id).await, "get of a staged version succeeds")?;
        ensure(&got == text, "get returns the version's own envelope", || format!("wrong envelope for {id}"))?;
    }
    Ok(Outcome::Passed)
}

/// `commit` makes a version current only from the expected state: first
/// from `None`, then from the previous id; a stale `expected` is
/// `Conflict` and changes nothing; a never-staged version is `NotFound`.
/// After a commit, `current` returns the version and its envelope, and
/// `versions` marks exactly it `Current`.
pub async fn store_commit(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, m) = (user("store-commit", "a"), method("password"));
    let (v1, v2, v3) = (bid()?, bid()?, bid()?);
    let t1 = envelope_text("v1");
    call(store.stage(&u, &m, v1, &t1).await, "stage succeeds")?;
    call(store.stage(&u, &m, v2, &envelope_text("v2")).await, "stage succeeds")?;
    call(store.stage(&u, &m, v3, &envelope_text("v3")).await, "stage succeeds")?;
    call(store.commit(&u, &m, v1, None).await, "the first commit, expecting no current version, succeeds")?;
    let cur = call(store.current(&u, &m).await, "current succeeds")?;
    ensure(
        cur.as_ref().is_some_and(|c| c.backup_id == v1 && c.envelope == t1),
        "after commit, current is the committed version with its envelope",
        || format!("{cur:?}"),
    )?;
    expect_kind(
        store.commit(&u, &m, v2, None).await,
        ErrorKind::Conflict,
        "commit expecting no current version is Conflict once one is current",
        "commit(v2, expected None)",
    )?;
    call(store.commit(&u, &m, v2, Some(v1)).await, "commit from the current version succeeds")?;
    expect_kind(
        store.commit(&u, &m, v3, Some(v1)).await,
        ErrorKind::Conflict,
        "commit with a stale expected version is Conflict",
        "commit(v3, expected v1) after v2",
    )?;
    ensure(current_id(store, &u, &m).await? == Some(v2), "a refused commit changes nothing", || {
        "the current version moved".to_owned()
    })?;
    expect_kind(
        store.commit(&u, &m, bid()?, Some(v2)).await,
        ErrorKind::NotFound,
        "committing a version that was never staged is NotFound",
        "commit of an unknown version",
    )?;
    let v = call(store.versions(&u, &m).await, "versions succeeds")?;
    let current: Vec<_> = v.iter().filter(|v| v.state == VersionState::Current).map(|v| v.backup_id).collect();
    ensure(current == vec![v2], "versions marks exactly the current version Current", || format!("{v:?}"))?;
    ensure(v.len() == 3, "commit keeps the superseded versions (pruning is separate)", || format!("{v:?}"))?;
    Ok(Outcome::Passed)
}

/// Eight writers each stage a version and race to commit it from the same
/// current version: exactly one succeeds, the others get `Conflict`, and
/// the winner is current.
pub async fn store_commit_race(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, m) = (user("store-race", "a"), method("password"));
    let base = bid()?;
    call(store.stage(&u, &m, base, &envelope_text("base")).await, "stage succeeds")?;
    call(store.commit(&u, &m, base, None).await, "commit succeeds")?;
    let mut ids = Vec::new();
    for i in 0..8 {
        let id = bid()?;
        call(store.stage(&u, &m, id, &envelope_text(&format!("w{i}"))).await, "stage succeeds")?;
        ids.push(id);
    }
    let mut set = tokio::task::JoinSet::new();
    for id in ids {
        let (s, u, m) = (store.clone(), u.clone(), m.clone());
        set.spawn(async move { (id, s.commit(&u, &m, id, Some(base)).await) });
    }
    let mut winners = Vec::new();
    while let Some(r) = set.join_next().await {
        let (id, r) = r.map_err(|e| Failure::new("commit does not panic", e.to_string()))?;
        match r {
            Ok(()) => winners.push(id),
            Err(e) => {
                ensure(e.kind() == &ErrorKind::Conflict, "a commit that loses the race is Conflict", || described(&e))?
            }
        }
    }
    ensure(winners.len() == 1, "of racing commits from one expected state, exactly one wins", || {
        format!("{} commits succeeded", winners.len())
    })?;
    ensure(current_id(store, &u, &m).await? == winners.first().copied(), "the winner is current", || {
        "current is not the winning version".to_owned()
    })?;
    Ok(Outcome::Passed)
}

/// Eight writers race to stage the same backup id with different
/// envelopes: exactly one succeeds and its envelope is the one stored.
pub async fn store_stage_race(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, m, id) = (user("store-stage-race", "a"), method("gdrive"), bid()?);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (s, u, m, text) = (store.clone(), u.clone(), m.clone(), envelope_text(&format!("w{i}")));
        set.spawn(async move {
            let r = s.stage(&u, &m, id, &text).await;
            (text, r)
        });
    }
    let mut winners = Vec::new();
    while let Some(r) = set.join_next().await {
        let (text, r) = r.map_err(|e| Failure::new("stage does not panic", e.to_string()))?;
        match r {
            Ok(()) => winners.push(text),
            Err(e) => {
                ensure(e.kind() == &ErrorKind::Conflict, "a stage that loses the race is Conflict", || described(&e))?
            }
        }
    }
    ensure(winners.len() == 1, "of racing stages of one version, exactly one wins", || {
        format!("{} stages succeeded", winners.len())
    })?;
    let got = call(store.get(&u, &m, id).await, "get succeeds")?;
    ensure(Some(&got) == winners.first(), "the winning stage's envelope is the one stored", || {
        "the stored envelope is not the winner's".to_owned()
    })?;
    Ok(Outcome::Passed)
}

/// `methods` lists, sorted, exactly the methods with a current version:
/// not one that is only staged, and nothing of another user.
pub async fn store_methods(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, other) = (user("store-methods", "a"), user("store-methods", "b"));
    let (a, b, c) = (method("password"), method("gdrive"), method("conformance-staged"));
    for m in [&a, &b] {
        let id = bid()?;
        call(store.stage(&u, m, id, &envelope_text("m")).await, "stage succeeds")?;
        call(store.commit(&u, m, id, None).await, "commit succeeds")?;
    }
    call(store.stage(&u, &c, bid()?, &envelope_text("staged")).await, "stage succeeds")?;
    let ms = call(store.methods(&u).await, "methods succeeds")?;
    ensure(ms == vec![b.clone(), a.clone()], "methods lists the methods with a current version, sorted", || {
        format!("{:?}", ms.iter().map(MethodId::as_str).collect::<Vec<_>>())
    })?;
    let none = call(store.methods(&other).await, "methods succeeds")?;
    ensure(none.is_empty(), "methods never lists another user's backups", || format!("{none:?}"))?;
    Ok(Outcome::Passed)
}

/// `remove` of a staged version removes it (`get` is `NotFound`, it is no
/// longer listed); of the current version it is `Conflict` and the version
/// stays; of a missing version it succeeds.
pub async fn store_remove(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, m) = (user("store-remove", "a"), method("password"));
    let (old, cur) = (bid()?, bid()?);
    call(store.stage(&u, &m, old, &envelope_text("old")).await, "stage succeeds")?;
    call(store.commit(&u, &m, old, None).await, "commit succeeds")?;
    call(store.stage(&u, &m, cur, &envelope_text("cur")).await, "stage succeeds")?;
    call(store.commit(&u, &m, cur, Some(old)).await, "commit succeeds")?;
    call(store.remove(&u, &m, old).await, "remove of a superseded version succeeds")?;
    expect_kind(store.get(&u, &m, old).await, ErrorKind::NotFound, "a removed version is gone", "get after remove")?;
    let v = call(store.versions(&u, &m).await, "versions succeeds")?;
    ensure(v.iter().all(|v| v.backup_id != old), "a removed version is no longer listed", || format!("{v:?}"))?;
    expect_kind(
        store.remove(&u, &m, cur).await,
        ErrorKind::Conflict,
        "remove never removes the current version",
        "remove of the current version",
    )?;
    ensure(current_id(store, &u, &m).await? == Some(cur), "a refused remove changes nothing", || {
        "the current version is gone".to_owned()
    })?;
    call(store.remove(&u, &m, old).await, "removing a missing version succeeds")?;
    call(store.remove(&u, &m, bid()?).await, "removing a never-staged version succeeds")?;
    Ok(Outcome::Passed)
}

/// Users whose ids look alike once put in a path (`a`, `a/`, `a/b`,
/// `a%2Fb`, `A`, `a b`, `a..`, `a/../a`) each see only their own backups.
pub async fn store_user_isolation(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let base = user("store-isolation", "x");
    let suffixes = ["", "/", "/b", "%2Fb", "\\b", " b", "..", "/../x", "/.", "#", "?q"];
    let base = base.user().as_str().to_owned();
    let mut users = vec![Namespace::from(UserId::new(base.to_uppercase()).expect("valid"))];
    for s in suffixes {
        users.push(Namespace::from(UserId::new(format!("{base}{s}")).expect("valid")));
    }
    // The same user id with a custodian, a client, or both: a namespace each.
    let same = Namespace::from(UserId::new(base.clone()).expect("valid"));
    users.push(same.clone().with_client(ClientId::new("client-a").expect("valid")));
    users.push(same.clone().with_client(ClientId::new("client-b").expect("valid")));
    users.push(same.clone().with_custodian(CustodianId::new("client-a").expect("valid")));
    let m = method("password");
    let mut mine = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let (id, text) = (bid()?, envelope_text(&format!("user{i}")));
        call(store.stage(u, &m, id, &text).await, "stage succeeds")?;
        call(
            store.commit(u, &m, id, None).await,
            &format!("users never share versions: the first commit of user {:?} succeeds", u.to_string()),
        )?;
        mine.push((id, text));
    }
    for (u, (id, text)) in users.iter().zip(&mine) {
        let cur = call(store.current(u, &m).await, "current succeeds")?;
        ensure(
            cur.as_ref().is_some_and(|c| c.backup_id == *id && &c.envelope == text),
            "users never share versions",
            || format!("user {:?} reads another user's version", u.to_string()),
        )?;
        let v = call(store.versions(u, &m).await, "versions succeeds")?;
        ensure(v.len() == 1, "versions lists only the user's own versions", || {
            format!("user {:?} has {} versions", u.to_string(), v.len())
        })?;
    }
    Ok(Outcome::Passed)
}

/// `retire` refuses the current version, and once it returns a retired
/// version can never be committed, while its envelope stays readable.
pub async fn store_retire(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, m) = (user("store-retire", "a"), method("password"));
    let (a, b) = (bid()?, bid()?);
    call(store.stage(&u, &m, a, &envelope_text("a")).await, "stage succeeds")?;
    let text_b = envelope_text("b");
    call(store.stage(&u, &m, b, &text_b).await, "stage succeeds")?;
    call(store.commit(&u, &m, a, None).await, "commit succeeds")?;
    expect_kind(store.retire(&u, &m, a).await, ErrorKind::Conflict, "the current version is never retired", "retire")?;
    call(store.retire(&u, &m, b).await, "retiring a staged version succeeds")?;
    call(store.retire(&u, &m, b).await, "retiring is idempotent")?;
    let got = call(store.get(&u, &m, b).await, "a retired version stays readable until removed")?;
    ensure(got == text_b, "a retired version's envelope comes back unchanged", || "it differs".to_owned())?;
    expect_kind(
        store.commit(&u, &m, b, Some(a)).await,
        ErrorKind::Conflict,
        "a retired version can never become current",
        "commit of a retired version",
    )?;
    ensure(current_id(store, &u, &m).await? == Some(a), "a refused commit changes nothing", || {
        "the current version moved".to_owned()
    })?;
    call(store.retire(&u, &m, bid()?).await, "retiring a missing version succeeds")?;
    call(store.remove(&u, &m, b).await, "removing a retired version succeeds")?;
    Ok(Outcome::Passed)
}

/// A 1.4 MB envelope (the size of the largest share, sealed) comes back
/// from `get` and `current` byte for byte.
pub async fn store_large_envelope(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, m, id) = (user("store-large", "a"), method("password"), bid()?);
    let mut raw = vec![0u8; 1 << 20];
    let _ = fill_random(&mut raw);
    let text = format!("sb1.{}", hex::encode(&raw[..]).chars().take(1_400_000).collect::<String>());
    call(store.stage(&u, &m, id, &text).await, "stage of a large envelope succeeds")?;
    call(store.commit(&u, &m, id, None).await, "commit succeeds")?;
    let got = call(store.get(&u, &m, id).await, "get succeeds")?;
    ensure(got == text, "get returns a large envelope byte for byte", || format!("{} bytes back", got.len()))?;
    let cur = call(store.current(&u, &m).await, "current succeeds")?;
    ensure(cur.is_some_and(|c| c.envelope == text), "current returns a large envelope byte for byte", || {
        "it differs".to_owned()
    })?;
    Ok(Outcome::Passed)
}

async fn latest_ack(
    s: &Arc<dyn CipherTextStore>,
    u: &Namespace,
    m: &MethodId,
    over: Option<BackupId>,
) -> Result<Option<Acknowledgement>, Failure> {
    call(s.acknowledgement(u, m, over).await, "acknowledgement reads the latest record over a version")
}

/// Acknowledgement records over one version: the first pending one wins
/// (a retry of it succeeds, another version's is `Conflict` and changes
/// nothing); withdrawing it lets a new one be recorded; withdrawing a
/// record that is not the latest pending one changes nothing; records over
/// other versions (and over none) are independent; a first backup's record
/// makes `methods` list the method.
pub async fn store_acknowledgement(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, m) = (user("store-ack", "a"), method("password"));
    let (base, a, b, c) = (bid()?, bid()?, bid()?, bid()?);
    ensure(latest_ack(store, &u, &m, Some(base)).await?.is_none(), "no record over a fresh version", || {
        "a record came back".to_owned()
    })?;
    let rec_a = Acknowledgement::new(a, Some(base));
    call(store.record_acknowledgement(&u, &m, rec_a).await, "the first acknowledgement over a version is recorded")?;
    let got = latest_ack(store, &u, &m, Some(base)).await?;
    // Within a day of this suite's clock: a made-up time (the epoch, say)
    // would make every pending record look abandoned.
    let now = std::time::SystemTime::now();
    let day = std::time::Duration::from_secs(86_400);
    ensure(
        got.and_then(|l| l.recorded_at)
            .is_some_and(|at| now.duration_since(at).map_or_else(|e| e.duration() < day, |d| d < day)),
        "acknowledgement says when a record was recorded (a backup takes over only an abandoned record)",
        || format!("{got:?}"),
    )?;
    call(store.record_acknowledgement(&u, &m, rec_a).await, "recording the same acknowledgement again succeeds")?;
    expect_kind(
        store.record_acknowledgement(&u, &m, Acknowledgement::new(b, Some(base))).await,
        ErrorKind::Conflict,
        "another version's acknowledgement over the same version is Conflict",
        "recording a second version's acknowledgement",
    )?;
    ensure(
        latest_ack(store, &u, &m, Some(base)).await?.is_some_and(|l| l.same_as(&rec_a)),
        "a refused record changes nothing",
        || "the latest record is not the first one".to_owned(),
    )?;
    call(
        store.record_acknowledgement(&u, &m, Acknowledgement::new(b, Some(base)).withdrawn()).await,
        "withdrawing a version that holds no record succeeds",
    )?;
    ensure(
        latest_ack(store, &u, &m, Some(base)).await?.is_some_and(|l| l.same_as(&rec_a)),
        "withdrawing another version's record changes nothing",
        || "the first record was changed".to_owned(),
    )?;
    call(store.record_acknowledgement(&u, &m, rec_a.withdrawn()).await, "a pending record can be withdrawn")?;
    ensure(
        latest_ack(store, &u, &m, Some(base)).await?.is_some_and(|l| l.same_as(&rec_a.withdrawn())),
        "the latest record over a version is the withdrawal",
        || "it is not".to_owned(),
    )?;
    let rec_b = Acknowledgement::new(b, Some(base));
    call(store.record_acknowledgement(&u, &m, rec_b).await, "after a withdrawal, a new acknowledgement is recorded")?;
    ensure(
        latest_ack(store, &u, &m, Some(base)).await?.is_some_and(|l| l.same_as(&rec_b)),
        "the new record is the latest",
        || "it is not".to_owned(),
    )?;
    call(
        store.record_acknowledgement(&u, &m, rec_a.withdrawn()).await,
        "withdrawing an already withdrawn record again succeeds",
    )?;
    ensure(
        latest_ack(store, &u, &m, Some(base)).await?.is_some_and(|l| l.same_as(&rec_b)),
        "a repeated withdrawal never undoes a later record",
        || "the later record is gone".to_owned(),
    )?;
    // Independent logs: over another version and over none.
    let rec_c = Acknowledgement::new(c, Some(a));
    call(store.record_acknowledgement(&u, &m, rec_c).await, "a record over another version is independent")?;
    ensure(
        latest_ack(store, &u, &m, Some(a)).await?.is_some_and(|l| l.same_as(&rec_c)),
        "each version has its own records",
        || "the record over the other version is wrong".to_owned(),
    )?;
    ensure(latest_ack(store, &u, &m, None).await?.is_none(), "no record over none yet", || "one came back".to_owned())?;
    let (first, fm) = (user("store-ack", "first"), method("gdrive"));
    let rec_first = Acknowledgement::new(a, None);
    call(store.record_acknowledgement(&first, &fm, rec_first).await, "a first backup's acknowledgement is recorded")?;
    ensure(
        latest_ack(store, &first, &fm, None).await?.is_some_and(|l| l.same_as(&rec_first)),
        "it comes back over none",
        || "it does not".to_owned(),
    )?;
    let ms = call(store.methods(&first).await, "methods succeeds")?;
    ensure(ms == vec![fm.clone()], "methods lists a method with an acknowledged first backup", || format!("{ms:?}"))?;
    let other = user("store-ack", "other");
    ensure(latest_ack(store, &other, &fm, None).await?.is_none(), "another user sees no record", || {
        "it saw one".to_owned()
    })?;
    Ok(Outcome::Passed)
}

/// Eight writers race to record their own version's acknowledgement over
/// the same current version (the race two processes backing up one user
/// run): exactly one is recorded, the others are `Conflict`, and the
/// record is the winner's.
pub async fn store_acknowledgement_race(store: &Arc<dyn CipherTextStore>) -> CaseResult {
    let (u, m, base) = (user("store-ack-race", "a"), method("password"), bid()?);
    // Twice: over a fresh version, then again after the winner withdrew
    // (the race for the next record of the log).
    for round in 0..2 {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (s, u, m, id) = (store.clone(), u.clone(), m.clone(), bid()?);
            set.spawn(
                async move { (id, s.record_acknowledgement(&u, &m, Acknowledgement::new(id, Some(base))).await) },
            );
        }
        let mut winners = Vec::new();
        while let Some(r) = set.join_next().await {
            let (id, r) = r.map_err(|e| Failure::new("record_acknowledgement does not panic", e.to_string()))?;
            match r {
                Ok(()) => winners.push(id),
                Err(e) => ensure(
                    e.kind() == &ErrorKind::Conflict,
                    "an acknowledgement that loses the race is Conflict",
                    || described(&e),
                )?,
            }
        }
        ensure(winners.len() == 1, "of racing acknowledgements over one version, exactly one is recorded", || {
            format!("round {round}: {} were recorded", winners.len())
        })?;
        let latest = latest_ack(store, &u, &m, Some(base)).await?;
        ensure(latest.map(|a| a.backup_id) == winners.first().copied(), "the record is the winner's", || {
            format!("round {round}: {latest:?}")
        })?;
        let winner = Acknowledgement::new(winners[0], Some(base));
        call(store.record_acknowledgement(&u, &m, winner.withdrawn()).await, "the winner withdraws")?;
    }
    Ok(Outcome::Passed)
}
