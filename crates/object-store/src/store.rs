//! [`ObjectCipherTextStore`]: the cipher-text store on an `object_store` backend.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use share_backup_core::{BackupId, Error, ErrorKind, MAX_ENVELOPE_LEN, MethodId, Result, RetryPolicy};
use share_backup_orchestrator::{
    Acknowledgement, CipherTextStore, CurrentVersion, Namespace, VersionInfo, VersionState,
};
use tracing::Instrument;

use crate::error::{StoreError, is_transient, malformed, map_object_store_error};
use crate::layout::{Layout, parse_seq};

/// How many commit records past the hint are probed one by one before the
/// store lists the commit prefix instead.
const PROBE_LIMIT: u64 = 8;

/// The store's default [`RetryPolicy`] for a backend call that failed
/// transiently (network, 5xx, throttling): 4 retries, 20 ms doubling up to
/// 1 s, with full jitter.
///
/// HTTP backends already retry inside `object_store`; this layer also covers
/// failures that reach us, and makes every operation safe to repeat (a
/// create-only write that landed before its response was lost is recognised
/// as our own).
pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy::new(4, Duration::from_millis(20), Duration::from_secs(1));

fn backoff(policy: &RetryPolicy) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_jitter()
        .with_min_delay(policy.min_delay())
        .with_max_delay(policy.max_delay())
        .with_max_times(policy.max_retries() as usize)
        .with_total_delay(policy.max_total_delay())
}

/// One commit of the current pointer: commit record `seq` makes `backup_id`
/// current, replacing `prev`. The `head` hint holds a copy of the latest.
///
/// A retirement marker is a record that keeps the current version
/// (`backup_id == prev`) and names the version it retires: written after
/// the version's tombstone, it is the barrier that makes a racing commit of
/// the retired version see the tombstone (see `retire`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitRecord {
    /// Format version of the record.
    v: u8,
    seq: u64,
    backup_id: BackupId,
    prev: Option<BackupId>,
    /// Milliseconds since the Unix epoch, by the committer's clock.
    committed_at_ms: u64,
    /// The version a retirement marker retires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retires: Option<BackupId>,
}

/// An acknowledgement record (`acks/<prev>/<n>`), created (never
/// overwritten) by a backup before its `true` is sent: record `n + 1` over
/// a version is only created by a writer that read record `n` and found it
/// withdrawn (or found none), so the latest record over a version decides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckRecord {
    v: u8,
    backup_id: BackupId,
    prev: Option<BackupId>,
    withdrawn: bool,
    /// The writer's clock (informational).
    at_ms: u64,
    /// When the backend stored the object (its `last_modified`): the one
    /// clock every process reading the record shares.
    #[serde(skip)]
    stored_at: Option<SystemTime>,
}

/// What a retired version's object starts with; the envelope follows, so
/// that it stays readable until it is removed.
const TOMBSTONE: &str = "retired\n";

impl CommitRecord {
    const VERSION: u8 = 1;

    fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("a commit record always serializes"))
    }
}

/// The default [`ObjectCipherTextStoreBuilder::commit_cache`] capacity.
pub const DEFAULT_COMMIT_CACHE: usize = 4096;

/// The latest commit record this store saw per (ns, method): where the
/// next read of the commit log starts, and what a commit's compare-and-swap
/// tries first.
///
/// Commit records are immutable and their sequence numbers dense (record
/// `n + 1` is only ever created by a writer that read record `n`), so a
/// cached record is never wrong, only possibly not the latest: every read
/// still probes the next sequence number, and a commit's create-only write
/// of `seq + 1` fails if anyone else got there first. What the cache saves
/// is the cold start (commit 1, then the head hint) on every call after
/// the first. Bounded: when full it is emptied, which costs only cold starts.
struct CommitCache {
    capacity: usize,
    map: Mutex<HashMap<String, Option<CommitRecord>>>,
}

impl CommitCache {
    fn new(capacity: usize) -> Self {
        CommitCache { capacity, map: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<CommitRecord>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `None`: nothing known; `Some(None)`: no commit as of the last look.
    fn get(&self, key: &str) -> Option<Option<CommitRecord>> {
        if self.capacity == 0 {
            return None;
        }
        self.lock().get(key).cloned()
    }

    /// Records what a read or a commit found; never moves backwards.
    fn put(&self, key: &str, record: Option<&CommitRecord>) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.lock();
        if let Some(Some(known)) = map.get(key)
            && record.is_none_or(|r| r.seq < known.seq)
        {
            return;
        }
        if map.len() >= self.capacity && !map.contains_key(key) {
            map.clear();
        }
        map.insert(key.to_owned(), record.cloned());
    }

    fn forget(&self, key: &str) {
        if self.capacity > 0 {
            self.lock().remove(key);
        }
    }
}

/// Where a read of the commit log starts.
struct Start {
    /// The record to probe forward from; `None`: there is no commit at all.
    record: Option<CommitRecord>,
    /// On a cold start, the sequence number the head hint held (0: none),
    /// so that a stale hint is repaired; `None` on a warm start.
    hint_seq: Option<u64>,
}

/// A [`CipherTextStore`] on any [`object_store`] backend: local files,
/// memory, S3 and S3-compatible servers, Azure Blob Storage (and Azurite),
/// Google Cloud Storage.
///
/// Every write is create-only (`PutMode::Create`), so racing writers never
/// overwrite each other; the current pointer is a log of create-only commit
/// records plus a hint object, a compare-and-swap that works on every
/// backend, including local files where `PutMode::Update` does not. See the
/// crate documentation for the layout and the requests per operation.
///
/// Cheap to clone (the backend is shared).
#[derive(Clone)]
pub struct ObjectCipherTextStore {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn ObjectStore>,
    layout: Layout,
    retry: RetryPolicy,
    label: String,
    cache: CommitCache,
    /// Versions this instance staged (create-only PUT succeeded) and has
    /// not committed yet, by path: a first commit of one of them skips the
    /// version check (see `commit`). Bounded like the commit cache: when
    /// full it is emptied, which only costs that check again.
    staged_here: Mutex<std::collections::HashSet<String>>,
}

impl fmt::Debug for ObjectCipherTextStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectCipherTextStore")
            .field("store", &self.inner.label)
            .field("layout", &self.inner.layout)
            .field("retry", &self.inner.retry)
            .field("commit_cache", &self.inner.cache.capacity)
            .finish()
    }
}

impl fmt::Display for ObjectCipherTextStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.label)
    }
}

/// Builds an [`ObjectCipherTextStore`] on a backend you made yourself.
///
/// ```
/// use std::sync::Arc;
/// use object_store::memory::InMemory;
/// use share_backup_object_store::{ObjectCipherTextStore, RetryPolicy};
///
/// let store = ObjectCipherTextStore::builder(Arc::new(InMemory::new()))
///     .prefix("tenant-7/backups")
///     .unwrap()
///     .user_id_salt(b"tenant-7".to_vec())
///     .retry(RetryPolicy::none())
///     .build();
/// assert_eq!(store.to_string(), "InMemory/tenant-7/backups");
/// ```
#[must_use]
pub struct ObjectCipherTextStoreBuilder {
    backend: Arc<dyn ObjectStore>,
    prefix: Path,
    salt: Vec<u8>,
    retry: RetryPolicy,
    label: Option<String>,
    commit_cache: usize,
}

impl fmt::Debug for ObjectCipherTextStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectCipherTextStoreBuilder")
            .field("backend", &self.backend.to_string())
            .field("prefix", &self.prefix.as_ref())
            .field("salt_len", &self.salt.len())
            .field("retry", &self.retry)
            .field("commit_cache", &self.commit_cache)
            .finish()
    }
}

impl ObjectCipherTextStoreBuilder {
    /// Keeps every object under `prefix` (`a/b`; empty for the root).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when the prefix is not a valid object path.
    pub fn prefix(mut self, prefix: &str) -> Result<Self> {
        self.prefix = Path::parse(prefix.trim_matches('/')).map_err(|e| {
            Error::invalid_input(format!("invalid store prefix {prefix:?}: use segments separated by '/'"))
                .with_source(e)
        })?;
        Ok(self)
    }

    /// The secret key of the HMAC-SHA-256 that names each namespace (user,
    /// custodian, client) in paths, so that someone who can list the bucket
    /// but does not know the salt cannot test whether a guessed user id
    /// (an e-mail address) has a backup.
    ///
    /// An empty salt (the default) still keeps user ids out of paths, but
    /// anyone can compute the path of a guessed id and see whether it
    /// exists: set a salt of 32 random bytes, kept like a credential, for
    /// any bucket others may list. Changing the salt later makes existing
    /// backups unfindable.
    pub fn user_id_salt(mut self, salt: Vec<u8>) -> Self {
        self.salt = salt;
        self
    }

    /// How transient backend failures are retried ([`DEFAULT_RETRY`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The name used in logs and error messages (default: the backend's
    /// `Display` and the prefix). Never put a credential here.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// How many (ns, method) pairs remember the latest commit record this
    /// store saw ([`DEFAULT_COMMIT_CACHE`]; 0 turns it off). A warm entry
    /// saves the cold start of every later read and lets a commit go
    /// straight to its create-only write (an orchestrated first backup is
    /// then 4 store requests, the acknowledgement record included; without
    /// it every commit starts cold, up to 7). Always correct across processes (see the crate
    /// documentation); about 200 bytes per entry.
    pub fn commit_cache(mut self, capacity: usize) -> Self {
        self.commit_cache = capacity;
        self
    }

    /// The store.
    pub fn build(self) -> ObjectCipherTextStore {
        let label = self.label.unwrap_or_else(|| {
            if self.prefix.is_root() { self.backend.to_string() } else { format!("{}/{}", self.backend, self.prefix) }
        });
        ObjectCipherTextStore {
            inner: Arc::new(Inner {
                backend: self.backend,
                layout: Layout::new(self.prefix, &self.salt),
                retry: self.retry,
                label,
                cache: CommitCache::new(self.commit_cache),
                staged_here: Mutex::new(std::collections::HashSet::new()),
            }),
        }
    }
}

impl ObjectCipherTextStore {
    /// A store on `backend`, at its root, with default settings.
    pub fn new(backend: Arc<dyn ObjectStore>) -> Self {
        Self::builder(backend).build()
    }

    /// A builder for a store on `backend`.
    pub fn builder(backend: Arc<dyn ObjectStore>) -> ObjectCipherTextStoreBuilder {
        ObjectCipherTextStoreBuilder {
            backend,
            prefix: Path::default(),
            salt: Vec::new(),
            retry: DEFAULT_RETRY,
            label: None,
            commit_cache: DEFAULT_COMMIT_CACHE,
        }
    }

    /// The backend, for tools that need to reach it directly.
    pub fn backend(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.backend
    }

    /// The prefix under which this store keeps its objects.
    pub fn prefix(&self) -> &Path {
        self.inner.layout.root()
    }

    fn label(&self) -> &str {
        &self.inner.label
    }

    fn err(&self, e: object_store::Error, what: impl Into<String>) -> Error {
        map_object_store_error(e, what, self.label())
    }

    /// Runs a backend call with the retry policy on transient failures.
    async fn retrying<T, F, Fut>(&self, op: &'static str, f: F) -> std::result::Result<T, object_store::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, object_store::Error>>,
    {
        f.retry(backoff(&self.inner.retry))
            .sleep(tokio::time::sleep)
            .when(is_transient)
            .notify(|e, delay| tracing::debug!(op, error = %e, ?delay, "transient store failure; retrying"))
            .await
    }

    /// GET an object; `None` when it does not exist.
    async fn get_bytes(&self, path: &Path) -> std::result::Result<Option<Bytes>, object_store::Error> {
        let backend = &self.inner.backend;
        let r = self
            .retrying("get", || async {
                let got = backend.get(path).await?;
                got.bytes().await
            })
            .await;
        match r {
            Ok(b) => Ok(Some(b)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A create-only PUT. A retry that finds the object already there with
    /// the same bytes is our own earlier attempt, which landed: success.
    async fn put_create(&self, path: &Path, bytes: Bytes) -> std::result::Result<(), object_store::Error> {
        let backend = &self.inner.backend;
        let attempts = AtomicU32::new(0);
        self.retrying("put_create", || async {
            let n = attempts.fetch_add(1, Ordering::Relaxed);
            let opts = PutOptions { mode: PutMode::Create, ..Default::default() };
            match backend.put_opts(path, PutPayload::from_bytes(bytes.clone()), opts).await {
                Ok(_) => Ok(()),
                Err(e @ object_store::Error::AlreadyExists { .. }) if n > 0 => {
                    let existing = backend.get(path).await?.bytes().await?;
                    if existing == bytes { Ok(()) } else { Err(e) }
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn read_record(&self, path: &Path) -> Result<Option<CommitRecord>> {
        let Some(bytes) = self.get_bytes(path).await.map_err(|e| self.err(e, "read a commit record"))? else {
            return Ok(None);
        };
        match serde_json::from_slice::<CommitRecord>(&bytes) {
            Ok(r) if r.v == CommitRecord::VERSION => Ok(Some(r)),
            _ => Err(malformed(path, "commit record", self.label())),
        }
    }

    /// The hint: a copy of the latest commit record, maybe stale. A missing
    /// or unreadable hint is not an error: the commit log decides.
    async fn read_hint(&self, ns: &Namespace, method: &MethodId) -> Result<Option<CommitRecord>> {
        let path = self.inner.layout.head(ns, method);
        let Some(bytes) = self.get_bytes(&path).await.map_err(|e| self.err(e, "read the current pointer"))? else {
            return Ok(None);
        };
        match serde_json::from_slice::<CommitRecord>(&bytes) {
            Ok(r) if r.v == CommitRecord::VERSION && r.seq > 0 => Ok(Some(r)),
            _ => {
                tracing::warn!(store = %self.label(), "unreadable head hint; scanning the commit log");
                Ok(None)
            }
        }
    }

    /// Overwrites the hint. Best effort: a stale hint costs one more GET on
    /// the next read and is repaired then.
    async fn write_hint(&self, ns: &Namespace, method: &MethodId, record: &CommitRecord) {
        let path = self.inner.layout.head(ns, method);
        let backend = &self.inner.backend;
        let bytes = record.encode();
        let r = self
            .retrying("put_hint", || async { backend.put(&path, PutPayload::from_bytes(bytes.clone())).await })
            .await;
        if let Err(e) = r {
            tracing::warn!(store = %self.label(), error = %e, "could not update the head hint; readers will probe forward");
        }
    }

    /// Walks forward from `from`, a known commit record, to the latest one.
    async fn walk_forward(&self, ns: &Namespace, method: &MethodId, from: CommitRecord) -> Result<CommitRecord> {
        let layout = &self.inner.layout;
        let mut cur = from;
        for _ in 0..PROBE_LIMIT {
            match self.read_record(&layout.commit(ns, method, cur.seq + 1)).await? {
                Some(next) => cur = next,
                None => return Ok(cur),
            }
        }
        // Far behind (many crashes between a commit and its hint): list the
        // commit log from here instead of probing one by one.
        let prefix = layout.commits_prefix(ns, method);
        let offset = layout.commit(ns, method, cur.seq);
        let backend = &self.inner.backend;
        let names: Vec<object_store::ObjectMeta> = self
            .retrying("list_commits", || backend.list_with_offset(Some(&prefix), &offset).try_collect())
            .await
            .map_err(|e| self.err(e, "list the commit log"))?;
        let max = names.iter().filter_map(|m| m.location.filename().and_then(parse_seq)).max();
        if let Some(seq) = max.filter(|s| *s > cur.seq) {
            cur = self
                .read_record(&layout.commit(ns, method, seq))
                .await?
                .ok_or_else(|| Error::new(ErrorKind::Unavailable, "a listed commit record vanished; retry"))?;
            // Anything newer than the listing is found by one more probe.
            return Box::pin(self.walk_forward(ns, method, cur)).await;
        }
        Ok(cur)
    }

    /// Adds (`add`) or takes out a version path of `staged_here`; taking
    /// out returns whether it was there.
    fn note_staged_here(&self, path: &str, add: bool) -> bool {
        let mut set = self.inner.staged_here.lock().unwrap_or_else(|p| p.into_inner());
        if !add {
            return set.remove(path);
        }
        if set.len() >= DEFAULT_COMMIT_CACHE {
            set.clear();
        }
        set.insert(path.to_owned());
        true
    }

    fn cache_key(&self, ns: &Namespace, method: &MethodId) -> String {
        self.inner.layout.method_prefix(ns, method).to_string()
    }

    /// Where a read of the log starts. Warm: the cached record (no request;
    /// a cached "no commit" costs the GET of commit 1). Cold: GET commit 1
    /// (absent: no commit, the common case of a new user: 1 request), then
    /// GET the hint, and start from the later of the two.
    ///
    /// `parallel` reads commit 1 and the hint side by side on a cold start
    /// (one round trip less for a reader, one request more for a new user);
    /// `use_cache = false` forces a cold start.
    async fn start(&self, ns: &Namespace, method: &MethodId, parallel: bool, use_cache: bool) -> Result<Start> {
        let first = self.inner.layout.commit(ns, method, 1);
        let cached = if use_cache { self.inner.cache.get(&self.cache_key(ns, method)) } else { None };
        match cached {
            Some(Some(record)) => Ok(Start { record: Some(record), hint_seq: None }),
            Some(None) => Ok(Start { record: self.read_record(&first).await?, hint_seq: None }),
            None => {
                let (first, hint) = if parallel {
                    let (first, hint) = futures::try_join!(self.read_record(&first), self.read_hint(ns, method))?;
                    (first, Some(hint))
                } else {
                    (self.read_record(&first).await?, None)
                };
                let Some(first) = first else {
                    return Ok(Start { record: None, hint_seq: None });
                };
                let hint = match hint {
                    Some(h) => h,
                    None => self.read_hint(ns, method).await?,
                };
                let mut hint_seq = hint.as_ref().map_or(0, |h| h.seq);
                let record = match hint {
                    Some(h) if h.seq > first.seq => {
                        // The hint is only a copy: the record it points at
                        // must exist and say the same, or the log decides.
                        let path = self.inner.layout.commit(ns, method, h.seq);
                        if self.read_record(&path).await?.as_ref() == Some(&h) {
                            h
                        } else {
                            tracing::warn!(store = %self.label(), seq = h.seq, "the head hint does not match the commit record it names; reading the log");
                            hint_seq = 0;
                            first
                        }
                    }
                    _ => first,
                };
                Ok(Start { record: Some(record), hint_seq: Some(hint_seq) })
            }
        }
    }

    /// Remembers what a read found, and repairs a stale hint seen on a cold
    /// start. Commit 1 needs no hint: cold reads start there anyway.
    async fn finish_read(
        &self,
        ns: &Namespace,
        method: &MethodId,
        latest: Option<&CommitRecord>,
        hint_seq: Option<u64>,
    ) {
        self.inner.cache.put(&self.cache_key(ns, method), latest);
        if let (Some(latest), Some(hint_seq)) = (latest, hint_seq)
            && latest.seq > 1
            && hint_seq != latest.seq
        {
            self.write_hint(ns, method, latest).await;
        }
    }

    /// The latest commit record. Warm: 1 GET (the next record, absent).
    /// Cold: 1 GET when there is no commit, else commit 1, the hint and the
    /// next record.
    async fn latest(&self, ns: &Namespace, method: &MethodId) -> Result<Option<CommitRecord>> {
        let start = self.start(ns, method, false, true).await?;
        let latest = match start.record {
            None => None,
            Some(r) => Some(self.walk_forward(ns, method, r).await?),
        };
        self.finish_read(ns, method, latest.as_ref(), start.hint_seq).await;
        Ok(latest)
    }

    async fn read_envelope_raw(&self, path: &Path) -> Result<Option<String>> {
        let Some(bytes) = self.get_bytes(path).await.map_err(|e| self.err(e, "read an envelope"))? else {
            return Ok(None);
        };
        String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| malformed(path, "envelope", self.label()))
    }

    /// A version's envelope (a retired one's too, until it is removed).
    async fn read_envelope(&self, path: &Path) -> Result<Option<String>> {
        Ok(self.read_version(path).await?.map(|(env, _)| env))
    }

    /// Whether (ns, method) has at least one commit (at most 1 GET:
    /// commit 1; none when the cache knows).
    async fn has_commit(&self, ns: &Namespace, method: &MethodId) -> Result<bool> {
        if let Some(Some(_)) = self.inner.cache.get(&self.cache_key(ns, method)) {
            return Ok(true);
        }
        Ok(self.read_record(&self.inner.layout.commit(ns, method, 1)).await?.is_some())
    }

    /// The current version, the log and the envelope read side by side.
    async fn read_current(&self, ns: &Namespace, method: &MethodId, use_cache: bool) -> Result<Option<CurrentVersion>> {
        let layout = &self.inner.layout;
        let start = self.start(ns, method, true, use_cache).await?;
        let Some(mut rec) = start.record else {
            self.finish_read(ns, method, None, None).await;
            return Ok(None);
        };
        let dangling = |rec: &CommitRecord| {
            Error::not_found(format!("the current version {} of this backup is missing from the store", rec.backup_id))
                .with_hint("the envelope was deleted outside share-backup; make a new backup")
                .with_method(method.clone())
                .with_source(StoreError::DanglingCommit { path: layout.commit(ns, method, rec.seq).to_string() })
        };
        for _ in 0..PROBE_LIMIT {
            let version = layout.version(ns, method, rec.backup_id);
            let next = layout.commit(ns, method, rec.seq + 1);
            let (next, envelope) = futures::try_join!(self.read_record(&next), self.read_envelope(&version))?;
            match next {
                Some(n) => rec = n,
                None => {
                    self.finish_read(ns, method, Some(&rec), start.hint_seq).await;
                    let envelope = envelope.ok_or_else(|| dangling(&rec))?;
                    return Ok(Some(CurrentVersion::new(rec.backup_id, envelope)));
                }
            }
        }
        // Far behind: fall back to the general walk, and repair the hint.
        let latest = self.walk_forward(ns, method, rec).await?;
        self.finish_read(ns, method, Some(&latest), Some(start.hint_seq.unwrap_or(0))).await;
        let envelope = self
            .read_envelope(&layout.version(ns, method, latest.backup_id))
            .await?
            .ok_or_else(|| dangling(&latest))?;
        Ok(Some(CurrentVersion::new(latest.backup_id, envelope)))
    }

    /// The create-only write of commit record `seq` making `backup_id`
    /// current over `expected`, then the hint. `Ok(false)`: another
    /// writer's record already holds `seq` (ours from an earlier attempt
    /// whose answer was lost counts as written).
    async fn try_commit(
        &self,
        ns: &Namespace,
        method: &MethodId,
        backup_id: BackupId,
        expected: Option<BackupId>,
        seq: u64,
    ) -> Result<bool> {
        let record = CommitRecord {
            v: CommitRecord::VERSION,
            seq,
            backup_id,
            prev: expected,
            committed_at_ms: now_ms(),
            retires: None,
        };
        self.append(ns, method, record, true).await
    }

    /// The create-only write of a commit record (see `try_commit`); the
    /// hint is written when `hint` and the record is not the first.
    async fn append(&self, ns: &Namespace, method: &MethodId, record: CommitRecord, hint: bool) -> Result<bool> {
        let path = self.inner.layout.commit(ns, method, record.seq);
        let key = self.cache_key(ns, method);
        let written = match self.put_create(&path, record.encode()).await {
            Ok(()) => record,
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                match self.read_record(&path).await? {
                    Some(r)
                        if r.backup_id == record.backup_id && r.prev == record.prev && r.retires == record.retires =>
                    {
                        r
                    }
                    other => {
                        self.inner.cache.put(&key, other.as_ref());
                        return Ok(false);
                    }
                }
            }
            Err(e) => {
                return Err(self.err(e, format!("write commit record {}", record.seq)).with_method(method.clone()));
            }
        };
        self.inner.cache.put(&key, Some(&written));
        if hint && written.seq > 1 {
            self.write_hint(ns, method, &written).await;
        }
        Ok(true)
    }

    /// A version's object: its envelope, and whether it carries a tombstone.
    async fn read_version(&self, path: &Path) -> Result<Option<(String, bool)>> {
        let Some(text) = self.read_envelope_raw(path).await? else { return Ok(None) };
        Ok(Some(match text.strip_prefix(TOMBSTONE) {
            Some(env) => (env.to_owned(), true),
            None => (text, false),
        }))
    }

    /// The acknowledgement record; an unreadable one is an error (it decides
    /// what rolls forward).
    async fn read_ack_at(&self, path: &Path) -> Result<Option<AckRecord>> {
        let backend = &self.inner.backend;
        let got = self
            .retrying("get_ack", || async {
                let got = backend.get(path).await?;
                let at = SystemTime::from(got.meta.last_modified);
                Ok((got.bytes().await?, at))
            })
            .await;
        let (bytes, at) = match got {
            Ok(v) => v,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err(e, "read an acknowledgement record")),
        };
        match serde_json::from_slice::<AckRecord>(&bytes) {
            Ok(r) if r.v == 1 => Ok(Some(AckRecord { stored_at: Some(at), ..r })),
            _ => Err(malformed(path, "acknowledgement record", self.label())),
        }
    }

    /// The latest acknowledgement record over `prev` and its number (0:
    /// none), probing forward from record `from` (one known to exist, or
    /// 0): one GET when there is none. Past `PROBE_LIMIT` records it lists
    /// the prefix instead.
    async fn latest_ack(
        &self,
        ns: &Namespace,
        method: &MethodId,
        prev: Option<BackupId>,
        from: u64,
    ) -> Result<(u64, Option<AckRecord>)> {
        let layout = &self.inner.layout;
        let (mut n, mut latest) = (from.saturating_sub(1), None);
        let mut probes = 0;
        loop {
            match self.read_ack_at(&layout.ack(ns, method, prev, n + 1)).await? {
                Some(r) => {
                    (n, latest) = (n + 1, Some(r));
                    probes += 1;
                }
                None => return Ok((n, latest)),
            }
            if probes == PROBE_LIMIT {
                let prefix = layout.acks_prefix(ns, method, prev);
                let backend = &self.inner.backend;
                let listed: Vec<object_store::ObjectMeta> = self
                    .retrying("list_acks", || backend.list(Some(&prefix)).try_collect())
                    .await
                    .map_err(|e| self.err(e, "list acknowledgement records").with_method(method.clone()))?;
                let max = listed.iter().filter_map(|m| m.location.filename().and_then(parse_seq)).max().unwrap_or(0);
                if max > n {
                    (n, latest) = (max - 1, None);
                }
            }
        }
    }

    /// Tombstone, then the retirement marker in the commit log (the
    /// barrier), as described on `retire`. `envelope` is the version's text.
    async fn retire_with(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId, envelope: &str) -> Result<()> {
        let refuse = |why: &str| {
            conflict(format!("version {backup_id} cannot be retired: {why}"))
                .with_hint("only versions superseded by a current one are retired")
                .with_retryable(false)
                .with_method(method.clone())
        };
        match self.latest(ns, method).await?.map(|r| r.backup_id) {
            None => return Err(refuse("nothing was ever committed in this namespace and method")),
            Some(c) if c == backup_id => return Err(refuse("it is current")),
            Some(_) => {}
        }
        let path = self.inner.layout.version(ns, method, backup_id);
        let backend = &self.inner.backend;
        let tomb = Bytes::from(format!("{TOMBSTONE}{envelope}"));
        self.retrying("put_tombstone", || backend.put(&path, PutPayload::from_bytes(tomb.clone())))
            .await
            .map_err(|e| self.err(e, format!("retire version {backup_id}")).with_method(method.clone()))?;
        for _ in 0..PROBE_LIMIT {
            let latest = self.latest(ns, method).await?.ok_or_else(|| refuse("the commit log vanished"))?;
            if latest.backup_id == backup_id {
                // A commit that checked before the tombstone landed first:
                // the version is current (still readable: readers skip the
                // tombstone) and nothing may delete its key.
                return Err(refuse("a racing commit made it current"));
            }
            let marker = CommitRecord {
                v: CommitRecord::VERSION,
                seq: latest.seq + 1,
                backup_id: latest.backup_id,
                prev: Some(latest.backup_id),
                committed_at_ms: now_ms(),
                retires: Some(backup_id),
            };
            if self.append(ns, method, marker, false).await? {
                tracing::debug!(%backup_id, "retired");
                return Ok(());
            }
        }
        Err(Error::new(
            ErrorKind::Unavailable,
            format!("could not retire version {backup_id}: the commit log keeps moving; retry"),
        )
        .with_method(method.clone()))
    }

    /// The compare-and-swap on the log once `latest` was read (and, unless
    /// `recheck`, the version checked after that read): retirement markers
    /// of other versions (which keep the current version) are stepped over,
    /// anything else that moved the log is `Conflict`.
    async fn commit_after(
        &self,
        ns: &Namespace,
        method: &MethodId,
        backup_id: BackupId,
        expected: Option<BackupId>,
        mut latest: Option<CommitRecord>,
        mut recheck: bool,
    ) -> Result<()> {
        let version = self.inner.layout.version(ns, method, backup_id);
        for _ in 0..PROBE_LIMIT {
            if let Some(l) = &latest
                && l.backup_id == backup_id
                && l.prev == expected
            {
                tracing::debug!(%backup_id, "already committed");
                return Ok(());
            }
            let current = latest.as_ref().map(|l| l.backup_id);
            if current != expected {
                return Err(conflict(format!(
                    "cannot make {backup_id} current: the current version is {}, not the expected {}",
                    show(current),
                    show(expected)
                ))
                .with_method(method.clone()));
            }
            if recheck {
                match self.read_version(&version).await? {
                    Some((_, false)) => {}
                    Some((_, true)) => {
                        return Err(conflict(format!("cannot make {backup_id} current: it was retired by a prune"))
                            .with_retryable(false)
                            .with_method(method.clone()));
                    }
                    None => {
                        return Err(Error::not_found(format!("cannot commit {backup_id}: it is not in the store"))
                            .with_method(method.clone()));
                    }
                }
            }
            let seq = latest.as_ref().map_or(1, |l| l.seq + 1);
            if self.try_commit(ns, method, backup_id, expected, seq).await? {
                tracing::debug!(%backup_id, seq, "committed");
                return Ok(());
            }
            // Someone else's record holds `seq` (a commit, or a retirement
            // marker that keeps the current version): read on and check the
            // version again after that read.
            latest = self.latest(ns, method).await?;
            recheck = true;
        }
        Err(conflict(format!("cannot make {backup_id} current: another writer committed first"))
            .with_method(method.clone()))
    }

    fn span(&self, op: &'static str, ns: &Namespace, method: Option<&MethodId>) -> tracing::Span {
        let h = self.inner.layout.ns_hash(ns);
        tracing::debug_span!(
            "cipher_text_store",
            op,
            store = %self.label(),
            user_hash = &h[..16],
            method = method.map(MethodId::as_str).unwrap_or("-"),
        )
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn conflict(message: String) -> Error {
    Error::new(ErrorKind::Conflict, message)
}

fn show(id: Option<BackupId>) -> String {
    id.map(|b| b.to_hex()).unwrap_or_else(|| "none".to_owned())
}

#[async_trait]
impl CipherTextStore for ObjectCipherTextStore {
    /// One create-only PUT.
    async fn stage(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId, envelope: &str) -> Result<()> {
        let span = self.span("stage", ns, Some(method));
        async {
            if envelope.is_empty() || envelope.len() > MAX_ENVELOPE_LEN {
                return Err(Error::invalid_input(format!(
                    "an envelope is 1 to {MAX_ENVELOPE_LEN} bytes, got {}",
                    envelope.len()
                )));
            }
            let path = self.inner.layout.version(ns, method, backup_id);
            self.put_create(&path, Bytes::copy_from_slice(envelope.as_bytes()))
                .await
                .map_err(|e| self.err(e, format!("stage version {backup_id}")).with_method(method.clone()))?;
            self.note_staged_here(path.as_ref(), true);
            tracing::debug!(%backup_id, len = envelope.len(), "staged");
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Warm (this store saw the current version): GET the version (to
    /// refuse a tombstone; skipped for a namespace's first commit of a
    /// version this instance staged), then the create-only PUT of the next
    /// commit record, then PUT the hint (not after commit 1): 1 to 3
    /// requests. Cold, or when another writer
    /// moved the log on: the latest record is read first, beside the HEAD.
    async fn commit(
        &self,
        ns: &Namespace,
        method: &MethodId,
        backup_id: BackupId,
        expected: Option<BackupId>,
    ) -> Result<()> {
        let span = self.span("commit", ns, Some(method));
        async {
            let version = self.inner.layout.version(ns, method, backup_id);
            // Read after the log (never beside it): a prune writes the
            // tombstone before its marker record, so a committer that saw
            // the log at or past the marker also sees the tombstone.
            let staged = async {
                match self.read_version(&version).await.map_err(|e| e.with_method(method.clone()))? {
                    None => Err(Error::not_found(format!("cannot commit {backup_id}: it was never staged"))
                        .with_hint("stage the version before committing it")
                        .with_method(method.clone())),
                    Some((_, true)) => Err(conflict(format!(
                        "cannot make {backup_id} current: it was retired by a prune and can never become current"
                    ))
                    .with_retryable(false)
                    .with_hint("make a new backup")
                    .with_method(method.clone())),
                    Some((_, false)) => Ok(()),
                }
            };
            // Warm: the cache says `expected` is current, so the create-only
            // write of the next record is the compare-and-swap itself.
            let cached = self.inner.cache.get(&self.cache_key(ns, method));
            let latest = match cached {
                Some(c) if c.as_ref().map(|r| r.backup_id) == expected => {
                    let seq = c.as_ref().map_or(1, |r| r.seq + 1);
                    // A namespace's first commit of a version this instance
                    // staged needs no version check (one request less per
                    // first backup). Why that is safe: the create-only PUT
                    // of commit record 1 succeeds only while the log is
                    // empty, and the log never shrinks. Every tombstone and
                    // every removal through this store is preceded by a
                    // read of a non-empty log (`retire_with` refuses an
                    // empty one; `remove` retires first). So when record 1
                    // lands, no version of the namespace was ever retired
                    // or removed, and ours, whose create-only stage
                    // succeeded, exists and is live; a retire after that
                    // sees it current and refuses. If record 1 is someone
                    // else's, the write fails and `commit_after` below
                    // checks the version as usual.
                    let first_of_ours =
                        seq == 1 && expected.is_none() && self.note_staged_here(version.as_ref(), false);
                    if !first_of_ours {
                        staged.await?;
                    }
                    if self.try_commit(ns, method, backup_id, expected, seq).await? {
                        tracing::debug!(%backup_id, seq, "committed");
                        return Ok(());
                    }
                    // Another writer's record holds `seq`: read the log on from
                    // it, and check the version again after that read.
                    let latest = self.latest(ns, method).await?;
                    return self.commit_after(ns, method, backup_id, expected, latest, true).await;
                }
                _ => self.latest(ns, method).await?,
            };
            if let Some(l) = &latest
                && l.backup_id == backup_id
                && l.prev == expected
            {
                // Our own commit, landed on an earlier try whose answer was lost.
                tracing::debug!(%backup_id, "already committed");
                return Ok(());
            }
            staged.await?;
            self.commit_after(ns, method, backup_id, expected, latest, false).await
        }
        .instrument(span)
        .await
    }

    /// Warm: GET the next commit record (absent) beside the envelope: 2
    /// requests in 1 round trip. Cold: GET commit 1 beside the hint, then
    /// the next record beside the envelope: 4 requests in 2 round trips,
    /// whatever the number of users and versions. No backup: 2 requests.
    async fn current(&self, ns: &Namespace, method: &MethodId) -> Result<Option<CurrentVersion>> {
        let span = self.span("current", ns, Some(method));
        async {
            match self.read_current(ns, method, true).await {
                // A warm start can only dangle if objects were deleted behind
                // the store's back: look again from the log itself.
                Err(e) if e.kind() == &ErrorKind::NotFound => {
                    self.inner.cache.forget(&self.cache_key(ns, method));
                    self.read_current(ns, method, false).await
                }
                r => r,
            }
        }
        .instrument(span)
        .await
    }

    /// The latest record (warm: 1 GET, the next record absent; cold: see
    /// `latest`).
    async fn current_id(&self, ns: &Namespace, method: &MethodId) -> Result<Option<BackupId>> {
        let span = self.span("current_id", ns, Some(method));
        async { Ok(self.latest(ns, method).await?.map(|r| r.backup_id)) }.instrument(span).await
    }

    /// One GET.
    async fn get(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<String> {
        let span = self.span("get", ns, Some(method));
        async {
            let path = self.inner.layout.version(ns, method, backup_id);
            self.read_envelope(&path).await.map_err(|e| e.with_method(method.clone()))?.ok_or_else(|| {
                Error::not_found(format!("no version {backup_id} in the store")).with_method(method.clone())
            })
        }
        .instrument(span)
        .await
    }

    /// One LIST of this (ns, method)'s versions plus the current pointer
    /// (2 GETs).
    async fn versions(&self, ns: &Namespace, method: &MethodId) -> Result<Vec<VersionInfo>> {
        let span = self.span("versions", ns, Some(method));
        async {
            let prefix = self.inner.layout.versions_prefix(ns, method);
            let backend = &self.inner.backend;
            let listed: Vec<object_store::ObjectMeta> = self
                .retrying("list_versions", || backend.list(Some(&prefix)).try_collect())
                .await
                .map_err(|e| self.err(e, "list versions").with_method(method.clone()))?;
            let current = self.latest(ns, method).await?.map(|r| r.backup_id);
            let mut out: Vec<(SystemTime, VersionInfo)> = listed
                .into_iter()
                .filter_map(|m| {
                    let id: BackupId = m.location.filename()?.parse().ok()?;
                    let at = SystemTime::from(m.last_modified);
                    let state = if Some(id) == current { VersionState::Current } else { VersionState::Staged };
                    Some((at, VersionInfo::new(id, state, Some(at))))
                })
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.backup_id.cmp(&b.1.backup_id)));
            Ok(out.into_iter().map(|(_, v)| v).collect())
        }
        .instrument(span)
        .await
    }

    /// One delimited LIST of this user's prefix, then 1 or 2 GETs per method.
    async fn methods(&self, ns: &Namespace) -> Result<Vec<MethodId>> {
        let span = self.span("methods", ns, None);
        async {
            let prefix = self.inner.layout.ns_prefix(ns);
            let backend = &self.inner.backend;
            let listed = self
                .retrying("list_methods", || backend.list_with_delimiter(Some(&prefix)))
                .await
                .map_err(|e| self.err(e, "list the user's methods"))?;
            let candidates: Vec<MethodId> = listed
                .common_prefixes
                .iter()
                .filter_map(|p| p.filename().and_then(|n| MethodId::new(n).ok()))
                .collect();
            let checks = candidates.iter().map(|m| async move {
                let has = self.has_commit(ns, m).await?
                    || self.read_ack_at(&self.inner.layout.ack(ns, m, None, 1)).await?.is_some();
                Ok::<_, Error>((m, has))
            });
            let mut out: Vec<MethodId> = futures::future::try_join_all(checks)
                .await?
                .into_iter()
                .filter(|(_, has)| *has)
                .map(|(m, _)| m.clone())
                .collect();
            out.sort();
            Ok(out)
        }
        .instrument(span)
        .await
    }

    /// GET the version; one that is not retired yet is retired first
    /// (`retire`); then DELETE.
    async fn remove(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<()> {
        let span = self.span("remove", ns, Some(method));
        async {
            let path = self.inner.layout.version(ns, method, backup_id);
            let Some((envelope, retired)) =
                self.read_version(&path).await.map_err(|e| e.with_method(method.clone()))?
            else {
                return Ok(());
            };
            if !retired {
                self.retire_with(ns, method, backup_id, &envelope).await?;
            }
            let backend = &self.inner.backend;
            match self.retrying("delete_version", || backend.delete(&path)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.err(e, format!("remove version {backup_id}")).with_method(method.clone())),
            }
            tracing::debug!(%backup_id, "removed");
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// GET the version, then `latest` (warm: 1 GET), PUT the tombstone
    /// (the envelope behind a `retired` line, still readable), `latest`
    /// again and the create-only PUT of a retirement marker record:
    /// 5 requests when warm.
    ///
    /// Why it is safe across processes: a commit reads the log, then the
    /// version (refusing a tombstone), then creates the next record. The
    /// marker is created after the tombstone, at the slot after the latest
    /// record, which did not make the version current. A commit whose
    /// record lands after the marker read the log at or past the marker,
    /// so it read the version after the tombstone was written, and refused;
    /// a commit whose record landed before the marker is seen by the read
    /// before the marker, and retiring is refused instead.
    async fn retire(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<()> {
        let span = self.span("retire", ns, Some(method));
        async {
            let path = self.inner.layout.version(ns, method, backup_id);
            let Some((envelope, _)) = self.read_version(&path).await.map_err(|e| e.with_method(method.clone()))? else {
                return Ok(());
            };
            self.retire_with(ns, method, backup_id, &envelope).await
        }
        .instrument(span)
        .await
    }

    /// Pending: the create-only PUT of record 1 over `ack.prev` (one
    /// request, when no backup was acknowledged over that version before);
    /// when the slot is taken, the log is read forward and the next slot
    /// tried, or `Conflict` when the latest record is another version's
    /// pending acknowledgement. Withdrawn: the log is read and, when its
    /// latest record is this version's pending one, a withdrawal record is
    /// created after it. Nothing is ever overwritten or deleted.
    async fn record_acknowledgement(&self, ns: &Namespace, method: &MethodId, ack: Acknowledgement) -> Result<()> {
        let span = self.span("record_acknowledgement", ns, Some(method));
        async {
            let record = AckRecord {
                v: 1,
                backup_id: ack.backup_id,
                prev: ack.prev,
                withdrawn: ack.withdrawn,
                at_ms: now_ms(),
                stored_at: None,
            };
            let bytes = Bytes::from(serde_json::to_vec(&record).expect("an acknowledgement record serializes"));
            let layout = &self.inner.layout;
            let (mut next, mut known) = if ack.withdrawn {
                match self.latest_ack(ns, method, ack.prev, 0).await? {
                    (n, Some(l)) if l.backup_id == ack.backup_id && !l.withdrawn => (n + 1, n),
                    _ => return Ok(()),
                }
            } else {
                (1, 0)
            };
            for _ in 0..PROBE_LIMIT {
                let path = layout.ack(ns, method, ack.prev, next);
                match self.put_create(&path, bytes.clone()).await {
                    Ok(()) => {
                        tracing::debug!(backup_id = %ack.backup_id, n = next, withdrawn = ack.withdrawn, "acknowledgement recorded");
                        return Ok(());
                    }
                    Err(object_store::Error::AlreadyExists { .. }) => {}
                    Err(e) => return Err(self.err(e, "record the acknowledgement").with_method(method.clone())),
                }
                // The slot is taken: read on from it.
                let (n, latest) = self.latest_ack(ns, method, ack.prev, next.max(known)).await?;
                known = n;
                match latest {
                    Some(l) if l.backup_id == ack.backup_id && l.withdrawn == ack.withdrawn => return Ok(()),
                    // Withdrawing: only this version's pending record.
                    Some(l) if ack.withdrawn => {
                        if l.backup_id != ack.backup_id || l.withdrawn {
                            return Ok(());
                        }
                        next = n + 1;
                    }
                    None if ack.withdrawn => return Ok(()),
                    Some(l) if !l.withdrawn => {
                        return Err(conflict(format!(
                            "version {} is already being acknowledged over {}",
                            l.backup_id,
                            show(ack.prev)
                        ))
                        .with_retryable(false)
                        .with_method(method.clone()));
                    }
                    _ => next = n + 1,
                }
            }
            Err(conflict(format!("the acknowledgement records over {} keep moving; try again", show(ack.prev)))
                .with_method(method.clone()))
        }
        .instrument(span)
        .await
    }

    /// Reads the log of records over `prev` forward: one GET when there is
    /// none, two for one record.
    async fn acknowledgement(
        &self,
        ns: &Namespace,
        method: &MethodId,
        prev: Option<BackupId>,
    ) -> Result<Option<Acknowledgement>> {
        let span = self.span("acknowledgement", ns, Some(method));
        async {
            Ok(self.latest_ack(ns, method, prev, 0).await?.1.map(|r| {
                let at = r.stored_at.unwrap_or(UNIX_EPOCH + Duration::from_millis(r.at_ms));
                let a = Acknowledgement::new(r.backup_id, r.prev).with_recorded_at(at);
                if r.withdrawn { a.withdrawn() } else { a }
            }))
        }
        .instrument(span)
        .await
    }
}
