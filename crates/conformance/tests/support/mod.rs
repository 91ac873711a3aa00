//! Providers and stores for the suite's own tests: correct reference
//! implementations, and the same with one deliberate flaw each.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha512};
use share_backup_core::{
    BackupId, BackupProvider, Capabilities, Configs, Context, DataKey, Error, ErrorKind, ExposeSecret, KeyHeader,
    MethodId, Registration, Result, SealedKey, SettingSpec, Settings, Status, UserId, async_trait, fill_random,
    register_provider,
};
use share_backup_orchestrator::{
    Acknowledgement, CipherTextStore, CurrentVersion, Namespace, VersionInfo, VersionState,
};

/// The one deliberate defect of a [`MemKeys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// None: a correct provider.
    None,
    /// Keys are found by backup id alone: any user's context opens any key.
    IgnoresUser,
    /// `Debug` prints the last key it sealed, in hex.
    LeaksKeyInDebug,
    /// `open_key` returns a fresh random key instead of the stored one.
    WrongKey,
    /// One key slot per user: each backup overwrites the previous key.
    Overwrites,
    /// `seal_key` calls `finish(true)` on the progress sink.
    ReportsDone,
    /// `seal_key` reports `Decrypting`, a step of another phase.
    ReportsForeignStep,
    /// `seal_key` reports `Generating` twice (core drops the second).
    ReportsStepTwice,
    /// `open_key` indexes the header without checking its length.
    PanicsOnShortHeader,
    /// Claims `deletes` but `delete_key` does nothing.
    KeepsDeletedKeys,
    /// `open_key` never returns.
    Hangs,
    /// A changed header is reported as a retryable `Unavailable` error.
    RetryableOnBadHeader,
    /// `delete_key` ignores the user (but `open_key` does not).
    DeletesAnyUsersKey,
    /// Every seal returns the same key.
    ReusesKey,
    /// Panics when the per-call `Token` config is missing.
    PanicsWithoutToken,
    /// Emits no tracing at all.
    Silent,
    /// Never awaits anything pending: every call completes at its first poll.
    Synchronous,
    /// Built from settings, `Debug` prints its `api_key` setting.
    LeaksApiKey,
    /// Logs its master key ([`MASTER_KEY`], hex) in an event emitted inside
    /// `spawn_blocking`, where blocking key work belongs.
    LogsMasterKeyInBlocking,
    /// Traces only in a span opened inside `spawn_blocking` (correct).
    TracesOnlyInBlocking,
}

/// The provider-wide secret of a [`MemKeys`] with a master key.
pub const MASTER_KEY: [u8; 32] = *b"mk-5c1e9a7f-0b3d-4e2a-8f61-77d2c";

/// A per-call credential that [`MemKeys`] reads when the harness passes it.
/// Its `Debug` never shows the token.
pub struct Token(pub String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// A credential type whose derived `Debug` shows the token: the defect the
/// suite must catch in a third party's config type.
#[derive(Debug)]
pub struct LeakyToken(pub String);

fn token_of(u: &UserId) -> String {
    format!("tok-9vQ2-{u}")
}

pub fn token_harness() -> share_backup_conformance::Harness {
    share_backup_conformance::Harness::new()
        .with_configs(|u| Configs::new().with(Token(token_of(u))))
        .with_config_type::<Token>()
        .with_secrets(|u| vec![token_of(u)])
}

/// Configs with a [`LeakyToken`], declared so that the suite formats it.
pub fn leaky_token_harness() -> share_backup_conformance::Harness {
    share_backup_conformance::Harness::new()
        .with_configs(|u| Configs::new().with(LeakyToken(token_of(u))))
        .with_config_type::<LeakyToken>()
        .with_secrets(|u| vec![token_of(u)])
}

type Slot = (String, [u8; 16]);

/// Keys in memory, per (user, backup id): a correct provider unless given a flaw.
pub struct MemKeys {
    method: MethodId,
    flaw: Flaw,
    keys: Mutex<HashMap<Slot, [u8; 64]>>,
    last: Mutex<Option<[u8; 64]>>,
    api_key: String,
}

impl MemKeys {
    pub fn shared(method: &str, flaw: Flaw) -> Arc<dyn BackupProvider> {
        let key = if flaw == Flaw::LogsMasterKeyInBlocking { hex::encode(MASTER_KEY) } else { String::new() };
        Self::with_api_key(method, flaw, key)
    }

    /// The blocking part of a call: what a provider that wraps keys would do
    /// on the blocking pool (the flaws log there).
    async fn blocking(&self, call: &'static str, ctx: &Context) {
        if self.flaw == Flaw::Synchronous {
            // A synchronous provider never awaits anything: awaiting a
            // blocking task would pend at the first poll (or not, by luck).
            return;
        }
        let (flaw, key, id) = (self.flaw, self.api_key.clone(), ctx.backup_id().to_string());
        tokio::task::spawn_blocking(move || match flaw {
            Flaw::LogsMasterKeyInBlocking => {
                tracing::debug!(target: "memkeys::wrap", call, master_key = %key, "wrapping under the master key")
            }
            Flaw::TracesOnlyInBlocking => {
                let span = tracing::info_span!("memkeys_blocking", call, backup_id = %id);
                let _g = span.enter();
            }
            _ => {}
        })
        .await
        .expect("the blocking part does not panic");
    }

    fn with_api_key(method: &str, flaw: Flaw, api_key: String) -> Arc<dyn BackupProvider> {
        Arc::new(MemKeys {
            method: MethodId::new(method).unwrap(),
            flaw,
            keys: Mutex::new(HashMap::new()),
            last: Mutex::new(None),
            api_key,
        })
    }

    async fn pause(&self) {
        if self.flaw != Flaw::Synchronous {
            tokio::task::yield_now().await;
        }
    }

    fn trace(&self, call: &str, ctx: &Context) {
        if self.flaw == Flaw::PanicsWithoutToken {
            ctx.config::<Token>().expect("no token");
        }
        if !matches!(self.flaw, Flaw::Silent | Flaw::TracesOnlyInBlocking) {
            tracing::info!(call, backup_id = %ctx.backup_id(), "memkeys call");
        }
    }

    fn slot(&self, user: &UserId, id: [u8; 16]) -> Slot {
        match self.flaw {
            Flaw::IgnoresUser => (String::new(), id),
            Flaw::Overwrites => (user.to_string(), [0; 16]),
            _ => (user.to_string(), id),
        }
    }
}

impl fmt::Debug for MemKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("MemKeys");
        d.field("method", &self.method.as_str()).field("keys", &self.keys.lock().unwrap().len());
        if self.flaw == Flaw::LeaksKeyInDebug {
            d.field("last_key", &self.last.lock().unwrap().map(hex::encode));
        }
        if self.flaw == Flaw::LeaksApiKey {
            d.field("api_key", &self.api_key);
        }
        d.finish()
    }
}

fn header_id(h: &KeyHeader) -> Result<[u8; 16]> {
    match h.as_bytes() {
        [1, id @ ..] if id.len() == 16 => Ok(id.try_into().unwrap()),
        _ => Err(Error::invalid_envelope("not a memkeys header")),
    }
}

#[async_trait]
impl BackupProvider for MemKeys {
    fn method(&self) -> &MethodId {
        &self.method
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new().with_deletes(true).with_probes(true)
    }
    async fn probe(&self, _ctx: &Context) -> Result<()> {
        Ok(())
    }
    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey> {
        self.trace("seal_key", ctx);
        self.blocking("seal_key", ctx).await;
        ctx.report(Status::Generating);
        match self.flaw {
            Flaw::ReportsDone => ctx.progress().finish(true),
            Flaw::ReportsForeignStep => ctx.report(Status::Decrypting),
            Flaw::ReportsStepTwice => ctx.report(Status::Generating),
            _ => {}
        }
        self.pause().await;
        let key = if self.flaw == Flaw::ReusesKey { DataKey::from_bytes([7; 64]) } else { DataKey::generate()? };
        let id = *ctx.backup_id().as_bytes();
        self.keys.lock().unwrap().insert(self.slot(ctx.user(), id), *key.expose_secret());
        *self.last.lock().unwrap() = Some(*key.expose_secret());
        self.pause().await;
        let mut header = vec![1];
        header.extend_from_slice(&id);
        Ok(SealedKey { key, header: KeyHeader::new(header)? })
    }
    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey> {
        self.trace("open_key", ctx);
        self.blocking("open_key", ctx).await;
        ctx.report(Status::FetchingKey);
        if self.flaw == Flaw::Hangs {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let id = match self.flaw {
            Flaw::PanicsOnShortHeader => header.as_bytes()[1..17].try_into().unwrap(),
            Flaw::RetryableOnBadHeader => {
                header_id(header).map_err(|_| Error::new(ErrorKind::Unavailable, "service hiccup, retry"))?
            }
            _ => header_id(header)?,
        };
        self.pause().await;
        if self.flaw == Flaw::WrongKey {
            return DataKey::generate();
        }
        let found = self.keys.lock().unwrap().get(&self.slot(ctx.user(), id)).copied();
        match found {
            Some(k) => Ok(DataKey::from_bytes(k)),
            None if self.flaw == Flaw::RetryableOnBadHeader => {
                Err(Error::new(ErrorKind::Unavailable, "service hiccup, retry"))
            }
            None => Err(Error::not_found("no such key")),
        }
    }
    async fn delete_key(&self, header: &KeyHeader, ctx: &Context) -> Result<()> {
        let id = header_id(header)?;
        let mut keys = self.keys.lock().unwrap();
        match self.flaw {
            Flaw::KeepsDeletedKeys => {}
            Flaw::DeletesAnyUsersKey => keys.retain(|(_, i), _| *i != id),
            _ => {
                keys.remove(&self.slot(ctx.user(), id));
            }
        }
        Ok(())
    }
}

/// The per-call secret of [`PinKeys`].
pub struct Pin(pub String);

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(..)")
    }
}

/// The defect of a [`PinKeys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinFlaw {
    None,
    /// Logs the PIN in a tracing event.
    LogsPin,
    /// A missing PIN derives a key from the empty string.
    EmptyPinDefault,
    /// The key ignores the PIN.
    IgnoresPin,
    /// `open_key` derives with a salt one bit off: a wrong key.
    WrongKey,
}

/// A key derived from a per-call PIN and a random salt (no custody at
/// all): needs a user secret, deletes nothing.
#[derive(Debug)]
pub struct PinKeys {
    flaw: PinFlaw,
}

pub const PIN_METHOD: MethodId = MethodId::from_static("pinkeys");
static PIN_METHOD_ID: MethodId = PIN_METHOD;

impl PinKeys {
    pub fn shared(flaw: PinFlaw) -> Arc<dyn BackupProvider> {
        Arc::new(PinKeys { flaw })
    }

    fn derive(&self, ctx: &Context, salt: &[u8]) -> Result<DataKey> {
        let pin = match (ctx.config::<Pin>(), self.flaw) {
            (Some(p), _) => p.0.clone(),
            (None, PinFlaw::EmptyPinDefault) => String::new(),
            (None, _) => ctx.require_config::<Pin>()?.0.clone(),
        };
        if self.flaw == PinFlaw::LogsPin {
            tracing::debug!(pin = %pin, "deriving");
        }
        tracing::debug!(backup_id = %ctx.backup_id(), "deriving a key");
        ctx.report(Status::DerivingKey);
        let mut h = Sha512::new();
        h.update(salt);
        if self.flaw != PinFlaw::IgnoresPin {
            h.update(pin.as_bytes());
        }
        DataKey::from_slice(&h.finalize())
    }
}

#[async_trait]
impl BackupProvider for PinKeys {
    fn method(&self) -> &MethodId {
        &PIN_METHOD_ID
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new().with_needs_user_secret(true).with_probes(true)
    }
    async fn probe(&self, ctx: &Context) -> Result<()> {
        ctx.require_config::<Pin>().map(|_| ())
    }
    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey> {
        let mut salt = [0u8; 16];
        fill_random(&mut salt)?;
        let key = self.derive(ctx, &salt)?;
        let mut header = vec![1];
        header.extend_from_slice(&salt);
        Ok(SealedKey { key, header: KeyHeader::new(header)? })
    }
    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey> {
        match header.as_bytes() {
            [1, salt @ ..] if salt.len() == 16 && self.flaw == PinFlaw::WrongKey => {
                let mut off = salt.to_vec();
                off[0] ^= 1;
                self.derive(ctx, &off)
            }
            [1, salt @ ..] if salt.len() == 16 => self.derive(ctx, salt),
            _ => Err(Error::invalid_envelope("not a pinkeys header")),
        }
    }
    async fn delete_key(&self, _header: &KeyHeader, _ctx: &Context) -> Result<()> {
        Ok(())
    }
}

/// Each user's PIN: distinct per user, distinctive text.
pub fn pin_of(user: &UserId) -> String {
    format!("pin-7Q!x-{user}")
}

pub fn pin_harness() -> share_backup_conformance::Harness {
    share_backup_conformance::Harness::new()
        .with_configs(|u| Configs::new().with(Pin(pin_of(u))))
        .with_config_type::<Pin>()
        .with_wrong_secret(|u| Configs::new().with(Pin(format!("wrong-{}", pin_of(u)))))
        .with_secrets(|u| vec![pin_of(u), format!("wrong-{}", pin_of(u))])
}

fn build_memkeys(s: &Settings) -> Result<Arc<dyn BackupProvider>> {
    s.deny_unknown(&["capacity"])?;
    s.parse::<usize>("capacity")?;
    Ok(MemKeys::shared("memkeys", Flaw::None))
}

/// The documented example of `settingleak`'s `api_key`: a secret its built provider's `Debug` shows.
pub const EXAMPLE_API_KEY: &str = "sk-example-4f9a2c7e1b";

fn build_settingleak(s: &Settings) -> Result<Arc<dyn BackupProvider>> {
    s.deny_unknown(&["api_key"])?;
    Ok(MemKeys::with_api_key("settingleak", Flaw::LeaksApiKey, s.get("api_key").unwrap_or_default().to_owned()))
}

fn build_pinkeys(s: &Settings) -> Result<Arc<dyn BackupProvider>> {
    s.deny_unknown(&[])?;
    Ok(PinKeys::shared(PinFlaw::None))
}

register_provider!(
    Registration::new("memkeys", "Keys in memory (conformance reference)", "conformance-tests", build_memkeys)
        .with_settings(&[SettingSpec::new("capacity", "how many keys to keep", "100")])
);
register_provider!(
    Registration::new("settingleak", "Shows its api_key in Debug (broken)", "conformance-tests", build_settingleak)
        .with_settings(&[SettingSpec::new("api_key", "the service's API key", EXAMPLE_API_KEY)])
);
register_provider!(Registration::new(
    "pinkeys",
    "Keys derived from a PIN (conformance reference)",
    "conformance-tests",
    build_pinkeys
));

/// The defect of a [`RefStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreFlaw {
    None,
    /// `stage` replaces an existing version.
    StageOverwrites,
    /// `commit` ignores `expected` (last writer wins).
    CommitIgnoresExpected,
    /// `remove` removes the current version too.
    RemovesCurrent,
    /// User ids are put in keys with `/` unescaped, so `a` + `/b` collides with `a/b`.
    NaiveKeys,
    /// `current_id` answers from a cache that `commit` never updates.
    StaleCurrentId,
    /// Each acknowledgement record overwrites the previous one (last writer
    /// wins), so two writers racing over one version can both say `true`.
    OverwritingAcks,
}

#[derive(Default)]
struct Versions {
    staged: BTreeMap<BackupId, (String, SystemTime)>,
    current: Option<BackupId>,
    retired: Vec<BackupId>,
    acks: HashMap<Option<BackupId>, Vec<Acknowledgement>>,
}

/// A cipher-text store in memory: correct unless given a flaw.
pub struct RefStore {
    flaw: StoreFlaw,
    data: Mutex<HashMap<String, Versions>>,
}

impl fmt::Debug for RefStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefStore({:?})", self.flaw)
    }
}

impl RefStore {
    pub fn shared(flaw: StoreFlaw) -> Arc<dyn CipherTextStore> {
        Arc::new(RefStore { flaw, data: Mutex::new(HashMap::new()) })
    }
    fn key(&self, ns: &Namespace, method: &MethodId) -> String {
        match self.flaw {
            StoreFlaw::NaiveKeys => format!("{}/{method}", ns.user().as_str().split('/').next().unwrap()),
            _ => format!("{:?}\0{method}", ns.to_bytes()),
        }
    }
}

#[async_trait]
impl CipherTextStore for RefStore {
    async fn stage(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId, envelope: &str) -> Result<()> {
        let mut d = self.data.lock().unwrap();
        let v = d.entry(self.key(ns, method)).or_default();
        if v.staged.contains_key(&backup_id) && self.flaw != StoreFlaw::StageOverwrites {
            return Err(Error::new(ErrorKind::Conflict, "version exists"));
        }
        v.staged.insert(backup_id, (envelope.to_owned(), SystemTime::now()));
        Ok(())
    }
    async fn commit(
        &self,
        ns: &Namespace,
        method: &MethodId,
        backup_id: BackupId,
        expected: Option<BackupId>,
    ) -> Result<()> {
        tokio::task::yield_now().await;
        let mut d = self.data.lock().unwrap();
        let v = d.entry(self.key(ns, method)).or_default();
        if !v.staged.contains_key(&backup_id) {
            return Err(Error::not_found("no such version"));
        }
        if v.retired.contains(&backup_id) {
            return Err(Error::new(ErrorKind::Conflict, "retired"));
        }
        if v.current != expected && self.flaw != StoreFlaw::CommitIgnoresExpected {
            return Err(Error::new(ErrorKind::Conflict, "current moved"));
        }
        v.current = Some(backup_id);
        Ok(())
    }
    async fn current(&self, ns: &Namespace, method: &MethodId) -> Result<Option<CurrentVersion>> {
        let d = self.data.lock().unwrap();
        Ok(d.get(&self.key(ns, method))
            .and_then(|v| v.current.map(|id| CurrentVersion::new(id, v.staged[&id].0.clone()))))
    }
    async fn current_id(&self, ns: &Namespace, method: &MethodId) -> Result<Option<BackupId>> {
        if self.flaw == StoreFlaw::StaleCurrentId {
            return Ok(None);
        }
        Ok(self.current(ns, method).await?.map(|c| c.backup_id))
    }
    async fn get(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<String> {
        let d = self.data.lock().unwrap();
        d.get(&self.key(ns, method))
            .and_then(|v| v.staged.get(&backup_id))
            .map(|(e, _)| e.clone())
            .ok_or_else(|| Error::not_found("no such version"))
    }
    async fn versions(&self, ns: &Namespace, method: &MethodId) -> Result<Vec<VersionInfo>> {
        let d = self.data.lock().unwrap();
        let Some(v) = d.get(&self.key(ns, method)) else { return Ok(vec![]) };
        let mut out: Vec<VersionInfo> = v
            .staged
            .iter()
            .map(|(id, (_, t))| {
                let state = if v.current == Some(*id) { VersionState::Current } else { VersionState::Staged };
                VersionInfo::new(*id, state, Some(*t))
            })
            .collect();
        out.sort_by_key(|v| v.staged_at);
        Ok(out)
    }
    async fn methods(&self, ns: &Namespace) -> Result<Vec<MethodId>> {
        let d = self.data.lock().unwrap();
        let prefix = self.key(ns, &MethodId::new("x").unwrap());
        let prefix = &prefix[..prefix.len() - 1];
        let mut out: Vec<MethodId> = d
            .iter()
            .filter(|(k, v)| {
                k.starts_with(prefix) && (v.current.is_some() || v.acks.get(&None).is_some_and(|l| !l.is_empty()))
            })
            .filter_map(|(k, _)| MethodId::new(&k[prefix.len()..]).ok())
            .collect();
        out.sort();
        Ok(out)
    }
    async fn remove(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<()> {
        let mut d = self.data.lock().unwrap();
        if let Some(v) = d.get_mut(&self.key(ns, method)) {
            if v.current == Some(backup_id) {
                if self.flaw != StoreFlaw::RemovesCurrent {
                    return Err(Error::new(ErrorKind::Conflict, "that is the current version"));
                }
                v.current = None;
            }
            v.staged.remove(&backup_id);
        }
        Ok(())
    }
    async fn retire(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<()> {
        let mut d = self.data.lock().unwrap();
        let v = d.entry(self.key(ns, method)).or_default();
        if v.current == Some(backup_id) {
            return Err(Error::new(ErrorKind::Conflict, "that is the current version"));
        }
        v.retired.push(backup_id);
        Ok(())
    }
    async fn record_acknowledgement(&self, ns: &Namespace, method: &MethodId, ack: Acknowledgement) -> Result<()> {
        let mut d = self.data.lock().unwrap();
        let log = d.entry(self.key(ns, method)).or_default().acks.entry(ack.prev).or_default();
        let latest = log.last().copied();
        let ack = ack.with_recorded_at(SystemTime::now());
        if self.flaw == StoreFlaw::OverwritingAcks {
            log.push(ack);
            return Ok(());
        }
        match latest {
            _ if ack.withdrawn => {
                if latest.is_some_and(|l| l.backup_id == ack.backup_id && !l.withdrawn) {
                    log.push(ack);
                }
                Ok(())
            }
            Some(l) if !l.withdrawn && l.backup_id == ack.backup_id => Ok(()),
            Some(l) if !l.withdrawn => Err(Error::new(ErrorKind::Conflict, "another version is being acknowledged")),
            _ => {
                log.push(ack);
                Ok(())
            }
        }
    }
    async fn acknowledgement(
        &self,
        ns: &Namespace,
        method: &MethodId,
        prev: Option<BackupId>,
    ) -> Result<Option<Acknowledgement>> {
        let d = self.data.lock().unwrap();
        Ok(d.get(&self.key(ns, method)).and_then(|v| v.acks.get(&prev)).and_then(|l| l.last().copied()))
    }
}
