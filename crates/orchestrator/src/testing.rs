//! Test support (cargo feature `testing`): a provider with free key custody,
//! and wrappers that inject faults into any store, notifier or provider.
//!
//! One [`FaultPlan`] can be shared by a store, a notifier and a provider, so
//! that it numbers every call of the whole protocol in one sequence: a test
//! runs a clean backup once to count the calls, then runs it again failing
//! (or hanging, to model a crash) at call 1, 2, ..., N.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use share_backup_core::{BackupShare, ErrorKind, UserId};
//! use share_backup_orchestrator::testing::{Fault, FaultPlan, FaultyStore, MemoryKeyProvider};
//! use share_backup_orchestrator::{BackupRequest, MemoryStore, Orchestrator, RecordingNotifier, RetryPolicy};
//!
//! let plan = FaultPlan::new();
//! let store = MemoryStore::new();
//! let orch = Orchestrator::builder()
//!     .registry(share_backup_core::Registry::empty())
//!     .provider(Arc::new(MemoryKeyProvider::new()))
//!     .store(Arc::new(FaultyStore::new(Arc::new(store.clone()), plan.clone())))
//!     .notifier(Arc::new(RecordingNotifier::new()))
//!     .retry(RetryPolicy::none())
//!     .build()
//!     .unwrap();
//! plan.set(2, Fault::Fail(ErrorKind::Unavailable));
//! let req = BackupRequest::new(UserId::new("u").unwrap(), BackupShare::new(vec![1]).unwrap())
//!     .with_method(MemoryKeyProvider::METHOD);
//! assert_eq!(orch.backup(req).await.unwrap_err().kind(), &ErrorKind::Unavailable);
//! # });
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use share_backup_core::{
    BackupId, BackupProvider, Capabilities, Context, DataKey, Error, ErrorKind, KeyHeader, MethodId, Result, SealedKey,
    Status, UserId,
};

use crate::store::{Acknowledgement, CipherTextStore, CurrentVersion, Namespace, Notifier, VersionInfo};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What happens at the planned call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The call fails with this kind and does nothing.
    Fail(ErrorKind),
    /// The call takes effect, then reports this error (a timeout after the
    /// write landed).
    FailAfter(ErrorKind),
    /// The call never returns (drop the future to model a crash there).
    Hang,
    /// The call waits until the gate opens, then runs.
    Pause(Gate),
}

/// A gate a paused call waits at (see [`Fault::Pause`]).
#[derive(Clone, Debug, Default)]
pub struct Gate {
    reached: Arc<std::sync::atomic::AtomicBool>,
    open: Arc<std::sync::atomic::AtomicBool>,
}

impl PartialEq for Gate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.open, &other.open)
    }
}

impl Eq for Gate {}

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets the waiting call (and any later one) through.
    pub fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// Whether a call reached the gate.
    pub fn reached(&self) -> bool {
        self.reached.load(Ordering::SeqCst)
    }

    /// Waits until a call reaches the gate (polling every millisecond).
    pub async fn wait_reached(&self) {
        while !self.reached() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    async fn pass(&self) {
        self.reached.store(true, Ordering::SeqCst);
        while !self.open.load(Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}

#[derive(Default)]
struct PlanState {
    at: HashMap<u64, Fault>,
    from: Option<(u64, Fault)>,
    rate: Option<(f64, ErrorKind, u64)>,
    by_label: HashMap<(&'static str, u64), Fault>,
    label_calls: HashMap<&'static str, u64>,
    trace: Vec<&'static str>,
}

/// A shared, numbered sequence of calls and the faults planned in it.
///
/// Cheap to clone; clones share the sequence.
#[derive(Clone, Default)]
pub struct FaultPlan {
    calls: Arc<AtomicU64>,
    state: Arc<Mutex<PlanState>>,
}

impl fmt::Debug for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultPlan").field("calls", &self.calls()).finish()
    }
}

/// Whether the wrapped call runs, and what to report after it.
enum Verdict {
    Run,
    FailAfter(ErrorKind),
}

impl FaultPlan {
    /// A plan with no fault.
    pub fn new() -> Self {
        Self::default()
    }

    /// Plans `fault` at call `n` (1-based, counted over every wrapper that
    /// shares this plan).
    pub fn set(&self, n: u64, fault: Fault) -> &Self {
        lock(&self.state).at.insert(n, fault);
        self
    }

    /// Plans `fault` at the `nth` call (1-based) labelled `label` (as in
    /// [`trace`](Self::trace), e.g. `"store.retire"`): a pause point that
    /// does not depend on how many calls come before it (a child process
    /// of a cross-process race test pauses there).
    pub fn set_at_label(&self, label: &'static str, nth: u64, fault: Fault) -> &Self {
        lock(&self.state).by_label.insert((label, nth), fault);
        self
    }

    /// Plans `fault` at call `n` and every call after it (a service that
    /// goes down for good).
    pub fn set_from(&self, n: u64, fault: Fault) -> &Self {
        lock(&self.state).from = Some((n, fault));
        self
    }

    /// Makes each call fail with `kind`, before taking effect, with
    /// probability `p`, from a deterministic generator seeded with `seed`.
    pub fn set_failure_rate(&self, p: f64, kind: ErrorKind, seed: u64) -> &Self {
        lock(&self.state).rate = Some((p, kind, seed | 1));
        self
    }

    /// Removes every planned fault (the count goes on).
    pub fn clear(&self) -> &Self {
        let mut st = lock(&self.state);
        st.at.clear();
        st.by_label.clear();
        st.from = None;
        st.rate = None;
        self
    }

    /// Resets the count and the trace, and removes every fault.
    pub fn reset(&self) {
        self.clear();
        self.calls.store(0, Ordering::SeqCst);
        let mut st = lock(&self.state);
        st.trace.clear();
        st.label_calls.clear();
    }

    /// Calls so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The label of every call so far, in order (`"store.stage"`, ...).
    pub fn trace(&self) -> Vec<&'static str> {
        lock(&self.state).trace.clone()
    }

    async fn hit(&self, label: &'static str) -> Result<Verdict> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = {
            let mut st = lock(&self.state);
            st.trace.push(label);
            let nth = {
                let c = st.label_calls.entry(label).or_insert(0);
                *c += 1;
                *c
            };
            let mut fault = st.at.get(&n).cloned().or_else(|| st.by_label.get(&(label, nth)).cloned());
            if fault.is_none() {
                if let Some((from, f)) = &st.from {
                    if n >= *from {
                        fault = Some(f.clone());
                    }
                }
            }
            if fault.is_none() {
                if let Some((p, kind, state)) = &mut st.rate {
                    // xorshift64*: deterministic, good enough to pick calls.
                    let mut x = *state;
                    x ^= x >> 12;
                    x ^= x << 25;
                    x ^= x >> 27;
                    *state = x;
                    let r = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
                    if r < *p {
                        fault = Some(Fault::Fail(kind.clone()));
                    }
                }
            }
            fault
        };
        match fault {
            None => Ok(Verdict::Run),
            Some(Fault::Fail(kind)) => Err(injected(kind, label, n)),
            Some(Fault::FailAfter(kind)) => Ok(Verdict::FailAfter(kind)),
            Some(Fault::Hang) => std::future::pending().await,
            Some(Fault::Pause(gate)) => {
                gate.pass().await;
                Ok(Verdict::Run)
            }
        }
    }

    async fn wrap<T>(&self, label: &'static str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        match self.hit(label).await? {
            Verdict::Run => fut.await,
            Verdict::FailAfter(kind) => {
                let n = self.calls();
                fut.await?;
                Err(injected(kind, label, n))
            }
        }
    }
}

fn injected(kind: ErrorKind, label: &str, n: u64) -> Error {
    Error::new(kind, format!("injected fault at call {n} ({label})"))
}

/// A [`CipherTextStore`] that runs every call through a [`FaultPlan`].
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn CipherTextStore>,
    plan: FaultPlan,
}

impl FaultyStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn CipherTextStore>, plan: FaultPlan) -> Self {
        FaultyStore { inner, plan }
    }
}

#[async_trait]
impl CipherTextStore for FaultyStore {
    async fn stage(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId, envelope: &str) -> Result<()> {
        self.plan.wrap("store.stage", self.inner.stage(ns, method, backup_id, envelope)).await
    }
    async fn commit(
        &self,
        ns: &Namespace,
        method: &MethodId,
        backup_id: BackupId,
        expected: Option<BackupId>,
    ) -> Result<()> {
        self.plan.wrap("store.commit", self.inner.commit(ns, method, backup_id, expected)).await
    }
    async fn current(&self, ns: &Namespace, method: &MethodId) -> Result<Option<CurrentVersion>> {
        self.plan.wrap("store.current", self.inner.current(ns, method)).await
    }
    async fn current_id(&self, ns: &Namespace, method: &MethodId) -> Result<Option<BackupId>> {
        self.plan.wrap("store.current_id", self.inner.current_id(ns, method)).await
    }
    async fn get(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<String> {
        self.plan.wrap("store.get", self.inner.get(ns, method, backup_id)).await
    }
    async fn versions(&self, ns: &Namespace, method: &MethodId) -> Result<Vec<VersionInfo>> {
        self.plan.wrap("store.versions", self.inner.versions(ns, method)).await
    }
    async fn methods(&self, ns: &Namespace) -> Result<Vec<MethodId>> {
        self.plan.wrap("store.methods", self.inner.methods(ns)).await
    }
    async fn retire(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<()> {
        self.plan.wrap("store.retire", self.inner.retire(ns, method, backup_id)).await
    }
    async fn remove(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<()> {
        self.plan.wrap("store.remove", self.inner.remove(ns, method, backup_id)).await
    }
    async fn record_acknowledgement(&self, ns: &Namespace, method: &MethodId, ack: Acknowledgement) -> Result<()> {
        self.plan.wrap("store.record_acknowledgement", self.inner.record_acknowledgement(ns, method, ack)).await
    }
    async fn acknowledgement(
        &self,
        ns: &Namespace,
        method: &MethodId,
        prev: Option<BackupId>,
    ) -> Result<Option<Acknowledgement>> {
        self.plan.wrap("store.acknowledgement", self.inner.acknowledgement(ns, method, prev)).await
    }
}

/// A [`Notifier`] that runs every call through a [`FaultPlan`].
#[derive(Debug)]
pub struct FaultyNotifier {
    inner: Arc<dyn Notifier>,
    plan: FaultPlan,
}

impl FaultyNotifier {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Notifier>, plan: FaultPlan) -> Self {
        FaultyNotifier { inner, plan }
    }
}

#[async_trait]
impl Notifier for FaultyNotifier {
    async fn stored_client_backup_share(
        &self,
        user: &UserId,
        method: &MethodId,
        backup_id: BackupId,
        success: bool,
    ) -> Result<()> {
        let label = if success { "notifier.ack_true" } else { "notifier.ack_false" };
        self.plan.wrap(label, self.inner.stored_client_backup_share(user, method, backup_id, success)).await
    }
}

/// A [`BackupProvider`] that runs every async call through a [`FaultPlan`].
#[derive(Debug)]
pub struct FaultyProvider {
    inner: Arc<dyn BackupProvider>,
    plan: FaultPlan,
}

impl FaultyProvider {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn BackupProvider>, plan: FaultPlan) -> Self {
        FaultyProvider { inner, plan }
    }
}

#[async_trait]
impl BackupProvider for FaultyProvider {
    fn method(&self) -> &MethodId {
        self.inner.method()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn probe(&self, ctx: &Context) -> Result<()> {
        self.plan.wrap("provider.probe", self.inner.probe(ctx)).await
    }
    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey> {
        self.plan.wrap("provider.seal_key", self.inner.seal_key(ctx)).await
    }
    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey> {
        self.plan.wrap("provider.open_key", self.inner.open_key(header, ctx)).await
    }
    async fn delete_key(&self, header: &KeyHeader, ctx: &Context) -> Result<()> {
        self.plan.wrap("provider.delete_key", self.inner.delete_key(header, ctx)).await
    }
}

const HEADER_VERSION: u8 = 1;

/// A provider that keeps each data key in this process's memory: key
/// custody is free, so benchmarks measure the protocol and the store, and
/// tests can check that keys are deleted exactly when versions are pruned.
///
/// By default it reports itself `remote` (so the orchestrator reads each
/// key back before acknowledging) and `deletes`. Its header is a version
/// byte and the backup id; `open_key` refuses a header for another user.
/// Cheap to clone; clones share the keys.
#[derive(Clone)]
pub struct MemoryKeyProvider {
    method: MethodId,
    caps: Capabilities,
    keys: Arc<Mutex<HashMap<(UserId, BackupId), DataKey>>>,
}

impl MemoryKeyProvider {
    /// The default method id, `memory-key`.
    pub const METHOD: MethodId = MethodId::from_static("memory-key");

    /// A provider with method id [`Self::METHOD`].
    pub fn new() -> Self {
        Self::with_method(Self::METHOD)
    }

    /// A provider with another method id (for multi-method tests).
    pub fn with_method(method: MethodId) -> Self {
        MemoryKeyProvider {
            method,
            caps: Capabilities::new().with_remote(true).with_deletes(true).with_probes(false),
            keys: Arc::default(),
        }
    }

    /// Overrides the capabilities it reports.
    pub fn with_capabilities(mut self, caps: Capabilities) -> Self {
        self.caps = caps;
        self
    }

    /// How many keys it holds.
    pub fn key_count(&self) -> usize {
        lock(&self.keys).len()
    }

    /// Whether it holds the key of `backup_id` for `user`.
    pub fn has_key(&self, user: &UserId, backup_id: BackupId) -> bool {
        lock(&self.keys).contains_key(&(user.clone(), backup_id))
    }

    /// Forgets the key of `backup_id` (a key lost behind the framework's back).
    pub fn lose_key(&self, user: &UserId, backup_id: BackupId) {
        lock(&self.keys).remove(&(user.clone(), backup_id));
    }

    fn parse_header(header: &KeyHeader) -> Result<BackupId> {
        match header.as_bytes() {
            [HEADER_VERSION, rest @ ..] if rest.len() == BackupId::LEN => {
                let mut b = [0u8; BackupId::LEN];
                b.copy_from_slice(rest);
                Ok(BackupId::from_bytes(b))
            }
            _ => Err(Error::invalid_envelope("not a memory-key header: expected version 1 and a 16-byte backup id")),
        }
    }
}

impl Default for MemoryKeyProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryKeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryKeyProvider").field("method", &self.method).field("keys", &self.key_count()).finish()
    }
}

#[async_trait]
impl BackupProvider for MemoryKeyProvider {
    fn method(&self) -> &MethodId {
        &self.method
    }
    fn capabilities(&self) -> Capabilities {
        self.caps
    }
    async fn probe(&self, _ctx: &Context) -> Result<()> {
        Ok(())
    }
    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey> {
        ctx.report(Status::Generating);
        let key = DataKey::generate()?;
        ctx.report(Status::UploadingKey);
        let mut h = vec![HEADER_VERSION];
        h.extend_from_slice(ctx.backup_id().as_bytes());
        let slot = (ctx.user().clone(), ctx.backup_id());
        let mut keys = lock(&self.keys);
        if keys.contains_key(&slot) {
            return Err(Error::new(ErrorKind::Conflict, "a key for this backup id already exists"));
        }
        keys.insert(slot, key.clone());
        Ok(SealedKey { key, header: KeyHeader::new(h)? })
    }
    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey> {
        let id = Self::parse_header(header)?;
        ctx.report(Status::FetchingKey);
        lock(&self.keys)
            .get(&(ctx.user().clone(), id))
            .cloned()
            .ok_or_else(|| Error::not_found(format!("no key for backup {id} of user {}", ctx.user())))
    }
    async fn delete_key(&self, header: &KeyHeader, ctx: &Context) -> Result<()> {
        let id = Self::parse_header(header)?;
        lock(&self.keys).remove(&(ctx.user().clone(), id));
        Ok(())
    }
}
