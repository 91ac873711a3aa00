//! The store-then-notify protocol.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use share_backup_core::{
    BackupId, BackupProvider, BackupProviderExt, BackupShare, ClientId, Configs, Context, CustodianId, Envelope, Error,
    ErrorKind, ExposeSecret, MethodId, ProgressSink, Registry, Result, Status, UserId,
};
use tracing::{Instrument, field, info_span};

use crate::request::{
    BackupRequest, HealthReport, IncompleteBackup, KeyCheck, PruneReport, Receipt, RecoverRequest, Recovered,
    RotateRequest, Step, StepTimings, VerifyRequest,
};
use crate::retry::{DEFAULT_CALL_TIMEOUT, DEFAULT_RETRY, Retry};
use crate::store::{CipherTextStore, CurrentVersion, Notifier};
use share_backup_core::RetryPolicy;

/// The default [`OrchestratorBuilder::prune_grace`]: 15 minutes.
pub const DEFAULT_PRUNE_GRACE: Duration = Duration::from_secs(15 * 60);

/// Runs backups, recoveries, rotations and health checks of client key
/// shares over a provider registry, a cipher-text store and a notifier.
///
/// Cheap to clone (an `Arc` inside); share one per process. See the crate
/// documentation for the protocol and its guarantees.
#[derive(Clone)]
pub struct Orchestrator {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    store: Arc<dyn CipherTextStore>,
    notifier: Arc<dyn Notifier>,
    retry: Retry,
    prune: bool,
    prune_grace: Duration,
    read_back: bool,
    busy: Mutex<HashSet<UserId>>,
}

impl fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Orchestrator")
            .field("registry", &self.inner.registry)
            .field("store", &self.inner.store)
            .field("notifier", &self.inner.notifier)
            .field("retry", &self.inner.retry)
            .field("prune", &self.inner.prune)
            .field("prune_grace", &self.inner.prune_grace)
            .field("read_back", &self.inner.read_back)
            .finish()
    }
}

/// Builds an [`Orchestrator`]: [`Orchestrator::builder`].
#[derive(Default)]
pub struct OrchestratorBuilder {
    registry: Option<Registry>,
    extra: Vec<Arc<dyn BackupProvider>>,
    store: Option<Arc<dyn CipherTextStore>>,
    notifier: Option<Arc<dyn Notifier>>,
    retry: Option<RetryPolicy>,
    call_timeout: Option<Option<Duration>>,
    prune: Option<bool>,
    prune_grace: Option<Duration>,
    read_back: Option<bool>,
}

impl fmt::Debug for OrchestratorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrchestratorBuilder")
            .field("registry", &self.registry)
            .field("providers", &self.extra)
            .field("store", &self.store)
            .field("notifier", &self.notifier)
            .finish_non_exhaustive()
    }
}

impl OrchestratorBuilder {
    /// The provider registry (default: [`Registry::linked`], every provider
    /// linked into the binary).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Adds a provider instance to the registry (it wins over a linked
    /// provider of the same method id).
    pub fn provider(mut self, provider: Arc<dyn BackupProvider>) -> Self {
        self.extra.push(provider);
        self
    }

    /// The cipher-text store (required).
    pub fn store(mut self, store: Arc<dyn CipherTextStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The notifier told `stored_client_backup_share` (required).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// How store and notifier calls are retried (default: [`DEFAULT_RETRY`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Bounds each single store or notifier call; one that takes longer
    /// counts as `Unavailable` and is retried (default:
    /// [`DEFAULT_CALL_TIMEOUT`]; `None`: unbounded).
    pub fn call_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// Whether a backup reads a remote provider's new key back (one
    /// `open_key`) and compares it with the key that sealed the envelope,
    /// before anything is staged or acknowledged (default: true).
    ///
    /// The read-back proves the key really landed where recovery will look
    /// (for Google Drive: that the uploaded file holds the key). Turning it
    /// off saves that one provider request per backup and trusts the
    /// provider's successful write; the envelope itself is still opened
    /// again with the in-memory key. Providers whose capabilities are not
    /// `remote` are never read back, nor are those whose capabilities say
    /// `verified_write` (their write compares what landed with what was
    /// sent, as the Google Drive provider's upload does: a Drive backup is
    /// then one request, with no separate probe either).
    pub fn read_back(mut self, read_back: bool) -> Self {
        self.read_back = Some(read_back);
        self
    }

    /// Whether a successful backup removes the superseded versions and
    /// their keys (default: true).
    pub fn prune(mut self, prune: bool) -> Self {
        self.prune = Some(prune);
        self
    }

    /// Staged versions younger than this are never pruned, except the
    /// version a backup itself superseded: a concurrent backup in another
    /// process may still be finishing them (default: [`DEFAULT_PRUNE_GRACE`]).
    pub fn prune_grace(mut self, grace: Duration) -> Self {
        self.prune_grace = Some(grace);
        self
    }

    /// Builds the orchestrator.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] without a store or a notifier; the
    /// registry's error when none is given and [`Registry::linked`] fails.
    pub fn build(self) -> Result<Orchestrator> {
        let store = self.store.ok_or_else(|| {
            Error::invalid_input("the orchestrator needs a cipher-text store").with_hint(
                "call .store(...) on the builder, e.g. with share-backup-object-store or a MemoryStore for tests",
            )
        })?;
        let notifier = self.notifier.ok_or_else(|| {
            Error::invalid_input("the orchestrator needs a notifier").with_hint(
                "call .notifier(...) on the builder, e.g. with share-backup-portal-api or a RecordingNotifier for tests",
            )
        })?;
        let mut registry = match self.registry {
            Some(r) => r,
            None => Registry::linked()?,
        };
        for p in self.extra {
            registry.insert(p);
        }
        Ok(Orchestrator {
            inner: Arc::new(Inner {
                registry,
                store,
                notifier,
                retry: Retry {
                    policy: self.retry.unwrap_or(DEFAULT_RETRY),
                    call_timeout: self.call_timeout.unwrap_or(Some(DEFAULT_CALL_TIMEOUT)),
                },
                prune: self.prune.unwrap_or(true),
                prune_grace: self.prune_grace.unwrap_or(DEFAULT_PRUNE_GRACE),
                read_back: self.read_back.unwrap_or(true),
                busy: Mutex::new(HashSet::new()),
            }),
        })
    }
}

/// Ends the progress of an operation with `Failed` if nothing ended it
/// before (an error, or the future being dropped).
struct FinishOnDrop(ProgressSink);

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        self.0.finish(false);
    }
}

/// Marks a user busy for as long as it lives.
struct UserGuard<'a> {
    busy: &'a Mutex<HashSet<UserId>>,
    user: UserId,
}

impl Drop for UserGuard<'_> {
    fn drop(&mut self) {
        self.busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.user);
    }
}

/// The identity and configs one operation runs with.
struct Call<'a> {
    user: &'a UserId,
    configs: Configs,
    custodian: Option<CustodianId>,
    client: Option<ClientId>,
    progress: ProgressSink,
}

impl Call<'_> {
    fn context(&self, backup_id: BackupId) -> Context {
        let mut ctx = Context::new(self.user.clone(), backup_id)
            .with_configs(self.configs.clone())
            .with_progress(self.progress.clone());
        if let Some(c) = &self.custodian {
            ctx = ctx.with_custodian(c.clone());
        }
        if let Some(c) = &self.client {
            ctx = ctx.with_client(c.clone());
        }
        ctx
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn with_method(e: Error, m: &MethodId) -> Error {
    if e.method().is_some() { e } else { e.with_method(m.clone()) }
}

fn incomplete(
    cause: Error,
    method: &MethodId,
    backup_id: BackupId,
    acknowledged: bool,
    current: Option<BackupId>,
) -> Error {
    let kind = cause.kind().clone();
    let retryable = cause.retryable();
    let message = if acknowledged {
        format!(
            "backup {backup_id} is stored and was acknowledged, but could not be made current ({}); the acknowledgement was withdrawn where the notifier allowed",
            cause.message()
        )
    } else {
        format!("backup {backup_id} is stored but was not acknowledged ({})", cause.message())
    };
    let hint = match current {
        Some(c) => format!("backup {c} is current and recoverable; retry the backup if this one is still needed"),
        None => "no backup of this method is current yet; retry the backup".to_owned(),
    };
    Error::new(kind, message).with_method(method.clone()).with_retryable(retryable).with_hint(hint).with_source(
        IncompleteBackup {
            method: method.clone(),
            backup_id,
            acknowledged,
            current,
            current_reacknowledged: false,
            cause,
        },
    )
}

/// The error of a backup that was acknowledged, then lost the commit's
/// compare-and-swap to another writer's backup `winner`.
fn lost_race(cause: Error, method: &MethodId, backup_id: BackupId, winner: Option<BackupId>, reacked: bool) -> Error {
    let winner_text = winner.map_or_else(|| "none".to_owned(), |w| w.to_string());
    let message = if reacked {
        format!(
            "backup {backup_id} is stored and was acknowledged, but another backup ({winner_text}) became current first ({}); the wallet service was told about {winner_text} again, so it names the current version",
            cause.message()
        )
    } else {
        format!(
            "backup {backup_id} is stored and was acknowledged, but another backup ({winner_text}) became current first ({}); the wallet service may still name {backup_id}",
            cause.message()
        )
    };
    let hint = if reacked {
        format!("the other backup {winner_text} is current and recoverable; back up again only if this share differs")
    } else {
        format!("make the store and the wallet service agree: back up again, or commit_staged({backup_id})")
    };
    Error::new(ErrorKind::Conflict, message)
        .with_method(method.clone())
        .with_retryable(false)
        .with_hint(hint)
        .with_source(IncompleteBackup {
            method: method.clone(),
            backup_id,
            acknowledged: true,
            current: winner,
            current_reacknowledged: reacked,
            cause,
        })
}

fn elapsed(t: &mut StepTimings, step: Step, since: Instant) {
    t.push(step, since.elapsed());
}

impl Orchestrator {
    /// A builder.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use share_backup_core::Registry;
    /// use share_backup_orchestrator::{MemoryStore, Orchestrator, RecordingNotifier};
    /// let orch = Orchestrator::builder()
    ///     .registry(Registry::empty())
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .notifier(Arc::new(RecordingNotifier::new()))
    ///     .build()
    ///     .unwrap();
    /// assert!(orch.registry().method_list().is_empty());
    /// ```
    pub fn builder() -> OrchestratorBuilder {
        OrchestratorBuilder::default()
    }

    /// The provider registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The cipher-text store.
    pub fn store(&self) -> &Arc<dyn CipherTextStore> {
        &self.inner.store
    }

    /// The notifier.
    pub fn notifier(&self) -> &Arc<dyn Notifier> {
        &self.inner.notifier
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry.policy
    }

    /// The bound on each single store or notifier call.
    pub fn call_timeout(&self) -> Option<Duration> {
        self.inner.retry.call_timeout
    }

    fn lock_user(&self, user: &UserId, what: &str) -> Result<UserGuard<'_>> {
        let mut busy = self.inner.busy.lock().unwrap_or_else(|e| e.into_inner());
        if !busy.insert(user.clone()) {
            return Err(Error::new(
                ErrorKind::InProgress,
                format!(
                    "a backup or rotation of user {user} is already running in this process; this {what} was not started"
                ),
            ));
        }
        Ok(UserGuard { busy: &self.inner.busy, user: user.clone() })
    }

    /// Backs up a share: resolve, probe, seal, verify, stage, acknowledge,
    /// commit, prune (see the crate documentation).
    ///
    /// Progress ends with `{done: true}` in every case: `Done` on success,
    /// `Failed` on an error or when the future is dropped.
    ///
    /// # Errors
    /// `InProgress` when a backup or rotation of the same user runs in this
    /// process; `Conflict` when another process committed a backup of this
    /// user and method first; the resolve, provider, store or notifier error
    /// otherwise. When the envelope was staged but did not become current,
    /// the error carries an [`IncompleteBackup`].
    pub async fn backup(&self, req: BackupRequest) -> Result<Receipt> {
        let BackupRequest { user, share, method, configs, custodian, client, progress } = req;
        let _finish = FinishOnDrop(progress.clone());
        let _guard = self.lock_user(&user, "backup")?;
        progress.report(Status::Reading);
        let call = Call { user: &user, configs, custodian, client, progress: progress.clone() };
        let span = info_span!("share_backup.backup", user = %user, method = field::Empty, backup_id = field::Empty);
        let r = self.run_backup(&call, method.as_ref(), &share).instrument(span).await;
        progress.finish(r.is_ok());
        r
    }

    async fn run_backup(&self, call: &Call<'_>, method: Option<&MethodId>, share: &BackupShare) -> Result<Receipt> {
        let inner = &*self.inner;
        let user = call.user;
        let mut t = StepTimings::default();
        let backup_id = BackupId::generate()?;
        tracing::Span::current().record("backup_id", field::display(backup_id));

        // 1. Resolve the provider and read the current version.
        let t0 = Instant::now();
        let provider = match inner.registry.resolve(method) {
            Ok(p) => p,
            Err(e) => {
                if let Some(m) = method {
                    self.notify_failure(user, m, backup_id).await;
                }
                return Err(e);
            }
        };
        let m = provider.method().clone();
        tracing::Span::current().record("method", field::display(&m));
        let previous = match self.read_current_id(user, &m).await {
            Ok(c) => c,
            Err(e) => return Err(self.fail_before_ack(e, user, &m, backup_id).await),
        };
        elapsed(&mut t, Step::Resolve, t0);
        let ctx = call.context(backup_id);

        // 2. Probe, unless the provider's write proves itself (the write is
        // then the probe: a refused one fails step 3, before any acknowledgement).
        let t0 = Instant::now();
        if !provider.capabilities().verified_write
            && let Err(e) = provider.probe(&ctx).instrument(info_span!("provider.probe")).await
        {
            return Err(self.fail_before_ack(with_method(e, &m), user, &m, backup_id).await);
        }
        elapsed(&mut t, Step::Probe, t0);

        // 3. Seal: a new data key and the envelope.
        let t0 = Instant::now();
        let (envelope, key) = match provider.seal_share(share, &ctx).instrument(info_span!("provider.seal_key")).await {
            Ok(v) => v,
            Err(e) => return Err(self.fail_before_ack(e, user, &m, backup_id).await),
        };
        elapsed(&mut t, Step::Seal, t0);

        // 4. Verify: the stored text opens again, and a remote key reads back.
        let t0 = Instant::now();
        call.progress.report(Status::Verifying);
        let text = envelope.encode();
        if let Err(e) = self.verify_new(&*provider, &text, &envelope, &key, share, &ctx).await {
            return Err(self.fail_before_ack(e, user, &m, backup_id).await);
        }
        drop(key);
        elapsed(&mut t, Step::Verify, t0);

        // 5. Stage, create-only.
        let t0 = Instant::now();
        call.progress.report(Status::Storing);
        if let Err(e) = self.stage(user, &m, backup_id, &text).await {
            return Err(self.fail_before_ack(e, user, &m, backup_id).await);
        }
        elapsed(&mut t, Step::Stage, t0);

        // 6. Acknowledge, after checking that no other writer got there first.
        let t0 = Instant::now();
        call.progress.report(Status::Acknowledging);
        match self.read_current_id(user, &m).await {
            Ok(now) if now == previous => {}
            Ok(now) => {
                let e = Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "another backup ({}) of user {user} became current while this one ran",
                        now.map_or_else(|| "none".to_owned(), |id| id.to_string())
                    ),
                )
                .with_retryable(false);
                // The winner acknowledges itself: no `false` that could overwrite its `true`.
                return Err(incomplete(e, &m, backup_id, false, now));
            }
            Err(e) => {
                let e = self.fail_before_ack(e, user, &m, backup_id).await;
                return Err(incomplete(e, &m, backup_id, false, previous));
            }
        }
        let ack = inner
            .retry
            .run("notifier.stored_client_backup_share", |_| {
                inner.notifier.stored_client_backup_share(user, &m, backup_id, true)
            })
            .instrument(info_span!("notifier.ack", success = true))
            .await;
        if let Err(e) = ack {
            let e = self.fail_before_ack(with_method(e, &m), user, &m, backup_id).await;
            return Err(incomplete(e, &m, backup_id, false, previous));
        }
        elapsed(&mut t, Step::Acknowledge, t0);

        // 7. Commit: make it current if the previous one still is.
        let t0 = Instant::now();
        if let Err(e) = self.commit(user, &m, backup_id, previous).await {
            // The commit may have landed before the error (a timeout): then it is done.
            let landed = e.kind() != &ErrorKind::Conflict
                && matches!(self.read_current_id(user, &m).await, Ok(Some(id)) if id == backup_id);
            if landed {
                tracing::info!(kind = e.kind().name(), "the commit reported an error but is in place");
            } else if e.kind() == &ErrorKind::Conflict {
                // Another writer won after both passed the pre-ack check. Its
                // backup is stored, verified and current, and its `true` may
                // have reached the wallet service before ours: say it again,
                // so that the last word names the current version.
                let (winner, reacked) = self.reacknowledge_winner(user, &m, backup_id).await;
                return Err(lost_race(e, &m, backup_id, winner, reacked));
            } else {
                // The store failed, not a race: withdraw the acknowledgement so
                // that the wallet service and the store agree again.
                self.notify_failure(user, &m, backup_id).await;
                return Err(incomplete(e, &m, backup_id, true, previous));
            }
        }
        elapsed(&mut t, Step::Commit, t0);
        tracing::info!(backup_id = %backup_id, "backup acknowledged and current");

        // 8. Prune superseded versions and their keys; never fails the backup.
        let t0 = Instant::now();
        let report = self.prune_after_commit(&*provider, call, &m, backup_id, previous).await;
        elapsed(&mut t, Step::Prune, t0);

        Ok(Receipt {
            method: m,
            backup_id,
            envelope: text,
            previous,
            pruned: report.removed,
            prune_failures: report.failed.len(),
            timings: t,
        })
    }

    async fn verify_new(
        &self,
        provider: &dyn BackupProvider,
        text: &str,
        envelope: &Envelope,
        key: &share_backup_core::DataKey,
        share: &BackupShare,
        ctx: &Context,
    ) -> Result<()> {
        let m = provider.method();
        let parsed = Envelope::parse(text)
            .map_err(|e| Error::internal(format!("a freshly sealed envelope does not parse: {}", e.message())))?;
        if &parsed != envelope {
            return Err(Error::internal("a freshly sealed envelope does not round-trip through its text"));
        }
        let opened = parsed.open(key, &ctx.binding()).map_err(|e| {
            Error::internal(format!("a freshly sealed envelope does not open: {}", e.message())).with_method(m.clone())
        })?;
        if !ct_eq(opened.expose_secret(), share.expose_secret()) {
            return Err(Error::internal("a freshly sealed envelope opens to other bytes than the share"));
        }
        let caps = provider.capabilities();
        // A verified write was compared with what landed by seal_key itself.
        if self.inner.read_back && caps.remote && !caps.verified_write {
            let back = provider
                .open_key(parsed.key_header(), ctx)
                .instrument(info_span!("provider.open_key", purpose = "verify"))
                .await
                .map_err(|e| with_method(e, m))?;
            if &back != key {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    "the provider gave back another key than the one it just stored; nothing was acknowledged",
                )
                .with_method(m.clone()));
            }
        }
        Ok(())
    }

    async fn read_current(&self, user: &UserId, m: &MethodId) -> Result<Option<CurrentVersion>> {
        let inner = &*self.inner;
        inner.retry.run("store.current", |_| inner.store.current(user, m)).instrument(info_span!("store.current")).await
    }

    /// The current version's id only: the writer's read before a commit.
    async fn read_current_id(&self, user: &UserId, m: &MethodId) -> Result<Option<BackupId>> {
        let inner = &*self.inner;
        inner
            .retry
            .run("store.current_id", |_| inner.store.current_id(user, m))
            .instrument(info_span!("store.current_id"))
            .await
    }

    async fn stage(&self, user: &UserId, m: &MethodId, backup_id: BackupId, text: &str) -> Result<()> {
        let inner = &*self.inner;
        inner
            .retry
            .run("store.stage", |attempt| async move {
                match inner.store.stage(user, m, backup_id, text).await {
                    Err(e) if e.kind() == &ErrorKind::Conflict => {
                        // An earlier attempt may have written it before failing.
                        if attempt > 1 && inner.store.get(user, m, backup_id).await.is_ok_and(|s| s == text) {
                            return Ok(());
                        }
                        Err(e.with_retryable(false))
                    }
                    r => r,
                }
            })
            .instrument(info_span!("store.stage"))
            .await
    }

    async fn commit(&self, user: &UserId, m: &MethodId, id: BackupId, expected: Option<BackupId>) -> Result<()> {
        let inner = &*self.inner;
        inner
            .retry
            .run("store.commit", |attempt| async move {
                match inner.store.commit(user, m, id, expected).await {
                    Err(e) if e.kind() == &ErrorKind::Conflict => {
                        // An earlier attempt may have committed before failing.
                        if attempt > 1 && inner.store.current_id(user, m).await.is_ok_and(|c| c == Some(id)) {
                            return Ok(());
                        }
                        Err(e.with_retryable(false))
                    }
                    r => r,
                }
            })
            .instrument(info_span!("store.commit"))
            .await
    }

    /// After `lost` was acknowledged and lost the commit: reads the current
    /// version and acknowledges it again (with retries; idempotent for the
    /// notifier). Returns the current version and whether it was told.
    async fn reacknowledge_winner(&self, user: &UserId, m: &MethodId, lost: BackupId) -> (Option<BackupId>, bool) {
        let inner = &*self.inner;
        let winner = match self.read_current_id(user, m).await {
            Ok(Some(w)) if w != lost => w,
            Ok(other) => return (other, false),
            Err(e) => {
                tracing::warn!(kind = e.kind().name(), error = %e, "lost the commit race; could not read the winner");
                return (None, false);
            }
        };
        let r = inner
            .retry
            .run("notifier.stored_client_backup_share", |_| {
                inner.notifier.stored_client_backup_share(user, m, winner, true)
            })
            .instrument(info_span!("notifier.ack", success = true, reacknowledged = %winner))
            .await;
        match r {
            Ok(()) => {
                tracing::info!(winner = %winner, "lost the commit race; acknowledged the winner again");
                (Some(winner), true)
            }
            Err(e) => {
                tracing::warn!(kind = e.kind().name(), error = %e, "lost the commit race; could not acknowledge the winner again");
                (Some(winner), false)
            }
        }
    }

    /// Tells the notifier `success = false`, once, best effort.
    async fn notify_failure(&self, user: &UserId, m: &MethodId, backup_id: BackupId) {
        let r = self
            .inner
            .notifier
            .stored_client_backup_share(user, m, backup_id, false)
            .instrument(info_span!("notifier.ack", success = false))
            .await;
        if let Err(e) = r {
            tracing::warn!(kind = e.kind().name(), error = %e, "could not tell the notifier that the backup failed");
        }
    }

    async fn fail_before_ack(&self, e: Error, user: &UserId, m: &MethodId, backup_id: BackupId) -> Error {
        tracing::warn!(kind = e.kind().name(), error = %e, "backup failed before the acknowledgement");
        self.notify_failure(user, m, backup_id).await;
        e
    }

    async fn prune_versions(
        &self,
        provider: &dyn BackupProvider,
        call: &Call<'_>,
        m: &MethodId,
        keep: BackupId,
        superseded: Option<BackupId>,
    ) -> Result<PruneReport> {
        let inner = &*self.inner;
        let user = call.user;
        let mut report = PruneReport::default();
        let versions = inner.store.versions(user, m).instrument(info_span!("store.versions")).await?;
        let now = SystemTime::now();
        for v in versions {
            if v.backup_id == keep || v.state == crate::VersionState::Current {
                continue;
            }
            let old_enough =
                v.staged_at.is_some_and(|at| now.duration_since(at).is_ok_and(|age| age >= inner.prune_grace));
            if Some(v.backup_id) != superseded && !old_enough {
                report.kept.push(v.backup_id);
                continue;
            }
            match self.prune_one(provider, call, m, v.backup_id).await {
                Ok(()) => report.removed.push(v.backup_id),
                Err(e) => {
                    tracing::warn!(backup_id = %v.backup_id, kind = e.kind().name(), error = %e, "prune: could not remove a superseded version");
                    report.failed.push(v.backup_id);
                }
            }
        }
        Ok(report)
    }

    /// Prunes after a commit: a failure is logged and counted, never returned.
    async fn prune_after_commit(
        &self,
        provider: &dyn BackupProvider,
        call: &Call<'_>,
        m: &MethodId,
        keep: BackupId,
        superseded: Option<BackupId>,
    ) -> PruneReport {
        // A first backup supersedes nothing: leftovers of failed attempts wait
        // for the next backup (saves a listing per first backup).
        if !self.inner.prune || superseded.is_none() {
            return PruneReport::default();
        }
        match self.prune_versions(provider, call, m, keep, superseded).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(kind = e.kind().name(), error = %e, "prune: could not list versions");
                PruneReport { failed: superseded.into_iter().collect(), ..PruneReport::default() }
            }
        }
    }

    async fn prune_one(
        &self,
        provider: &dyn BackupProvider,
        call: &Call<'_>,
        m: &MethodId,
        id: BackupId,
    ) -> Result<()> {
        let inner = &*self.inner;
        let user = call.user;
        let text = match inner.store.get(user, m, id).await {
            Ok(t) => Some(t),
            Err(e) if e.kind() == &ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        // The key goes first: once the envelope is gone, nothing finds the key.
        if let Some(env) = text.as_deref().and_then(|t| Envelope::parse(t).ok()) {
            if env.method() == m {
                match provider
                    .delete_key(env.key_header(), &call.context(id))
                    .instrument(info_span!("provider.delete_key", backup_id = %id))
                    .await
                {
                    Ok(()) => {}
                    Err(e) if e.kind() == &ErrorKind::Unsupported => {}
                    Err(e) => return Err(with_method(e, m)),
                }
            }
        }
        inner.store.remove(user, m, id).instrument(info_span!("store.remove", backup_id = %id)).await
    }

    /// Recovers a share: the current envelope, the provider's key, the share.
    ///
    /// # Errors
    /// `NotFound` when the user has no backup of the method;
    /// `InvalidEnvelope`, `Integrity` or `WrongSecret` from the envelope and
    /// the provider; the store's error.
    pub async fn recover(&self, req: RecoverRequest) -> Result<Recovered> {
        let RecoverRequest { user, method, configs, custodian, client, progress } = req;
        let _finish = FinishOnDrop(progress.clone());
        let call = Call { user: &user, configs, custodian, client, progress: progress.clone() };
        let span = info_span!("share_backup.recover", user = %user, method = field::Empty, backup_id = field::Empty);
        let r = self.run_recover(&call, method.as_ref()).instrument(span).await;
        progress.finish(r.is_ok());
        r
    }

    async fn pick_method(&self, user: &UserId) -> Result<MethodId> {
        let methods = self.methods(user).await?;
        match methods.as_slice() {
            [] => Err(Error::not_found(format!("user {user} has no backup")).with_hint("make a backup first")),
            [only] => Ok(only.clone()),
            several => {
                if let Some(m) = self.inner.registry.default_chain().iter().find(|m| several.contains(m)) {
                    return Ok(m.clone());
                }
                Err(Error::invalid_input(format!(
                    "user {user} has backups of several methods [{}]; say which one to recover",
                    several.iter().map(MethodId::as_str).collect::<Vec<_>>().join(", ")
                )))
            }
        }
    }

    async fn run_recover(&self, call: &Call<'_>, method: Option<&MethodId>) -> Result<Recovered> {
        let user = call.user;
        call.progress.report(Status::Reading);
        let m = match method {
            Some(m) => m.clone(),
            None => self.pick_method(user).await?,
        };
        tracing::Span::current().record("method", field::display(&m));
        let provider = self.inner.registry.resolve(Some(&m))?;
        let (env, backup_id) = self.current_envelope(user, &m, &call.progress).await?;
        tracing::Span::current().record("backup_id", field::display(backup_id));
        let ctx = call.context(backup_id);
        let share = provider.open_envelope(&env, &ctx).instrument(info_span!("provider.open_key")).await?;
        tracing::info!("share recovered");
        Ok(Recovered { share, method: m, backup_id })
    }

    async fn current_envelope(
        &self,
        user: &UserId,
        m: &MethodId,
        progress: &ProgressSink,
    ) -> Result<(Envelope, BackupId)> {
        let cur = self.read_current(user, m).await?.ok_or_else(|| {
            Error::not_found(format!("user {user} has no backup of method {m}"))
                .with_method(m.clone())
                .with_hint("make a backup with this method first, or pick a method the user has")
        })?;
        progress.report(Status::Parsing);
        let env = Envelope::parse(&cur.envelope).map_err(|e| with_method(e, m))?;
        if env.method() != m || env.backup_id() != cur.backup_id {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "the store's current version {} of method {m} holds an envelope of method {} and backup {}",
                    cur.backup_id,
                    env.method(),
                    env.backup_id()
                ),
            )
            .with_method(m.clone()));
        }
        Ok((env, cur.backup_id))
    }

    /// The methods for which `user` has an acknowledged, current backup, sorted.
    ///
    /// # Errors
    /// The store's error.
    pub async fn methods(&self, user: &UserId) -> Result<Vec<MethodId>> {
        let inner = &*self.inner;
        inner.retry.run("store.methods", |_| inner.store.methods(user)).instrument(info_span!("store.methods")).await
    }

    /// A health check that needs no user secret: the current envelope is
    /// there and well-formed, and, for providers whose key does not come
    /// from the user's secret, the provider still has the key and it opens
    /// the envelope.
    ///
    /// # Errors
    /// `NotFound` when there is no current backup or the provider's key is
    /// gone; `InvalidEnvelope` or `Integrity` for a damaged envelope; the
    /// provider's error (e.g. `Unauthenticated` without a valid token).
    pub async fn verify(&self, req: VerifyRequest) -> Result<HealthReport> {
        let VerifyRequest { user, method, configs, custodian, client, progress } = req;
        let _finish = FinishOnDrop(progress.clone());
        let call = Call { user: &user, configs, custodian, client, progress: progress.clone() };
        let span = info_span!("share_backup.verify", user = %user, method = %method);
        let r = self.run_verify(&call, &method).instrument(span).await;
        progress.finish(r.is_ok());
        r
    }

    async fn run_verify(&self, call: &Call<'_>, m: &MethodId) -> Result<HealthReport> {
        let user = call.user;
        call.progress.report(Status::Reading);
        let provider = self.inner.registry.resolve(Some(m))?;
        let (env, backup_id) = self.current_envelope(user, m, &call.progress).await?;
        let key = if provider.capabilities().needs_user_secret {
            KeyCheck::NotChecked("the key is derived from the user's secret; only a recovery can check it")
        } else {
            let ctx = call.context(backup_id);
            let key = provider
                .open_key(env.key_header(), &ctx)
                .instrument(info_span!("provider.open_key", purpose = "verify"))
                .await
                .map_err(|e| with_method(e, m))?;
            call.progress.report(Status::Decrypting);
            env.open(&key, &ctx.binding())?;
            KeyCheck::Opens
        };
        let others = self.inner.store.versions(user, m).await?;
        Ok(HealthReport {
            method: m.clone(),
            backup_id,
            envelope_len: env.encode().len(),
            share_len: env.share_len(),
            key,
            other_versions: others.into_iter().map(|v| v.backup_id).filter(|id| *id != backup_id).collect(),
        })
    }

    /// Re-wraps the current share of a method under new configs (a new
    /// password, a new Drive key), through the whole backup protocol. The
    /// old backup stays current until the new one is acknowledged and
    /// committed, so a rotation that fails half-way loses nothing.
    ///
    /// # Errors
    /// As [`Self::recover`] with the old configs, then as [`Self::backup`].
    pub async fn rotate(&self, req: RotateRequest) -> Result<Receipt> {
        let RotateRequest { user, method, configs, new_configs, custodian, client, progress } = req;
        let _finish = FinishOnDrop(progress.clone());
        let _guard = self.lock_user(&user, "rotation")?;
        let span = info_span!("share_backup.rotate", user = %user, method = %method, backup_id = field::Empty);
        let r = async {
            let old = Call {
                user: &user,
                configs,
                custodian: custodian.clone(),
                client: client.clone(),
                progress: progress.clone(),
            };
            let recovered = self.run_recover(&old, Some(&method)).await?;
            let new = Call { user: &user, configs: new_configs, custodian, client, progress: progress.clone() };
            self.run_backup(&new, Some(&method), recovered.share()).await
        }
        .instrument(span)
        .await;
        progress.finish(r.is_ok());
        r
    }

    /// Finishes a backup that was staged and acknowledged but not made
    /// current (see [`IncompleteBackup`]): acknowledges it again, commits it
    /// over the version that is current now, then prunes.
    ///
    /// # Errors
    /// `NotFound` when the version is not staged; `InvalidEnvelope` when it
    /// does not parse; the notifier's or the store's error.
    pub async fn commit_staged(
        &self,
        user: &UserId,
        method: &MethodId,
        backup_id: BackupId,
        configs: Configs,
    ) -> Result<Receipt> {
        let _guard = self.lock_user(user, "commit")?;
        let span = info_span!("share_backup.commit_staged", user = %user, method = %method, backup_id = %backup_id);
        async {
            let inner = &*self.inner;
            let provider = inner.registry.resolve(Some(method))?;
            let mut t = StepTimings::default();
            let t0 = Instant::now();
            let text = inner.retry.run("store.get", |_| inner.store.get(user, method, backup_id)).await?;
            let env = Envelope::parse(&text).map_err(|e| with_method(e, method))?;
            if env.method() != method || env.backup_id() != backup_id {
                return Err(Error::new(ErrorKind::Integrity, "the staged envelope names another method or backup id")
                    .with_method(method.clone()));
            }
            let previous = self.read_current_id(user, method).await?;
            elapsed(&mut t, Step::Resolve, t0);
            if previous != Some(backup_id) {
                let t0 = Instant::now();
                inner
                    .retry
                    .run("notifier.stored_client_backup_share", |_| {
                        inner.notifier.stored_client_backup_share(user, method, backup_id, true)
                    })
                    .await?;
                elapsed(&mut t, Step::Acknowledge, t0);
                let t0 = Instant::now();
                if let Err(e) = self.commit(user, method, backup_id, previous).await {
                    if e.kind() == &ErrorKind::Conflict {
                        let (winner, reacked) = self.reacknowledge_winner(user, method, backup_id).await;
                        return Err(lost_race(e, method, backup_id, winner, reacked));
                    }
                    return Err(e);
                }
                elapsed(&mut t, Step::Commit, t0);
            }
            let call = Call { user, configs, custodian: None, client: None, progress: ProgressSink::none() };
            let t0 = Instant::now();
            let report = self.prune_after_commit(&*provider, &call, method, backup_id, previous).await;
            elapsed(&mut t, Step::Prune, t0);
            Ok(Receipt {
                method: method.clone(),
                backup_id,
                envelope: text,
                previous: previous.filter(|p| *p != backup_id),
                pruned: report.removed,
                prune_failures: report.failed.len(),
                timings: t,
            })
        }
        .instrument(span)
        .await
    }

    /// Removes the versions of (user, method) that are not current and are
    /// older than the prune grace period, deleting their keys first. A
    /// backup does this by itself; call it to clean up after failures.
    ///
    /// # Errors
    /// `InProgress` when a backup of the user runs; the store's error when
    /// the versions cannot be listed.
    pub async fn prune(&self, user: &UserId, method: &MethodId, configs: Configs) -> Result<PruneReport> {
        let _guard = self.lock_user(user, "prune")?;
        let provider = self.inner.registry.resolve(Some(method))?;
        let Some(current) = self.read_current_id(user, method).await? else {
            return Ok(PruneReport::default());
        };
        let call = Call { user, configs, custodian: None, client: None, progress: ProgressSink::none() };
        self.prune_versions(&*provider, &call, method, current, None)
            .instrument(info_span!("share_backup.prune", user = %user, method = %method))
            .await
    }
}
