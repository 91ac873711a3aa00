//! The provider cases: every point of the `BackupProvider` contract, each a
//! public async fn.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use share_backup_core::{
    Aead, BackupId, BackupProvider, BackupProviderExt, BackupShare, ClientId, Configs, Context, CustodianId, DataKey,
    Envelope, Error, ErrorKind, ExposeSecret, KeyHeader, MethodId, PREFIX_V1, Progress, ProgressSink, Settings, Status,
    UserId, fill_random, linked_registrations,
};
use tracing::instrument::WithSubscriber;

use crate::harness::Harness;
use crate::leak::{Capture, Needles};
use crate::outcome::{CaseResult, Failure, Outcome, ensure};

/// The future a case returns, boxed, for the case table.
pub type CaseFuture = Pin<Box<dyn Future<Output = CaseResult> + Send>>;

/// One provider case, as listed in [`PROVIDER_CASES`].
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct ProviderCase {
    /// The case's name, as in test names and [`Harness::skip`].
    pub name: &'static str,
    /// What it checks, one line.
    pub checks: &'static str,
    run: fn(Arc<dyn BackupProvider>, Harness) -> CaseFuture,
}

impl ProviderCase {
    /// Runs the case (no timeout, no skip list: see [`crate::run_provider_cases`]).
    pub fn run(&self, provider: Arc<dyn BackupProvider>, harness: Harness) -> CaseFuture {
        (self.run)(provider, harness)
    }
}

impl std::fmt::Debug for ProviderCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderCase").field("name", &self.name).finish_non_exhaustive()
    }
}

macro_rules! case {
    ($name:literal, $checks:literal, |$p:ident, $h:ident| $body:expr) => {
        ProviderCase { name: $name, checks: $checks, run: |$p, $h| Box::pin(async move { $body.await }) }
    };
}

/// Every provider case, in the order the runners list them.
pub const PROVIDER_CASES: &[ProviderCase] = &[
    case!("roundtrip_1b", "a 1-byte share seals and recovers", |p, h| roundtrip(&p, &h, 1)),
    case!("roundtrip_32b", "a 32-byte share seals and recovers", |p, h| roundtrip(&p, &h, 32)),
    case!("roundtrip_1kib", "a 1 KiB share seals and recovers", |p, h| roundtrip(&p, &h, 1024)),
    case!("roundtrip_64kib", "a 64 KiB share seals and recovers", |p, h| roundtrip(&p, &h, 64 * 1024)),
    case!(
        "repeated_backups",
        "each backup gets a new envelope and key, and every earlier one still recovers",
        |p, h| repeated_backups(&p, &h)
    ),
    case!("wrong_secret", "a wrong user secret gives WrongSecret, never a share", |p, h| wrong_secret(&p, &h)),
    case!("missing_config", "a missing per-call secret is InvalidInput", |p, h| missing_config(&p, &h)),
    case!(
        "tampered_envelope",
        "every single-character and single-byte change of an envelope is a typed error",
        |p, h| tampered_envelope(&p, &h)
    ),
    case!(
        "envelope_bound_to_user_and_method",
        "an envelope moved to another user, custodian or client, or relabelled, is refused",
        |p, h| envelope_bound_to_user_and_method(&p, &h)
    ),
    case!("key_scoped_to_user", "another user's credentials never open this user's key", |p, h| key_scoped_to_user(
        &p, &h
    )),
    case!("delete_key", "after delete_key recovery is NotFound; deleting twice succeeds", |p, h| delete_key(&p, &h)),
    case!("probe", "probe succeeds on a healthy provider", |p, h| probe(&p, &h)),
    case!("concurrency", "32 concurrent backups and recoveries all succeed", |p, h| concurrency(&p, &h)),
    case!("cancellation", "a backup or recovery dropped at any await point loses nothing", |p, h| cancellation(&p, &h)),
    case!("progress", "the provider reports only its own steps, never done, also when it fails", |p, h| progress(
        &p, &h
    )),
    case!("traced", "seal_key and open_key emit tracing naming the backup id", |p, h| traced(&p, &h)),
    case!(
        "no_secret_in_debug",
        "no Debug, Display, error, key header or tracing event shows a secret, share or key",
        |p, h| no_secret_in_debug(&p, &h)
    ),
    case!("registration", "exactly one well-formed registration that builds from its documented settings", |p, h| {
        registration(&p, &h)
    }),
];

// ---------------------------------------------------------------- helpers

/// A fresh user id for one case and role, unique per run.
pub(crate) fn user(case: &str, role: &str) -> UserId {
    let mut b = [0u8; 4];
    let _ = fill_random(&mut b);
    UserId::new(format!("conformance-{case}-{role}-{}", hex::encode(b))).expect("a valid user id")
}

fn context(h: &Harness, user: &UserId) -> Result<Context, Failure> {
    let id = setup(BackupId::generate(), "generate a backup id")?;
    let mut ctx = Context::new(user.clone(), id).with_configs(h.configs(user));
    if let Some(c) = h.custodian() {
        ctx = ctx.with_custodian(c.clone());
    }
    if let Some(c) = h.client() {
        ctx = ctx.with_client(c.clone());
    }
    Ok(ctx)
}

/// The context a recovery of `env` uses: same user and configs, the envelope's backup id.
fn recovery_context(h: &Harness, user: &UserId, env: &Envelope) -> Result<Context, Failure> {
    Ok(context(h, user)?.with_backup_id(env.backup_id()))
}

fn random_share(len: usize) -> Result<BackupShare, Failure> {
    let mut b = vec![0u8; len];
    setup(fill_random(&mut b), "draw a random share")?;
    setup(BackupShare::new(b), "make a share")
}

fn setup<T>(r: Result<T, Error>, what: &str) -> Result<T, Failure> {
    r.map_err(|e| Failure::new(format!("(suite setup) {what}"), format!("{e:#}")))
}

fn described(e: &Error) -> String {
    format!("error {} ({}): {e:#}", e.kind().name(), if e.retryable() { "retryable" } else { "not retryable" })
}

fn call<T>(r: Result<T, Error>, contract: &str) -> Result<T, Failure> {
    r.map_err(|e| Failure::new(contract, described(&e)))
}

async fn backup(p: &Arc<dyn BackupProvider>, h: &Harness, u: &UserId, len: usize) -> Result<Backup, Failure> {
    let share = random_share(len)?;
    let ctx = context(h, u)?;
    let (env, key) = call(
        p.seal_share(&share, &ctx).await,
        &format!("seal_share succeeds on a healthy provider (share of {len} bytes)"),
    )?;
    Ok(Backup { user: u.clone(), share, env, key })
}

struct Backup {
    user: UserId,
    share: BackupShare,
    env: Envelope,
    key: DataKey,
}

async fn recovers(p: &Arc<dyn BackupProvider>, h: &Harness, b: &Backup, contract: &str) -> Result<(), Failure> {
    let parsed = Envelope::parse(&b.env.encode())
        .map_err(|e| Failure::new("a sealed envelope's string parses back", described(&e)))?;
    let ctx = recovery_context(h, &b.user, &parsed)?;
    let got = call(p.open_envelope(&parsed, &ctx).await, contract)?;
    ensure(got.expose_secret() == b.share.expose_secret(), contract, || {
        format!("recovery returned a different share ({} bytes instead of {})", got.len(), b.share.len())
    })
}

/// The precondition of the cases that check something *around* recovery
/// (scoping, deletion, cancellation): a plain recovery of `b` works. When it
/// does not, the failure says so and points at the roundtrip cases, rather
/// than blaming `what`.
async fn recovery_works(p: &Arc<dyn BackupProvider>, h: &Harness, b: &Backup, what: &str) -> Result<(), Failure> {
    recovers(p, h, b, "a plain recovery works").await.map_err(|f| {
        Failure::new(
            format!("(precondition, before checking {what}) a fresh backup recovers with the user's own configs"),
            format!(
                "recovery itself is broken, so this case cannot check {what}: {}; fix the roundtrip cases \
                 (roundtrip_1b, roundtrip_32b, ...) first: they check seal and recovery on their own",
                f.observed()
            ),
        )
    })
}

fn skip_unless(cond: bool, reason: &str) -> Option<Outcome> {
    (!cond).then(|| Outcome::skipped(reason))
}

/// Whether an error is an acceptable refusal of bad input: typed, final, not a bug.
fn refusal_ok(e: &Error) -> bool {
    !matches!(e.kind(), ErrorKind::Internal) && !e.retryable()
}

/// Runs `f` on a task so that a panic is reported as a failure.
async fn guarded<T: Send + 'static>(what: String, f: impl Future<Output = T> + Send + 'static) -> Result<T, Failure> {
    tokio::spawn(f).await.map_err(|e| {
        let msg = if e.is_panic() {
            let p = e.into_panic();
            p.downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string panic".to_owned())
        } else {
            "the task was cancelled".to_owned()
        };
        Failure::new("the provider never panics, whatever the input", format!("{what}: panicked with {msg:?}"))
    })
}

// ------------------------------------------------------------------ cases

/// A share of `size` bytes seals, `open_key` gives back the very key
/// `seal_key` made (checked first, so that a wrong key is reported as
/// exactly that), and the envelope parses back from its string and recovers
/// byte for byte.
/// The envelope names the provider's method and the context's backup id.
pub async fn roundtrip(provider: &Arc<dyn BackupProvider>, harness: &Harness, size: usize) -> CaseResult {
    let (p, h) = (provider, harness);
    let u = user("roundtrip", "a");
    let share = random_share(size)?;
    let ctx = context(h, &u)?;
    let (env, key) =
        call(p.seal_share(&share, &ctx).await, &format!("seal_share succeeds for a share of {size} bytes"))?;
    ensure(env.method() == p.method(), "the envelope names the provider's method id", || {
        format!("it names {:?}, the provider is {:?}", env.method().as_str(), p.method().as_str())
    })?;
    ensure(env.backup_id() == ctx.backup_id(), "the envelope carries the context's backup id", || {
        format!("{} instead of {}", env.backup_id(), ctx.backup_id())
    })?;
    ensure(env.share_len() == size, "the envelope holds the whole share", || {
        format!("{} bytes sealed, share was {size}", env.share_len())
    })?;
    let b = Backup { user: u, share, env, key };
    // The key first: a wrong key would fail the recovery below with an
    // error that points elsewhere (core reports it as WrongSecret for a
    // provider that needs a user secret and does not confirm its keys).
    let rctx = recovery_context(h, &b.user, &b.env)?;
    let again = call(p.open_key(b.env.key_header(), &rctx).await, "open_key finds the key of a fresh backup")?;
    ensure(again == b.key, "open_key gives back exactly the key seal_key produced", || {
        "open_key returned a different key than seal_key produced (with the same user, configs and key header)"
            .to_owned()
    })?;
    recovers(p, h, &b, &format!("a fresh envelope of a {size}-byte share recovers")).await?;
    Ok(Outcome::Passed)
}

/// Three backups of one user: three different envelopes, backup ids and
/// data keys, and every one of them still recovers afterwards (a provider
/// must never overwrite or delete an earlier key when it seals a new one).
pub async fn repeated_backups(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    let u = user("repeated", "a");
    let mut all = Vec::new();
    for _ in 0..3 {
        all.push(backup(p, h, &u, 32).await?);
    }
    for i in 0..all.len() {
        for j in 0..i {
            ensure(all[i].env.encode() != all[j].env.encode(), "each backup gives a new envelope", || {
                format!("backups {j} and {i} gave the same envelope")
            })?;
            ensure(all[i].env.backup_id() != all[j].env.backup_id(), "each backup has its own backup id", || {
                format!("backups {j} and {i} share backup id {}", all[i].env.backup_id())
            })?;
            ensure(all[i].key != all[j].key, "seal_key makes a fresh data key for every backup", || {
                format!("backups {j} and {i} of one user got the same data key")
            })?;
        }
    }
    for (i, b) in all.iter().enumerate().rev() {
        recovers(p, h, b, &format!("backup {i} of 3 still recovers after later backups (keys are never overwritten)"))
            .await?;
    }
    Ok(Outcome::Passed)
}

/// For a provider that `needs_user_secret`: recovery with a wrong secret
/// fails with `WrongSecret`, and `open_key` with it never yields the right
/// key.
pub async fn wrong_secret(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    if let Some(s) = skip_unless(p.capabilities().needs_user_secret, "capabilities: needs_user_secret is false") {
        return Ok(s);
    }
    let u = user("wrong-secret", "a");
    let Some(wrong) = h.wrong_secret(&u) else {
        return Err(Failure::new(
            "a provider that needs a user secret is tested with a wrong one",
            "the harness has no wrong-secret configs: add Harness::with_wrong_secret",
        ));
    };
    let b = backup(p, h, &u, 32).await?;
    let ctx = recovery_context(h, &u, &b.env)?.with_configs(wrong);
    match p.open_envelope(&b.env, &ctx).await {
        Ok(_) => return Err(Failure::new("a wrong secret never recovers the share", "open_envelope returned a share")),
        Err(e) => {
            ensure(e.kind() == &ErrorKind::WrongSecret, "a wrong secret fails with WrongSecret", || described(&e))?
        }
    }
    if let Ok(k) = p.open_key(b.env.key_header(), &ctx).await {
        ensure(k != b.key, "the data key depends on the user's secret", || {
            "open_key with a wrong secret returned the right key".to_owned()
        })?;
    }
    recovers(p, h, &b, "the right secret still recovers after a wrong attempt").await?;
    Ok(Outcome::Passed)
}

/// Calls without the per-call configs the harness passes. For a provider
/// that `needs_user_secret`, `seal_key`, `open_key` and `probe` fail with
/// `InvalidInput` (that tells the caller what to pass), never with a key.
/// For another provider whose harness passes configs (an access token),
/// each call either succeeds (the provider has a fallback) or fails with a
/// typed, final error: not `Internal`, not retryable, never a panic.
pub async fn missing_config(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    let u = user("missing-config", "a");
    let secret = p.capabilities().needs_user_secret;
    if !secret && h.configs(&u).is_empty() {
        return Ok(Outcome::skipped(
            "capabilities: needs_user_secret is false, and the harness passes no per-call configs",
        ));
    }
    let b = backup(p, h, &u, 32).await?;
    let bare = recovery_context(h, &u, &b.env)?.with_configs(Configs::new());
    let fresh = bare.clone().with_backup_id(setup(BackupId::generate(), "backup id")?);
    let results = [
        ("seal_key", p.seal_key(&fresh).await.map(|_| ())),
        ("open_key", p.open_key(b.env.key_header(), &bare).await.map(|_| ())),
        ("probe", p.probe(&bare).await),
    ];
    for (call, r) in results {
        if secret {
            let contract = "a missing per-call secret is an InvalidInput error";
            match r {
                Ok(()) => return Err(Failure::new(contract, format!("{call} without configs succeeded"))),
                Err(e) => {
                    ensure(e.kind() == &ErrorKind::InvalidInput, contract, || format!("{call}: {}", described(&e)))?
                }
            }
        } else if let Err(e) = r {
            ensure(refusal_ok(&e), "a missing per-call config is a typed, final error", || {
                format!("{call}: {}", described(&e))
            })?;
        }
    }
    recovers(p, h, &b, "calls without configs leave the backup recoverable").await?;
    Ok(Outcome::Passed)
}

/// The changes the tamper case makes to one envelope string.
pub(crate) fn tamperings(text: &str, env: &Envelope, samples: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let alt = |c: u8| -> u8 {
        match c {
            b'A' => b'B',
            b'.' => b'A',
            _ => b'A',
        }
    };
    let bytes = text.as_bytes();
    let body_start = text.rfind('.').map_or(bytes.len(), |i| i + 1);
    let mut positions: Vec<usize> = (0..body_start).collect();
    let body_len = bytes.len() - body_start;
    positions.extend(spread(body_len, samples).into_iter().map(|i| body_start + i));
    positions.sort_unstable();
    positions.dedup();
    for i in positions {
        let mut m = bytes.to_vec();
        m[i] = alt(m[i]);
        if m[i] == bytes[i] {
            m[i] = b'C';
        }
        out.push((format!("character {i} {:?} -> {:?}", bytes[i] as char, m[i] as char), lossless(m)));
    }
    let enc = |h: &[u8], b: &[u8]| format!("{PREFIX_V1}{}.{}", URL_SAFE_NO_PAD.encode(h), URL_SAFE_NO_PAD.encode(b));
    let (h, b) = (env.header_bytes(), env.body());
    for i in 0..h.len() {
        for x in [0x01u8, 0x80] {
            let mut m = h.to_vec();
            m[i] ^= x;
            out.push((format!("header byte {i} xor {x:#04x}"), enc(&m, b)));
        }
    }
    for i in spread(b.len(), samples) {
        let mut m = b.to_vec();
        m[i] ^= 0x01;
        out.push((format!("body byte {i} xor 0x01"), enc(h, &m)));
    }
    let mut longer = h.to_vec();
    longer.push(0);
    out.push(("a byte appended to the header".into(), enc(&longer, b)));
    out.push(("the body's last byte removed".into(), enc(h, &b[..b.len() - 1])));
    let mut more = b.to_vec();
    more.push(0);
    out.push(("a byte appended to the body".into(), enc(h, &more)));
    out.push(("the last character removed".into(), text[..text.len() - 1].to_owned()));
    out.push(("a character appended".into(), format!("{text}A")));
    out.push(("padding appended".into(), format!("{text}==")));
    out.push(("whitespace appended".into(), format!("{text}\n")));
    out.push(("upper-cased prefix".into(), format!("SB1.{}", &text[PREFIX_V1.len()..])));
    out.push(("header and body swapped".into(), enc(b, h)));
    // Key headers of other lengths, with the envelope's lengths kept consistent,
    // so that the provider's own header parser sees them.
    let kh = env.key_header().as_bytes();
    let mut variants: Vec<(&str, Vec<u8>)> = vec![
        ("an empty key header", vec![]),
        ("a key header of only its first byte", kh.iter().take(1).copied().collect()),
        ("a key header with a byte appended", kh.iter().copied().chain([0]).collect()),
        ("a key header of the largest size, all 0xff", vec![0xff; KeyHeader::MAX_LEN]),
    ];
    if !kh.is_empty() {
        variants.push(("a key header with its last byte removed", kh[..kh.len() - 1].to_vec()));
    }
    for (what, v) in variants {
        if let Ok(k) = KeyHeader::new(v) {
            out.push((what.to_owned(), enc(&encode_header(env.method(), env.backup_id(), env.aead(), &k), b)));
        }
    }
    out.push(("the empty string".into(), String::new()));
    out
}

/// Positions `0..len`: all of them when `len <= samples`, else the first
/// and last 8 and `samples` evenly spread ones.
fn spread(len: usize, samples: usize) -> Vec<usize> {
    if len <= samples {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = (0..8).chain(len - 8..len).collect();
    v.extend((0..samples).map(|i| i * len / samples));
    v.sort_unstable();
    v.dedup();
    v
}

fn lossless(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_default()
}

/// Every single-character change of the envelope string and every
/// single-byte change of the decoded header (xor 0x01 and 0x80) and body
/// (xor 0x01, re-encoded), plus a few structural changes: each is a typed,
/// final error (not `Internal`, not retryable), never a share and never a
/// panic. The case seals a 32-byte share, whose body (48 bytes, 64
/// characters) is within [`Harness::with_tamper_samples`]'s default of 64,
/// so every character and byte of the envelope is changed; only a body
/// longer than that bound is sampled (first and last 8 positions and the
/// bound's number spread evenly), which keeps slow-KDF providers' runs
/// bounded.
pub async fn tampered_envelope(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    let u = user("tamper", "a");
    let b = backup(p, h, &u, 32).await?;
    recovers(p, h, &b, "the untouched envelope recovers (before tampering)").await?;
    let text = b.env.encode();
    let confirmed = confirms_key(p, h, &b).await?;
    for (what, changed) in tamperings(&text, &b.env, h.tamper_samples()) {
        if changed == text {
            continue;
        }
        let env = match Envelope::parse(&changed) {
            Err(e) => {
                ensure(e.kind() == &ErrorKind::InvalidEnvelope, "a malformed envelope is InvalidEnvelope", || {
                    format!("{what}: {}", described(&e))
                })?;
                continue;
            }
            Ok(env) => env,
        };
        let ctx = recovery_context(h, &u, &env)?;
        let p2 = p.clone();
        let body_only = env.header_bytes() == b.env.header_bytes();
        let r = guarded(what.clone(), async move { p2.open_envelope(&env, &ctx).await }).await?;
        if let (true, true, Err(e)) = (confirmed, body_only, &r) {
            ensure(
                e.kind() == &ErrorKind::Integrity,
                "a changed body under a key the provider confirmed is Integrity (the secret was right), never WrongSecret",
                || format!("{what}: {}", described(e)),
            )?;
        }
        match r {
            Ok(_) => {
                return Err(Failure::new(
                    "a changed envelope never recovers a share",
                    format!("{what}: open_envelope returned a share"),
                ));
            }
            Err(e) => ensure(refusal_ok(&e), "a changed envelope is refused with a typed, final error", || {
                format!("{what}: {}", described(&e))
            })?,
        }
    }
    recovers(p, h, &b, "the untouched envelope still recovers after the tampered ones were refused").await?;
    Ok(Outcome::Passed)
}

fn encode_header(method: &MethodId, backup_id: BackupId, aead: Aead, key_header: &KeyHeader) -> Vec<u8> {
    let m = method.as_str().as_bytes();
    let k = key_header.as_bytes();
    let mut v = vec![1, aead.id(), m.len() as u8];
    v.extend_from_slice(m);
    v.extend_from_slice(backup_id.as_bytes());
    v.extend_from_slice(&(k.len() as u16).to_be_bytes());
    v.extend_from_slice(k);
    v
}

fn relabel(env: &Envelope, method: &MethodId) -> String {
    let h = encode_header(method, env.backup_id(), env.aead(), env.key_header());
    format!("{PREFIX_V1}{}.{}", URL_SAFE_NO_PAD.encode(h), URL_SAFE_NO_PAD.encode(env.body()))
}

fn other_method(p: &MethodId) -> MethodId {
    let id = if p.as_str() == "conformance-other" { "conformance-another" } else { "conformance-other" };
    MethodId::new(id).expect("valid id")
}

async fn refused(
    p: &Arc<dyn BackupProvider>,
    env: &Envelope,
    ctx: &Context,
    contract: &str,
    what: &str,
) -> Result<Error, Failure> {
    match p.open_envelope(env, ctx).await {
        Ok(_) => Err(Failure::new(contract, format!("{what}: open_envelope returned the share"))),
        Err(e) => {
            ensure(!matches!(e.kind(), ErrorKind::Internal), contract, || format!("{what}: {}", described(&e)))?;
            Ok(e)
        }
    }
}

/// Whether the provider confirms the key of `b` (`DataKey::is_confirmed`)
/// when asked with the right configs.
async fn confirms_key(p: &Arc<dyn BackupProvider>, h: &Harness, b: &Backup) -> Result<bool, Failure> {
    let ctx = recovery_context(h, &b.user, &b.env)?;
    Ok(call(p.open_key(b.env.key_header(), &ctx).await, "open_key finds the key of a fresh backup")?.is_confirmed())
}

/// For a key the provider confirms, a refusal with the right secret must be
/// `Integrity` pointing at the store, never `WrongSecret`.
fn integrity_if_confirmed(confirmed: bool, e: &Error, what: &str) -> Result<(), Failure> {
    if !confirmed {
        return Ok(());
    }
    ensure(
        e.kind() == &ErrorKind::Integrity,
        "with the right secret and a key the provider confirmed, a moved envelope is Integrity, never WrongSecret",
        || format!("{what}: {}", described(e)),
    )
}

/// An envelope sealed for user A does not open for user B (with B's own
/// configs), nor for A under another custodian or client id; relabelled
/// with another method id it is refused, and an envelope of another method
/// relabelled as this one does not open either.
pub async fn envelope_bound_to_user_and_method(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    let (a, bob) = (user("moved", "a"), user("moved", "b"));
    let b = backup(p, h, &a, 32).await?;
    recovers(p, h, &b, "the envelope recovers for its own user").await?;
    let contract = "an envelope opens only for the user, custodian and client it was sealed for";
    let confirmed = confirms_key(p, h, &b).await?;
    let ctx_b = recovery_context(h, &bob, &b.env)?;
    refused(p, &b.env, &ctx_b, contract, "moved to another user").await?;
    // Bob's id with Alice's own secret / credentials: the key is right.
    let ctx_b_right = recovery_context(h, &bob, &b.env)?.with_configs(h.configs(&a));
    let what = "moved to another user, opened with the original user's secret";
    let e = refused(p, &b.env, &ctx_b_right, contract, what).await?;
    integrity_if_confirmed(confirmed, &e, what)?;

    let base = recovery_context(h, &a, &b.env)?;
    let other_custodian = CustodianId::new("conformance-other-custodian").expect("valid");
    let other_client = ClientId::new("conformance-other-client").expect("valid");
    let what = "moved to another custodian";
    let e = refused(p, &b.env, &base.clone().with_custodian(other_custodian), contract, what).await?;
    integrity_if_confirmed(confirmed, &e, what)?;
    let what = "moved to another client";
    let e = refused(p, &b.env, &base.clone().with_client(other_client), contract, what).await?;
    integrity_if_confirmed(confirmed, &e, what)?;

    let contract = "an envelope opens only with the method that sealed it";
    let other = other_method(p.method());
    let relabelled = setup(Envelope::parse(&relabel(&b.env, &other)), "relabel the envelope")?;
    refused(p, &relabelled, &base, contract, &format!("relabelled as method {other}")).await?;
    let foreign = setup(
        Envelope::seal(
            other.clone(),
            b.env.backup_id(),
            b.env.aead(),
            b.env.key_header().clone(),
            &b.key,
            &b.share,
            &base.binding(),
        ),
        "seal an envelope of another method",
    )?;
    let disguised = setup(Envelope::parse(&relabel(&foreign, p.method())), "relabel the foreign envelope")?;
    refused(p, &disguised, &base, contract, &format!("an envelope of method {other} relabelled as {}", p.method()))
        .await?;
    Ok(Outcome::Passed)
}

/// The key of user A's backup is scoped to user A: `open_key` with A's key
/// header but user B's context (B's own configs, as the harness makes them)
/// fails or gives another key, never A's; `delete_key` in B's context
/// leaves A's backup recoverable.
///
/// Why it matters: the envelope binding stops B from decrypting with a key
/// *inside* the framework, but the binding is not secret; a provider that
/// hands A's key to whoever presents A's header (a directory keyed by
/// backup id only, a Drive lookup that ignores whose Drive it is) lets any
/// user who obtains A's cipher text decrypt it by binding it to A himself.
pub async fn key_scoped_to_user(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    let (a, bob) = (user("scoped", "a"), user("scoped", "b"));
    let b = backup(p, h, &a, 32).await?;
    recovery_works(p, h, &b, "that keys are scoped to their user").await?;
    let ctx_b = recovery_context(h, &bob, &b.env)?;
    match p.open_key(b.env.key_header(), &ctx_b).await {
        Ok(k) => ensure(k != b.key, "open_key never hands one user's data key to another user", || {
            format!(
                "open_key(A's header) in user B's context returned user A's key: scope keys by user \
                 (derive them from the user's own secret, keep them in the user's own account, or put \
                 the user id into the key's location) and give each user distinct configs in the harness \
                 (A: {}, B: {})",
                b.user, bob
            )
        })?,
        Err(e) => {
            ensure(!matches!(e.kind(), ErrorKind::Internal), "refusing another user's key is a typed error", || {
                described(&e)
            })?
        }
    }
    if let Err(e) = p.delete_key(b.env.key_header(), &ctx_b).await {
        ensure(!matches!(e.kind(), ErrorKind::Internal), "refusing another user's delete is a typed error", || {
            described(&e)
        })?;
    }
    recovers(p, h, &b, "delete_key in another user's context never deletes this user's key").await?;
    Ok(Outcome::Passed)
}

/// When `deletes`: `delete_key` of one backup makes its recovery fail with
/// `NotFound`, deleting again succeeds, and another backup of the same user
/// is untouched. Otherwise `delete_key` succeeds and touches nothing, and
/// the case reports the `NotFound` checks as skipped
/// ([`Outcome::PartlySkipped`]).
pub async fn delete_key(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    let u = user("delete", "a");
    let (x, y) = (backup(p, h, &u, 32).await?, backup(p, h, &u, 32).await?);
    recovery_works(p, h, &x, "delete_key").await?;
    let ctx = recovery_context(h, &u, &x.env)?;
    call(p.delete_key(x.env.key_header(), &ctx).await, "delete_key of an existing backup succeeds")?;
    if p.capabilities().deletes {
        match p.open_envelope(&x.env, &ctx).await {
            Ok(_) => {
                return Err(Failure::new(
                    "after delete_key the backup no longer recovers (capabilities say deletes)",
                    "open_envelope still returned the share",
                ));
            }
            Err(e) => {
                ensure(e.kind() == &ErrorKind::NotFound, "recovery of a deleted key is NotFound", || described(&e))?
            }
        }
        call(p.delete_key(x.env.key_header(), &ctx).await, "deleting a key that is already gone succeeds")?;
    }
    recovers(p, h, &y, "deleting one backup's key leaves the user's other backups recoverable").await?;
    if p.capabilities().deletes {
        Ok(Outcome::Passed)
    } else {
        Ok(Outcome::passed_except(vec![
            "recovery after delete_key is NotFound, and a second delete_key succeeds: capabilities: deletes is false"
                .to_owned(),
        ]))
    }
}

/// `probe` succeeds with the user's configs (twice: it has no side effect
/// that breaks it), reports no `done`, and a backup still works after it.
pub async fn probe(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    let u = user("probe", "a");
    let (sink, log) = ProgressSink::recording();
    let ctx = context(h, &u)?.with_progress(sink.clone());
    call(p.probe(&ctx).await, "probe succeeds on a healthy provider with the user's configs")?;
    call(p.probe(&ctx).await, "probe can be repeated")?;
    ensure(!sink.is_finished(), "a provider never reports done", || format!("probe reported {:?}", log_of(&log)))?;
    let b = backup(p, h, &u, 32).await?;
    recovers(p, h, &b, "a backup after probe recovers").await?;
    Ok(Outcome::Passed)
}

/// 32 backups at once (8 users, 4 each), each recovered at once, then 32
/// recoveries of one envelope at once: all succeed with the right share.
pub async fn concurrency(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    let users: Vec<UserId> = (0..8).map(|i| user("concurrent", &format!("u{i}"))).collect();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..32 {
        let (p, h, u) = (p.clone(), h.clone(), users[i % 8].clone());
        set.spawn(async move {
            let b = backup(&p, &h, &u, 32).await?;
            recovers(&p, &h, &b, "a backup made among 31 concurrent others recovers").await?;
            Ok::<_, Failure>(b)
        });
    }
    let mut done = Vec::new();
    while let Some(r) = set.join_next().await {
        done.push(r.map_err(|e| Failure::new("concurrent backups do not panic", e.to_string()))??);
    }
    let target = Arc::new(done.swap_remove(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (p, h, t) = (p.clone(), h.clone(), target.clone());
        set.spawn(async move { recovers(&p, &h, &t, "32 concurrent recoveries of one envelope all succeed").await });
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| Failure::new("concurrent recoveries do not panic", e.to_string()))??;
    }
    for b in &done {
        recovers(p, h, b, "every concurrent backup still recovers afterwards").await?;
    }
    Ok(Outcome::Passed)
}

/// Polls a future at most `polls` times, then gives up (and the caller drops it).
struct PollLimit<F> {
    fut: Pin<Box<F>>,
    polls: usize,
}

impl<F: Future> Future for PollLimit<F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        if self.polls == 0 {
            return Poll::Ready(None);
        }
        self.polls -= 1;
        match self.fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending if self.polls == 0 => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A backup future dropped after 1, 2, 3, ... polls (every await point,
/// until one completes), and after growing timeouts; likewise a recovery:
/// afterwards the provider still backs up and recovers, and the backup made
/// before the cancellations, and each one that completed, still recovers.
pub async fn cancellation(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    let u = user("cancel", "a");
    let first = backup(p, h, &u, 32).await?;
    recovery_works(p, h, &first, "cancellation").await?;
    let mut completed = Vec::new();
    let mut cut_seal = 0;
    for polls in 1..=64 {
        let share = random_share(32)?;
        let ctx = context(h, &u)?;
        let (p2, s2, c2) = (p.clone(), share.clone(), ctx.clone());
        let fut = async move { p2.seal_share(&s2, &c2).await };
        match (PollLimit { fut: Box::pin(fut), polls }).await {
            Some(r) => {
                let (env, key) = call(r, "a backup that is not cancelled succeeds")?;
                completed.push(Backup { user: u.clone(), share, env, key });
                break;
            }
            None => cut_seal += 1,
        }
        tokio::task::yield_now().await;
        recovers(p, h, &first, &format!("a backup cancelled after {polls} poll(s) loses no earlier backup")).await?;
    }
    for ms in [0u64, 1, 2, 5, 10, 25, 50] {
        let share = random_share(32)?;
        let ctx = context(h, &u)?;
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(ms), p.seal_share(&share, &ctx)).await {
            let (env, key) = call(r, "a backup that is not cancelled succeeds")?;
            completed.push(Backup { user: u.clone(), share, env, key });
        }
    }
    for polls in 1..=64 {
        let ctx = recovery_context(h, &u, &first.env)?;
        let (p2, e2) = (p.clone(), first.env.clone());
        let fut = async move { p2.open_envelope(&e2, &ctx).await.map(|_| ()) };
        if (PollLimit { fut: Box::pin(fut), polls }).await.is_some() {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after = backup(p, h, &u, 32).await?;
    recovers(p, h, &after, "after cancelled calls, a new backup succeeds and recovers").await?;
    recovers(p, h, &first, &format!("the backup made before {cut_seal} cancelled backups still recovers")).await?;
    for b in &completed {
        recovers(p, h, b, "each backup that completed between cancellations recovers").await?;
    }
    Ok(Outcome::Passed)
}

fn log_of(log: &Arc<Mutex<Vec<Progress>>>) -> Vec<Progress> {
    log.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn statuses(events: &[Progress]) -> String {
    let v: Vec<String> = events.iter().map(|p| format!("{}{}", p.status, if p.done { "(done)" } else { "" })).collect();
    format!("[{}]", v.join(", "))
}

fn in_seal_phase(s: Status) -> bool {
    matches!(s, Status::Generating | Status::DerivingKey | Status::UploadingKey)
}

fn in_open_phase(s: Status) -> bool {
    matches!(s, Status::DerivingKey | Status::FetchingKey)
}

fn check_final(events: &[Progress], ok: bool, what: &str) -> Result<(), Failure> {
    let contract = "progress events arrive in order and only the last has done = true";
    ensure(events.windows(2).all(|w| w[0].status.rank() < w[1].status.rank()), contract, || {
        format!("{what}: {}", statuses(events))
    })?;
    let last = events.last().copied();
    let want = if ok { Status::Done } else { Status::Failed };
    ensure(last == Some(Progress { status: want, done: true }), contract, || {
        format!("{what}: last event is not {want}(done): {}", statuses(events))
    })?;
    ensure(events.iter().filter(|p| p.done).count() == 1, contract, || format!("{what}: {}", statuses(events)))
}

/// Wraps the provider's calls the way the orchestrator does (`Reading`
/// before, `Encrypting`/`Decrypting` from the framework, `Verifying`,
/// `Storing`, `Acknowledging` after, then `finish`) and checks that the
/// provider reports only the steps of its phase (`Generating`,
/// `DerivingKey`, `UploadingKey` while sealing; `DerivingKey`,
/// `FetchingKey` while opening) and never `done`, on success, on a failed
/// recovery (deleted key, wrong secret or changed key header) and on a
/// failed backup (without the per-call configs, else dropped at its first
/// await point; when neither fails, the report says that half was not
/// checked); and that the whole sequence is ordered with `done` last.
///
/// Out of order steps: core's `ProgressSink` drops a non-final event whose
/// rank is not above the last one it forwarded (so a user never sees
/// progress go backwards) and counts it in `ProgressSink::dropped`; the case
/// requires that count to stay 0 through every provider call, so a provider
/// that reports a step twice or backwards (say `UploadingKey` then
/// `Generating`) fails with the number of dropped events.
pub async fn progress(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    let u = user("progress", "a");
    let share = random_share(32)?;

    let (sink, log) = ProgressSink::recording();
    let ctx = context(h, &u)?.with_progress(sink.clone());
    sink.report(Status::Reading);
    let (env, key) = call(p.seal_share(&share, &ctx).await, "seal_share succeeds")?;
    let events = log_of(&log);
    let provider_part: Vec<Progress> =
        events.iter().skip(1).take_while(|e| e.status != Status::Encrypting).copied().collect();
    ensure(!sink.is_finished(), "a provider never reports done (the orchestrator finishes)", || {
        format!("after seal_share: {}", statuses(&events))
    })?;
    ensure(provider_part.iter().all(|e| in_seal_phase(e.status)), "seal_key reports only sealing steps", || {
        format!("events during seal_key: {}", statuses(&provider_part))
    })?;
    ensure(events.iter().any(|e| e.status == Status::Encrypting), "seal_key reports nothing past Encrypting", || {
        format!("Encrypting was dropped as out of order: {}", statuses(&events))
    })?;
    in_order(&sink, &events, "seal_share")?;
    sink.report(Status::Verifying);
    setup(env.open(&key, &ctx.binding()), "verify the new envelope")?;
    sink.report(Status::Storing);
    sink.report(Status::Acknowledging);
    sink.finish(true);
    check_final(&log_of(&log), true, "backup")?;

    let (sink, log) = ProgressSink::recording();
    let rctx = recovery_context(h, &u, &env)?.with_progress(sink.clone());
    sink.report(Status::Reading);
    sink.report(Status::Parsing);
    call(p.open_envelope(&env, &rctx).await, "open_envelope succeeds")?;
    let events = log_of(&log);
    let provider_part: Vec<Progress> =
        events.iter().skip(2).take_while(|e| e.status != Status::Decrypting).copied().collect();
    ensure(!sink.is_finished(), "a provider never reports done (the orchestrator finishes)", || {
        format!("after open_envelope: {}", statuses(&events))
    })?;
    ensure(provider_part.iter().all(|e| in_open_phase(e.status)), "open_key reports only opening steps", || {
        format!("events during open_key: {}", statuses(&provider_part))
    })?;
    in_order(&sink, &events, "open_envelope")?;
    sink.finish(true);
    check_final(&log_of(&log), true, "recovery")?;

    // A failed recovery: deleted key, wrong secret, or a changed key header.
    let (sink, log) = ProgressSink::recording();
    let mut fctx = recovery_context(h, &u, &env)?.with_progress(sink.clone());
    let caps = p.capabilities();
    let failing = if caps.deletes {
        call(p.delete_key(env.key_header(), &fctx).await, "delete_key succeeds")?;
        env.clone()
    } else if let (true, Some(w)) = (caps.needs_user_secret, h.wrong_secret(&u)) {
        fctx = fctx.with_configs(w);
        env.clone()
    } else {
        let mut kh = env.key_header().as_bytes().to_vec();
        match kh.last_mut() {
            Some(b) => *b ^= 0x01,
            None => kh.push(1),
        }
        let kh = setup(KeyHeader::new(kh), "change the key header")?;
        let hb = encode_header(env.method(), env.backup_id(), env.aead(), &kh);
        let s = format!("{PREFIX_V1}{}.{}", URL_SAFE_NO_PAD.encode(hb), URL_SAFE_NO_PAD.encode(env.body()));
        setup(Envelope::parse(&s), "re-encode the envelope")?
    };
    sink.report(Status::Reading);
    sink.report(Status::Parsing);
    let r = p.open_envelope(&failing, &fctx).await;
    ensure(r.is_err(), "a recovery that must fail fails", || "it returned a share".to_owned())?;
    ensure(!sink.is_finished(), "a provider never reports done, also when it fails", || {
        format!("after a failed open_envelope: {}", statuses(&log_of(&log)))
    })?;
    in_order(&sink, &log_of(&log), "a failed open_envelope")?;
    sink.finish(false);
    check_final(&log_of(&log), false, "failed recovery")?;

    // A failed backup.
    let skipped = failed_backup_progress(p, h, &u, &share).await?;
    Ok(Outcome::passed_except(skipped.into_iter().collect()))
}

/// The failed-backup half of [`progress`]. It makes the backup fail
/// without the per-call configs (a provider that needs a user secret must
/// refuse, one that takes a token may), else by dropping `seal_share` at its
/// first await point, as the orchestrator does when a backup times out or is
/// cancelled. It returns what was not checked when neither fails.
/// Core's sink drops a step that goes backwards or repeats (so an app never
/// sees one); a provider that reports one anyway is caught by the count.
fn in_order(sink: &ProgressSink, events: &[Progress], what: &str) -> Result<(), Failure> {
    ensure(sink.dropped() == 0, "a provider reports its steps in order, each once", || {
        format!(
            "{} event(s) went backwards or repeated during {what} and were dropped; delivered: {}",
            sink.dropped(),
            statuses(events)
        )
    })
}

async fn failed_backup_progress(
    p: &Arc<dyn BackupProvider>,
    h: &Harness,
    u: &UserId,
    share: &BackupShare,
) -> Result<Option<String>, Failure> {
    let caps = p.capabilities();
    let finish_failed = |sink: &ProgressSink, log: &Arc<Mutex<Vec<Progress>>>, what: &str| {
        let events = log_of(log);
        ensure(!sink.is_finished(), "a provider never reports done, also when it fails", || {
            format!("after {what}: {}", statuses(&events))
        })?;
        let part: Vec<Progress> = events.iter().skip(1).copied().collect();
        ensure(part.iter().all(|e| in_seal_phase(e.status)), "seal_key reports only sealing steps", || {
            format!("events during {what}: {}", statuses(&part))
        })?;
        in_order(sink, &events, what)?;
        sink.finish(false);
        check_final(&log_of(log), false, what)
    };
    if caps.needs_user_secret || !h.configs(u).is_empty() {
        let (sink, log) = ProgressSink::recording();
        let bctx = context(h, u)?.with_configs(Configs::new()).with_progress(sink.clone());
        sink.report(Status::Reading);
        let r = p.seal_share(share, &bctx).await;
        if caps.needs_user_secret {
            ensure(r.is_err(), "a backup without the user's secret fails", || "it sealed an envelope".to_owned())?;
        }
        if r.is_err() {
            return finish_failed(&sink, &log, "a seal_share refused without configs").map(|()| None);
        }
    }
    let (sink, log) = ProgressSink::recording();
    let ctx = context(h, u)?.with_progress(sink.clone());
    sink.report(Status::Reading);
    let (p2, s2) = (p.clone(), share.clone());
    let fut = async move { p2.seal_share(&s2, &ctx).await };
    if (PollLimit { fut: Box::pin(fut), polls: 1 }).await.is_some() {
        return Ok(Some(
            "progress of a failed backup: seal_share completed at its first poll and no missing config made it \
             fail, so the case found no way to make a backup fail inside the provider"
                .to_owned(),
        ));
    }
    finish_failed(&sink, &log, "a seal_share dropped at its first await point").map(|()| None)
}

/// `seal_key` and `open_key` each emit at least one tracing span or event
/// (the design asks for a span per provider call) that names the backup id
/// (its `Display`: 32 lower-case hex digits, e.g. as a field
/// `backup_id = %ctx.backup_id()`), so that an operator can follow one
/// backup through the logs. What the fields must not contain is checked by
/// `no_secret_in_debug`.
///
/// Spans and events count from every thread the call uses: its own task,
/// and (through [`Capture::everywhere`]) `spawn_blocking`, other tasks and
/// plain threads, as long as the process has no global tracing subscriber of
/// its own.
pub async fn traced(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let (p, h) = (provider, harness);
    let u = user("traced", "a");
    let ctx = context(h, &u)?;
    let id = ctx.backup_id().to_string();
    let capture = Capture::default();
    let listen = capture.everywhere();
    let sealed = call(p.seal_key(&ctx).with_subscriber(capture.clone()).await, "seal_key succeeds")?;
    drop(listen);
    let text = capture.text();
    ensure(text.contains(&id), "seal_key emits a tracing span or event naming the backup id", || emitted(&text, &id))?;
    let capture = Capture::default();
    let listen = capture.everywhere();
    let rctx = context(h, &u)?.with_backup_id(ctx.backup_id());
    call(p.open_key(&sealed.header, &rctx).with_subscriber(capture.clone()).await, "open_key succeeds")?;
    drop(listen);
    let text = capture.text();
    ensure(text.contains(&id), "open_key emits a tracing span or event naming the backup id", || emitted(&text, &id))?;
    Ok(Outcome::Passed)
}

/// What a call emitted, for a failure of `traced` (bounded: other tests'
/// threads may have emitted much at the same time).
fn emitted(text: &str, id: &str) -> String {
    let hint = format!(
        "name the backup id as its Display (32 lower-case hex digits, {id} here), e.g. \
         tracing::info_span!(\"seal_key\", backup_id = %ctx.backup_id())"
    );
    if text.is_empty() {
        return format!("it emitted nothing: {hint}");
    }
    let lines: Vec<&str> = text.lines().take(20).collect();
    let more = text.lines().count().saturating_sub(lines.len());
    let more = if more > 0 { format!("\n(and {more} more line(s))") } else { String::new() };
    format!("no span or event named {id}; {hint}. It emitted:\n{}{more}", lines.join("\n"))
}

fn leaks(needles: &Needles, what: &str, text: &str) -> Result<(), Failure> {
    match needles.find(text) {
        None => Ok(()),
        Some(form) => {
            Err(Failure::new("no Debug, Display, error or log shows a secret", format!("{what} shows {form}")))
        }
    }
}

fn listen_covers_other_threads() -> bool {
    Capture::default().everywhere().covers_other_threads()
}

fn contains_window(hay: &[u8], secret: &[u8]) -> bool {
    secret.len() >= 12 && secret.windows(12).step_by(4).any(|w| hay.windows(12).any(|h| h == w))
}

/// After a backup and a recovery (and the failures the capabilities allow:
/// wrong secret, deleted key, changed header, another user), none of these
/// shows the share, the data key or the harness's secrets, in clear, hex,
/// base64 or as a byte list: the provider's `Debug` (`{:?}` and `{:#?}`),
/// the `Debug` of the contexts the calls got and of every per-call config
/// value in them (declared with [`Harness::with_config_type`]; a config
/// value of an undeclared type fails the case, since the suite cannot
/// reach it), of each [`Harness::with_debug_value`] (builders), and of a
/// provider built through its registration from all its documented
/// settings; every error's `Display` (`{}` and `{:#}`) and `Debug`; the key
/// header's bytes and `Debug`; and every tracing event and span field the
/// calls emitted, at every level. Without a linked registration the built
/// provider is reported as not checked (`registration` fails on its own).
pub async fn no_secret_in_debug(provider: &Arc<dyn BackupProvider>, harness: &Harness) -> CaseResult {
    let capture = Capture::default();
    let listen = capture.everywhere();
    let r = exercise_for_leaks(provider, harness).with_subscriber(capture.clone()).await;
    drop(listen);
    let (texts, needles, mut skipped) = r?;
    for (what, t) in &texts {
        leaks(&needles, what, t)?;
    }
    if let Some(place) = capture.find(&needles) {
        return Err(Failure::new("no Debug, Display, error or log shows a secret", place));
    }
    if !listen_covers_other_threads() {
        skipped.push(
            "tracing on threads outside the suite's runtime (spawn_blocking, spawned tasks of another runtime): the \
             process has a global tracing subscriber of its own, so the suite could not install its capture"
                .to_owned(),
        );
    }
    Ok(Outcome::passed_except(skipped))
}

/// The `Debug` of the context of user `u` and of each config value in it,
/// after checking that the harness declared every config type it passes.
fn context_texts(h: &Harness, ctx: &Context, role: &str, texts: &mut Vec<(String, String)>) -> Result<(), Failure> {
    texts.push((format!("the Debug of a Context ({role})"), format!("{ctx:?} {ctx:#?}")));
    let values = h.config_debugs(ctx.configs());
    ensure(values.len() == ctx.configs().len(), "every per-call config value's Debug is checked", || {
        format!(
            "the harness passes {} config value(s) ({:?}) but declared the type of only {} of them: declare each \
             with Harness::with_config_type::<YourConfig>(), so that the suite can format it",
            ctx.configs().len(),
            ctx.configs(),
            values.len()
        )
    })?;
    for (ty, text) in values {
        texts.push((format!("the Debug of the config value {ty} ({role})"), text));
    }
    Ok(())
}

/// The `Debug` of the provider built through its registration from every
/// documented example setting, or why it was not checked.
fn registered_provider_text(p: &Arc<dyn BackupProvider>) -> Result<(String, String), String> {
    let id = p.method().as_str();
    let Some(reg) = linked_registrations().find(|r| r.method_str() == id) else {
        return Err(format!(
            "the Debug of a provider built from its documented settings: no linked registration of {id:?}"
        ));
    };
    let settings = Settings::from_pairs(reg.settings().iter().map(|s| (s.key, s.example)));
    match reg.build(&settings) {
        Ok(built) => Ok((
            "the Debug of the provider built from its documented settings".to_owned(),
            format!("{built:?} {built:#?}"),
        )),
        Err(e) => Err(format!(
            "the Debug of a provider built from its documented settings: it did not build ({}; the registration case \
             reports it)",
            e.kind().name()
        )),
    }
}

type Leaks = (Vec<(String, String)>, Needles, Vec<String>);

async fn exercise_for_leaks(p: &Arc<dyn BackupProvider>, h: &Harness) -> Result<Leaks, Failure> {
    let (a, bob) = (user("debug", "a"), user("debug", "b"));
    let b = backup(p, h, &a, 48).await?;
    let mut needles = Needles::new();
    needles.add_bytes("the share", b.share.expose_secret());
    needles.add_bytes("the data key", b.key.expose_secret());
    for u in [&a, &bob] {
        for s in h.secrets(u) {
            needles.add_text("a harness secret", &s);
        }
    }
    for (what, bytes) in h.provider_secrets() {
        needles.add_bytes(what, bytes);
    }
    recovers(p, h, &b, "the backup recovers").await?;
    let header = b.env.key_header();
    ensure(!contains_window(header.as_bytes(), b.key.expose_secret()), "the key header never holds the key", || {
        "the key header contains bytes of the data key".to_owned()
    })?;
    ensure(
        !contains_window(header.as_bytes(), b.share.expose_secret()),
        "the key header never holds the share",
        || "the key header contains bytes of the share".to_owned(),
    )?;
    if let Some(form) = needles.find_in_bytes(header.as_bytes()) {
        return Err(Failure::new("the key header holds no secret", format!("it contains {form}")));
    }
    let mut texts = vec![
        ("the provider's Debug".to_owned(), format!("{p:?}")),
        ("the provider's pretty Debug".to_owned(), format!("{p:#?}")),
        ("the key header's Debug".to_owned(), format!("{header:?}")),
        ("the envelope's Debug".to_owned(), format!("{:?}", b.env)),
    ];
    let ctx = recovery_context(h, &a, &b.env)?;
    context_texts(h, &ctx, "user A's recovery", &mut texts)?;
    context_texts(h, &recovery_context(h, &bob, &b.env)?, "user B's", &mut texts)?;
    if let Some(w) = h.wrong_secret(&a) {
        let wctx = ctx.clone().with_configs(w);
        texts.push(("the Debug of a Context with a wrong secret".to_owned(), format!("{wctx:?} {wctx:#?}")));
        for (ty, text) in h.config_debugs(wctx.configs()) {
            texts.push((format!("the Debug of the wrong-secret config value {ty}"), text));
        }
    }
    for (what, text) in h.debug_values() {
        texts.push((format!("the Debug of {what} (Harness::with_debug_value)"), text));
    }
    let mut skipped = Vec::new();
    match registered_provider_text(p) {
        Ok(t) => texts.push(t),
        Err(why) => skipped.push(why),
    }
    let mut errors = Vec::new();
    if let Some(w) = h.wrong_secret(&a) {
        errors.push(("with a wrong secret", p.open_envelope(&b.env, &ctx.clone().with_configs(w)).await.err()));
    }
    errors.push(("for another user", p.open_key(header, &recovery_context(h, &bob, &b.env)?).await.err()));
    if p.capabilities().needs_user_secret {
        errors.push(("without configs", p.open_key(header, &ctx.clone().with_configs(Configs::new())).await.err()));
    }
    let mut kh = header.as_bytes().to_vec();
    if let Some(x) = kh.first_mut() {
        *x ^= 0x80;
        let kh = setup(KeyHeader::new(kh), "change the key header")?;
        errors.push(("with a changed key header", p.open_key(&kh, &ctx).await.err()));
    }
    if p.capabilities().deletes {
        let d = backup(p, h, &a, 48).await?;
        needles.add_bytes("the data key", d.key.expose_secret());
        needles.add_bytes("the share", d.share.expose_secret());
        let dctx = recovery_context(h, &a, &d.env)?;
        call(p.delete_key(d.env.key_header(), &dctx).await, "delete_key succeeds")?;
        errors.push(("after delete_key", p.open_envelope(&d.env, &dctx).await.err()));
    }
    for (when, e) in errors {
        if let Some(e) = e {
            texts.push((format!("the error {when} (Display)"), format!("{e}")));
            texts.push((format!("the error {when} (alternate Display)"), format!("{e:#}")));
            texts.push((format!("the error {when} (Debug)"), format!("{e:?}")));
        }
    }
    texts.push(("the provider's Debug after every call".to_owned(), format!("{p:?} {p:#?}")));
    Ok((texts, needles, skipped))
}

/// The provider's registration: exactly one among the linked ones, a
/// well-formed method id, a one-line summary, the crate name, documented
/// settings with unique keys, docs and examples; it builds from empty
/// settings, from each documented example, and from all of them together,
/// each time reporting the same method id; an unknown setting is refused
/// with `InvalidInput`.
pub async fn registration(provider: &Arc<dyn BackupProvider>, _harness: &Harness) -> CaseResult {
    let p = provider;
    let id = p.method().as_str();
    let regs: Vec<_> = linked_registrations().filter(|r| r.method_str() == id).collect();
    ensure(!regs.is_empty(), "the provider is registered with register_provider!", || {
        format!(
            "no linked registration has method {id:?}: register one with share_backup_core::register_provider!, \
             and make sure the test binary names the crate (`use the_provider_crate as _;`) or rustc drops it"
        )
    })?;
    ensure(regs.len() == 1, "exactly one registration per method id", || {
        let crates: Vec<&str> = regs.iter().map(|r| r.crate_name()).collect();
        format!("{} registrations of {id:?}, by crates {crates:?}", regs.len())
    })?;
    let reg = regs[0];
    ensure(MethodId::new(reg.method_str()).is_ok(), "the registered method id is well-formed", || {
        format!("{:?}", reg.method_str())
    })?;
    let summary = reg.summary();
    ensure(!summary.trim().is_empty() && !summary.contains('\n'), "the summary is one non-empty line", || {
        format!("{summary:?}")
    })?;
    ensure(!reg.crate_name().is_empty(), "the registration names its crate", || "empty crate name".to_owned())?;
    let specs = reg.settings();
    for (i, s) in specs.iter().enumerate() {
        ensure(!s.key.is_empty() && !s.doc.trim().is_empty(), "every setting has a key and a doc line", || {
            format!("{s:?}")
        })?;
        ensure(specs[..i].iter().all(|o| o.key != s.key), "setting keys are unique", || {
            format!("{:?} is documented twice", s.key)
        })?;
    }
    let build = |s: &Settings, what: &str| -> Result<(), Failure> {
        let built = reg.build(s).map_err(|e| {
            Failure::new("the registration builds from its documented settings", format!("{what}: {}", described(&e)))
        })?;
        ensure(built.method() == p.method(), "the built provider reports the registered method id", || {
            format!("{what}: {:?}", built.method().as_str())
        })
    };
    build(&Settings::new(), "from empty settings")?;
    for s in specs {
        build(&Settings::from_pairs([(s.key, s.example)]), &format!("with {} = {:?}", s.key, s.example))?;
    }
    if !specs.is_empty() {
        build(&Settings::from_pairs(specs.iter().map(|s| (s.key, s.example))), "with every documented example")?;
    }
    match reg.build(&Settings::from_pairs([("conformance-no-such-setting", "1")])) {
        Ok(_) => Err(Failure::new("an unknown setting is refused (a typo is an error, not a default)", "it built")),
        Err(e) => ensure(e.kind() == &ErrorKind::InvalidInput, "an unknown setting is an InvalidInput error", || {
            described(&e)
        })
        .map(|()| Outcome::Passed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(key_header: Vec<u8>, share_len: usize) -> Envelope {
        let user = UserId::new("u").unwrap();
        let share = BackupShare::new(vec![7; share_len]).unwrap();
        let binding = share_backup_core::Binding { user: &user, custodian: None, client: None };
        Envelope::seal(
            MethodId::new("keydir").unwrap(),
            BackupId::from_bytes([3; 16]),
            Aead::Aes256Siv,
            KeyHeader::new(key_header).unwrap(),
            &DataKey::from_bytes([9; 64]),
            &share,
            &binding,
        )
        .unwrap()
    }

    #[test]
    fn tamperings_of_the_cases_32_byte_share_change_every_character_and_every_byte() {
        let env = envelope(vec![1; 17], 32);
        let text = env.encode();
        let all = tamperings(&text, &env, Harness::new().tamper_samples());
        assert!(all.iter().all(|(_, t)| t != &text), "a tampering equals the original");
        for i in 0..text.len() {
            let label = format!("character {i} ");
            assert!(all.iter().any(|(w, _)| w.starts_with(&label)), "character {i} of {} is not changed", text.len());
        }
        for i in 0..env.header_bytes().len() {
            assert!(all.iter().any(|(w, _)| w == &format!("header byte {i} xor 0x01")), "header byte {i}");
        }
        assert_eq!(env.body().len(), 48);
        for i in 0..env.body().len() {
            assert!(all.iter().any(|(w, _)| w == &format!("body byte {i} xor 0x01")), "body byte {i}");
        }
        assert!(all.iter().any(|(w, _)| w == "an empty key header"));
    }

    #[test]
    fn tamperings_of_a_large_envelope_sample_the_body_and_stay_bounded() {
        let env = envelope(vec![1; 17], 64 * 1024);
        let all = tamperings(&env.encode(), &env, 64);
        assert!(all.len() < 400, "{} tamperings", all.len());
        assert!(all.iter().any(|(w, _)| w == &format!("body byte {} xor 0x01", env.body().len() - 1)));
        assert!(all.iter().any(|(w, _)| w == "body byte 0 xor 0x01"));
    }

    #[test]
    fn spread_covers_every_position_up_to_the_bound_and_samples_beyond() {
        assert_eq!(spread(5, 64), vec![0, 1, 2, 3, 4]);
        assert_eq!(spread(64, 64), (0..64).collect::<Vec<_>>());
        let s = spread(1000, 64);
        assert!(s.len() <= 80 && s.contains(&0) && s.contains(&999) && s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
    }

    #[test]
    fn a_relabelled_envelope_names_the_new_method_and_keeps_everything_else() {
        let env = envelope(vec![1, 2, 3], 8);
        let other = MethodId::new("conformance-other").unwrap();
        let moved = Envelope::parse(&relabel(&env, &other)).unwrap();
        assert_eq!(moved.method(), &other);
        assert_eq!(
            (moved.backup_id(), moved.key_header(), moved.body()),
            (env.backup_id(), env.key_header(), env.body())
        );
        let same = relabel(&env, env.method());
        assert_eq!(same, env.encode(), "the suite's header encoding matches core's");
    }

    #[test]
    fn poll_limit_stops_a_future_after_the_given_number_of_polls() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let two_awaits = || async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            42
        };
        assert_eq!(rt.block_on(PollLimit { fut: Box::pin(two_awaits()), polls: 1 }), None);
        assert_eq!(rt.block_on(PollLimit { fut: Box::pin(two_awaits()), polls: 2 }), None);
        assert_eq!(rt.block_on(PollLimit { fut: Box::pin(two_awaits()), polls: 3 }), Some(42));
    }
}
