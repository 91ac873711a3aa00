//! The store-then-notify protocol.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use share_backup_core::{
    BackupId, BackupProvider, BackupProviderExt, BackupShare, Configs, Context, Envelope, Error, ErrorKind,
    ExposeSecret, MethodId, ProgressSink, Registry, Result, Status, UserId,
};
use tracing::{Instrument, field, info_span};

use crate::request::{
    BackupRequest, HealthReport, IncompleteBackup, KeyCheck, PruneReport, Receipt, RecoverRequest, Recovered,
    RotateRequest, Step, StepTimings, VerifyRequest,
};
use crate::retry::{DEFAULT_CALL_TIMEOUT, DEFAULT_RETRY, Retry};
use crate::store::{Acknowledgement, CipherTextStore, CurrentVersion, Namespace, Notifier};
use share_backup_core::RetryPolicy;

/// The default [`OrchestratorBuilder::prune_grace`]: 15 minutes.
pub const DEFAULT_PRUNE_GRACE: Duration = Duration::from_secs(15 * 60);

/// The smallest [`OrchestratorBuilder::prune_grace`] the builder accepts:
/// 1 minute. A staged version younger than this may belong to a backup
/// that is still between its stage and its commit in another process.
pub const MIN_PRUNE_GRACE: Duration = Duration::from_secs(60);

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
    busy: Mutex<HashSet<Namespace>>,
    /// How old a pending acknowledgement of another process must be before
    /// a backup takes it over: the prune grace, or longer when a writer can
    /// take longer than that between its record and its commit.
    takeover_after: Duration,
    /// Backups of this process whose record may be pending (see
    /// `note_left_pending`).
    left_pending: Mutex<HashSet<BackupId>>,
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
    /// process may still be finishing them (default: [`DEFAULT_PRUNE_GRACE`];
    /// at least [`MIN_PRUNE_GRACE`], checked by [`build`](Self::build)).
    pub fn prune_grace(mut self, grace: Duration) -> Self {
        self.prune_grace = Some(grace);
        self
    }

    /// Builds the orchestrator.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] without a store or a notifier, or with a
    /// prune grace below [`MIN_PRUNE_GRACE`]; the registry's error when none
    /// is given and [`Registry::linked`] fails.
    pub fn build(self) -> Result<Orchestrator> {
        let prune_grace = self.prune_grace.unwrap_or(DEFAULT_PRUNE_GRACE);
        if prune_grace < MIN_PRUNE_GRACE {
            return Err(Error::invalid_input(format!(
                "a prune grace of {prune_grace:?} is below the minimum of {MIN_PRUNE_GRACE:?}: a backup still running in another process could lose its staged version"
            ))
            .with_hint("use at least MIN_PRUNE_GRACE (the default is 15 minutes)"));
        }
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
        let policy = self.retry.unwrap_or(DEFAULT_RETRY);
        let call_timeout = self.call_timeout.unwrap_or(Some(DEFAULT_CALL_TIMEOUT));
        // The longest a writer can spend between its record and its commit:
        // every attempt of the `true` and of the commit, and the delays.
        let delays = policy.max_total_delay().unwrap_or(policy.max_delay() * policy.max_retries());
        let window = call_timeout.map(|t| (t * policy.attempts() + delays) * 2);
        let takeover_after = window.map_or(prune_grace, |w| w.max(prune_grace));
        Ok(Orchestrator {
            inner: Arc::new(Inner {
                registry,
                store,
                notifier,
                retry: Retry { policy, call_timeout },
                prune: self.prune.unwrap_or(true),
                prune_grace,
                read_back: self.read_back.unwrap_or(true),
                busy: Mutex::new(HashSet::new()),
                takeover_after,
                left_pending: Mutex::new(HashSet::new()),
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

/// Marks a namespace busy for as long as it lives.
struct UserGuard<'a> {
    busy: &'a Mutex<HashSet<Namespace>>,
    ns: Namespace,
}

impl Drop for UserGuard<'_> {
    fn drop(&mut self) {
        self.busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.ns);
    }
}

/// The identity and configs one operation runs with.
struct Call<'a> {
    ns: &'a Namespace,
    configs: Configs,
    progress: ProgressSink,
}

impl Call<'_> {
    fn context(&self, backup_id: BackupId) -> Context {
        context(self.ns, backup_id, self.configs.clone(), self.progress.clone())
    }
}

/// A provider context bound to the whole namespace (user, custodian, client).
fn context(ns: &Namespace, backup_id: BackupId, configs: Configs, progress: ProgressSink) -> Context {
    let mut ctx = Context::new(ns.user().clone(), backup_id).with_configs(configs).with_progress(progress);
    if let Some(c) = ns.custodian() {
        ctx = ctx.with_custodian(c.clone());
    }
    if let Some(c) = ns.client() {
        ctx = ctx.with_client(c.clone());
    }
    ctx
}

/// Whether an error of the notifier proves that the call did not land (the
/// service refused it), as opposed to a timeout or an outage, after which
/// the `true` may still have reached the wallet service.
fn refused_for_sure(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::InvalidInput
            | ErrorKind::PermissionDenied
            | ErrorKind::Unauthenticated
            | ErrorKind::NotFound
            | ErrorKind::Unsupported
    )
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

/// What a backup whose acknowledgement record was refused found over its
/// previous version.
enum Pending {
    /// The record there is withdrawn (or ours): record again.
    Retry,
    /// It was an acknowledged version left uncommitted (its record older
    /// than the prune grace: abandoned), now current.
    RolledForward(BackupId),
    /// A younger pending record: a backup that may still be running in
    /// another process, between its record and its commit.
    InFlight(BackupId),
    /// Another writer's version became current first (the current one).
    Lost(Option<BackupId>),
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

    fn lock_user(&self, ns: &Namespace, what: &str) -> Result<UserGuard<'_>> {
        let mut busy = self.inner.busy.lock().unwrap_or_else(|e| e.into_inner());
        if !busy.insert(ns.clone()) {
            return Err(Error::new(
                ErrorKind::InProgress,
                format!(
                    "a backup or rotation of user {ns} is already running in this process; this {what} was not started"
                ),
            ));
        }
        Ok(UserGuard { busy: &self.inner.busy, ns: ns.clone() })
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
        let ns = Namespace::new(user.clone()).with_ids(custodian, client);
        let _guard = self.lock_user(&ns, "backup")?;
        progress.report(Status::Reading);
        let call = Call { ns: &ns, configs, progress: progress.clone() };
        let span = info_span!("share_backup.backup", user = %user, method = field::Empty, backup_id = field::Empty);
        let r = self.run_backup(&call, method.as_ref(), &share).instrument(span).await;
        progress.finish(r.is_ok());
        r
    }

    async fn run_backup(&self, call: &Call<'_>, method: Option<&MethodId>, share: &BackupShare) -> Result<Receipt> {
        let inner = &*self.inner;
        let ns = call.ns;
        let user = ns.user();
        let mut t = StepTimings::default();
        let backup_id = BackupId::generate()?;
        tracing::Span::current().record("backup_id", field::display(backup_id));

        // 1. Resolve the provider and read the current version (rolling an
        //    acknowledged but uncommitted one forward first).
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
        // The current version only: an acknowledged version left uncommitted
        // over it shows up at step 6, where this backup's own record is
        // refused, and is rolled forward there (one request less per backup).
        let mut previous = match self.read_current_id(ns, &m).await {
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
        if let Err(e) = self.stage(ns, &m, backup_id, &text).await {
            return Err(self.fail_before_ack(e, user, &m, backup_id).await);
        }
        elapsed(&mut t, Step::Stage, t0);

        // 6. Acknowledge, after recording the acknowledgement in the store:
        //    the record is create-only over `previous`, so of two writers
        //    racing over the same current version only one tells `true`.
        let t0 = Instant::now();
        call.progress.report(Status::Acknowledging);
        let mut record = Acknowledgement::new(backup_id, previous);
        let mut attempts = 0;
        loop {
            attempts += 1;
            // From here on the record may land: should this backup stop
            // before its commit, a retry in this process takes it over at once.
            self.note_left_pending(backup_id, true);
            let e = match self.record_ack(ns, &m, record).await {
                Ok(()) => break,
                Err(e) => e,
            };
            if e.kind() != &ErrorKind::Conflict {
                // Nothing was told yet. Should the record have landed anyway,
                // the next touch commits this verified backup and tells
                // `true` again, so the wallet service's last word still matches.
                let e = self.fail_before_ack(e, user, &m, backup_id).await;
                return Err(incomplete(e, &m, backup_id, false, previous));
            }
            self.note_left_pending(backup_id, false);
            // Another version is acknowledged over `previous`: its writer may
            // have told `true`, so from here on this backup never tells
            // `false`. If that version was abandoned, roll it forward and back
            // up over it; otherwise this one lost.
            let lost = |now: Option<BackupId>, message: String, retryable: bool, cause: Error| {
                let e = Error::new(ErrorKind::Conflict, message).with_retryable(retryable).with_source(cause);
                incomplete(e, &m, backup_id, false, now)
            };
            match self.take_over_pending(ns, &m, previous, backup_id).await {
                Ok(Pending::Retry | Pending::RolledForward(_)) if attempts >= 4 => {
                    return Err(lost(
                        previous,
                        format!("the acknowledgements of user {ns} kept moving while this backup ran; retry it"),
                        true,
                        e,
                    ));
                }
                Ok(Pending::Retry) => {}
                Ok(Pending::RolledForward(rolled)) => {
                    previous = Some(rolled);
                    record = Acknowledgement::new(backup_id, previous);
                }
                Ok(Pending::InFlight(other)) => {
                    return Err(lost(
                        previous,
                        format!(
                            "another backup ({other}) of user {ns} was acknowledged over the same version moments ago \
                             and is being made current by another process; retry in a few seconds (should it have \
                             been abandoned, the next recovery makes it current)"
                        ),
                        true,
                        e,
                    ));
                }
                Ok(Pending::Lost(now)) => {
                    return Err(lost(
                        now,
                        format!(
                            "another backup ({}) of user {ns} was acknowledged while this one ran",
                            now.map_or_else(|| "none".to_owned(), |id| id.to_string())
                        ),
                        false,
                        e,
                    ));
                }
                Err(read) => {
                    tracing::warn!(kind = read.kind().name(), error = %read, "could not read the acknowledgement in the way");
                    return Err(incomplete(read, &m, backup_id, false, previous));
                }
            }
        }
        let uncertain = AtomicU32::new(0);
        let ack = inner
            .retry
            .run("notifier.stored_client_backup_share", |_| {
                let (uncertain, m) = (&uncertain, &m);
                async move {
                    uncertain.fetch_add(1, Ordering::SeqCst);
                    let r = inner.notifier.stored_client_backup_share(user, m, backup_id, true).await;
                    if r.as_ref().is_err_and(refused_for_sure) {
                        uncertain.fetch_sub(1, Ordering::SeqCst);
                    }
                    r
                }
            })
            .instrument(info_span!("notifier.ack", success = true))
            .await;
        if let Err(e) = ack {
            let e = with_method(e, &m);
            if uncertain.load(Ordering::SeqCst) > 0 {
                // A `true` may have landed (a timeout, an outage): never send
                // `false` after it. The recorded acknowledgement makes the
                // next touch of this user and method commit the version.
                tracing::warn!(kind = e.kind().name(), error = %e, "the acknowledgement's fate is unknown; the version rolls forward on the next touch");
                return Err(incomplete(e, &m, backup_id, true, previous));
            }
            let e = self.withdraw(ns, &m, record, e).await;
            return Err(incomplete(e, &m, backup_id, false, previous));
        }
        elapsed(&mut t, Step::Acknowledge, t0);

        // 7. Commit: make it current if the previous one still is.
        let t0 = Instant::now();
        if let Err(e) = self.commit(ns, &m, backup_id, previous).await {
            // The commit may have landed before the error (a timeout), or
            // another process may have rolled this acknowledged version
            // forward (a `Conflict`): then it is done.
            let landed = matches!(self.read_current_id(ns, &m).await, Ok(Some(id)) if id == backup_id);
            if landed {
                tracing::info!(kind = e.kind().name(), "the commit reported an error but is in place");
            } else if e.kind() == &ErrorKind::Conflict {
                // Another version became current over `previous` although
                // this one holds the acknowledgement over it (a
                // `commit_staged` elsewhere; a prune that retired it). Its
                // `true` may have reached the wallet service before ours: say
                // it again, so that the last word names the current version.
                let (winner, reacked) = self.reacknowledge_winner(ns, &m, record).await;
                return Err(lost_race(e, &m, backup_id, winner, reacked));
            } else {
                // The store failed, not a race. The wallet service was told
                // `true` and is never contradicted: the recorded
                // acknowledgement makes the next touch commit this version.
                return Err(incomplete(e, &m, backup_id, true, previous));
            }
        }
        elapsed(&mut t, Step::Commit, t0);
        self.note_left_pending(backup_id, false);
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

    /// After the notifier refused the `true` for sure: marks the
    /// acknowledgement record withdrawn (so that nothing rolls the version
    /// forward; best effort), then tells the notifier `false`.
    async fn withdraw(&self, ns: &Namespace, m: &MethodId, record: Acknowledgement, e: Error) -> Error {
        if let Err(w) = self.record_ack(ns, m, record.withdrawn()).await {
            tracing::warn!(kind = w.kind().name(), error = %w, "could not mark the acknowledgement record withdrawn");
        }
        // Should another process have rolled this version forward meanwhile
        // (it took this backup longer than the prune grace), it is current
        // and was told `true` by that process: no `false` after it.
        let made_current = matches!(self.read_current_id(ns, m).await, Ok(Some(id)) if id == record.backup_id)
            || matches!(self.read_ack(ns, m, Some(record.backup_id)).await, Ok(Some(_)));
        if made_current {
            tracing::warn!("the refused version was made current by another process; not telling false");
            return e;
        }
        self.fail_before_ack(e, ns.user(), m, record.backup_id).await
    }

    async fn record_ack(&self, ns: &Namespace, m: &MethodId, record: Acknowledgement) -> Result<()> {
        let inner = &*self.inner;
        inner
            .retry
            .run("store.record_acknowledgement", |_| async move {
                // Another version's record is in the way: asking again changes nothing.
                inner
                    .store
                    .record_acknowledgement(ns, m, record)
                    .await
                    .map_err(|e| if e.kind() == &ErrorKind::Conflict { e.with_retryable(false) } else { e })
            })
            .instrument(info_span!("store.record_acknowledgement", withdrawn = record.withdrawn))
            .await
    }

    async fn read_ack(&self, ns: &Namespace, m: &MethodId, over: Option<BackupId>) -> Result<Option<Acknowledgement>> {
        let inner = &*self.inner;
        inner
            .retry
            .run("store.acknowledgement", |_| inner.store.acknowledgement(ns, m, over))
            .instrument(info_span!("store.acknowledgement"))
            .await
    }

    /// The current version's id, after rolling an acknowledged but
    /// uncommitted version forward: the current id, then the latest
    /// acknowledgement record over it.
    async fn settled_current_id(&self, ns: &Namespace, m: &MethodId) -> Result<Option<BackupId>> {
        let current = self.read_current_id(ns, m).await?;
        let ack = self.read_ack(ns, m, current).await?;
        self.roll_forward(ns, m, ack, current).await
    }

    /// Commits the version of an acknowledgement record that was never made
    /// current (a crash or a store outage between the acknowledgement and
    /// the commit), then tells the wallet service `true` again (best
    /// effort). Returns the version current afterwards.
    async fn roll_forward(
        &self,
        ns: &Namespace,
        m: &MethodId,
        ack: Option<Acknowledgement>,
        current: Option<BackupId>,
    ) -> Result<Option<BackupId>> {
        let Some(a) = ack.filter(|a| a.rolls_forward_over(current)) else { return Ok(current) };
        let span = info_span!("share_backup.roll_forward", backup_id = %a.backup_id);
        async {
            match self.commit(ns, m, a.backup_id, current).await {
                Ok(()) => {
                    tracing::info!("an acknowledged version was made current");
                    self.acknowledge_again(ns, m, a.backup_id).await;
                    Ok(Some(a.backup_id))
                }
                Err(e) if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::NotFound) => {
                    // Already current (another process rolled it forward), or
                    // retired or removed by a prune, or beaten by a later
                    // commit: the wallet service's last word may name it, so
                    // acknowledge the current version again.
                    if let Ok(Some(now)) = self.read_current_id(ns, m).await
                        && now == a.backup_id
                    {
                        return Ok(Some(now));
                    }
                    tracing::warn!(kind = e.kind().name(), error = %e, "could not roll an acknowledged version forward");
                    let (winner, _) = self.reacknowledge_winner(ns, m, a).await;
                    match winner {
                        Some(w) => Ok(Some(w)),
                        None => self.read_current_id(ns, m).await,
                    }
                }
                Err(e) => Err(e),
            }
        }
        .instrument(span)
        .await
    }

    /// Tells the wallet service `true` again for a version this process
    /// made current on another's behalf (with retries; best effort).
    async fn acknowledge_again(&self, ns: &Namespace, m: &MethodId, id: BackupId) {
        let inner = &*self.inner;
        let r = inner
            .retry
            .run("notifier.stored_client_backup_share", |_| {
                inner.notifier.stored_client_backup_share(ns.user(), m, id, true)
            })
            .instrument(info_span!("notifier.ack", success = true, reacknowledged = %id))
            .await;
        if let Err(e) = r {
            tracing::warn!(kind = e.kind().name(), error = %e, "rolled forward; could not acknowledge again");
        }
    }

    /// Remembers (or forgets) a backup of this process whose
    /// acknowledgement record may be in the store without its commit.
    /// Bounded: when full it is emptied, which only makes a retry wait for
    /// the take-over time.
    fn note_left_pending(&self, id: BackupId, pending: bool) {
        let mut set = self.inner.left_pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending {
            if set.len() >= 4096 {
                set.clear();
            }
            set.insert(id);
        } else {
            set.remove(&id);
        }
    }

    /// After `mine`'s acknowledgement over `over` was refused because
    /// another version's is recorded there. A record older than the prune
    /// grace is abandoned (its writer crashed or gave up between its record
    /// and its commit): with `take_over`, this process commits it, tells
    /// `true` for it again, and the caller backs up over it. A younger one
    /// may belong to a backup still running elsewhere, which must not be
    /// overtaken (it could yet tell `false`, or have its version pruned
    /// under a late `true`).
    async fn take_over_pending(
        &self,
        ns: &Namespace,
        m: &MethodId,
        over: Option<BackupId>,
        mine: BackupId,
    ) -> Result<Pending> {
        let Some(a) = self.read_ack(ns, m, over).await? else { return Ok(Pending::Retry) };
        if a.withdrawn || a.backup_id == mine {
            // Withdrawn since the refusal (or it is our own): record again.
            return Ok(Pending::Retry);
        }
        // Already current (its writer committed it, or another process rolled
        // it forward), or the current version moved on: this backup lost.
        let now = self.read_current_id(ns, m).await?;
        if now != over {
            return Ok(Pending::Lost(now));
        }
        // Abandoned: left by a backup of this process (the in-process guard
        // lets no other backup of the namespace run here), or older than any
        // running writer can take between its record and its commit.
        let left_here = self.inner.left_pending.lock().unwrap_or_else(|p| p.into_inner()).contains(&a.backup_id);
        let old = a
            .recorded_at
            .is_some_and(|at| SystemTime::now().duration_since(at).is_ok_and(|age| age >= self.inner.takeover_after));
        if !left_here && !old {
            return Ok(Pending::InFlight(a.backup_id));
        }
        match self.commit(ns, m, a.backup_id, over).await {
            Ok(()) => {
                self.note_left_pending(a.backup_id, false);
                tracing::info!(backup_id = %a.backup_id, "rolled forward an abandoned acknowledged version");
                self.acknowledge_again(ns, m, a.backup_id).await;
                Ok(Pending::RolledForward(a.backup_id))
            }
            Err(e) if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::NotFound) => {
                let now = self.read_current_id(ns, m).await?;
                if now == over {
                    // It can never become current (a prune retired or removed
                    // it): withdraw its record and name the current version
                    // again, then this backup records its own.
                    tracing::warn!(backup_id = %a.backup_id, kind = e.kind().name(), "an abandoned acknowledged version can no longer be committed");
                    self.reacknowledge_winner(ns, m, a).await;
                    self.note_left_pending(a.backup_id, false);
                    return Ok(Pending::Retry);
                }
                // Another writer made it (or something else) current first.
                Ok(Pending::Lost(now.or(Some(a.backup_id))))
            }
            Err(e) => Err(e),
        }
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

    async fn read_current(&self, ns: &Namespace, m: &MethodId) -> Result<Option<CurrentVersion>> {
        let inner = &*self.inner;
        inner.retry.run("store.current", |_| inner.store.current(ns, m)).instrument(info_span!("store.current")).await
    }

    /// The current version's id only: the writer's read before a commit.
    async fn read_current_id(&self, ns: &Namespace, m: &MethodId) -> Result<Option<BackupId>> {
        let inner = &*self.inner;
        inner
            .retry
            .run("store.current_id", |_| inner.store.current_id(ns, m))
            .instrument(info_span!("store.current_id"))
            .await
    }

    async fn stage(&self, ns: &Namespace, m: &MethodId, backup_id: BackupId, text: &str) -> Result<()> {
        let inner = &*self.inner;
        inner
            .retry
            .run("store.stage", |attempt| async move {
                match inner.store.stage(ns, m, backup_id, text).await {
                    Err(e) if e.kind() == &ErrorKind::Conflict => {
                        // An earlier attempt may have written it before failing.
                        if attempt > 1 && inner.store.get(ns, m, backup_id).await.is_ok_and(|s| s == text) {
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

    async fn commit(&self, ns: &Namespace, m: &MethodId, id: BackupId, expected: Option<BackupId>) -> Result<()> {
        let inner = &*self.inner;
        inner
            .retry
            .run("store.commit", |attempt| async move {
                match inner.store.commit(ns, m, id, expected).await {
                    Err(e) if e.kind() == &ErrorKind::Conflict => {
                        // An earlier attempt may have committed before failing.
                        if attempt > 1 && inner.store.current_id(ns, m).await.is_ok_and(|c| c == Some(id)) {
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

    /// After `lost` was acknowledged and lost the commit: marks its record
    /// withdrawn (so that nothing rolls it forward, should the version it
    /// was made over become current again), reads the current version and
    /// acknowledges it again (with retries; idempotent for the notifier).
    /// Returns the current version and whether it was told.
    async fn reacknowledge_winner(
        &self,
        ns: &Namespace,
        m: &MethodId,
        lost: Acknowledgement,
    ) -> (Option<BackupId>, bool) {
        let inner = &*self.inner;
        if let Err(e) = self.record_ack(ns, m, lost.withdrawn()).await {
            tracing::warn!(kind = e.kind().name(), error = %e, "lost the commit race; could not withdraw the acknowledgement record");
        }
        let winner = match self.read_current_id(ns, m).await {
            Ok(Some(w)) if w != lost.backup_id => w,
            Ok(other) => return (other, false),
            Err(e) => {
                tracing::warn!(kind = e.kind().name(), error = %e, "lost the commit race; could not read the winner");
                return (None, false);
            }
        };
        let r = inner
            .retry
            .run("notifier.stored_client_backup_share", |_| {
                inner.notifier.stored_client_backup_share(ns.user(), m, winner, true)
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
        let ns = call.ns;
        let mut report = PruneReport::default();
        let (versions, ack) = tokio::join!(
            inner.store.versions(ns, m).instrument(info_span!("store.versions")),
            self.read_ack(ns, m, Some(keep))
        );
        let (versions, ack) = (versions?, ack?);
        // A version acknowledged over the current one (a backup in flight,
        // or one left uncommitted) is never pruned: it is the one the next
        // touch makes current.
        let protected = ack.filter(|a| !a.withdrawn).map(|a| a.backup_id);
        let now = SystemTime::now();
        for v in versions {
            if v.backup_id == keep || v.state == crate::VersionState::Current {
                continue;
            }
            if Some(v.backup_id) == protected {
                report.kept.push(v.backup_id);
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

    /// Retires the version (after which no process can make it current),
    /// then deletes its provider key, then its envelope. A crash anywhere
    /// leaves at worst a retired version whose key may be gone: never a
    /// current (or still committable) version without its key. A retired
    /// leftover is finished by the next prune.
    async fn prune_one(
        &self,
        provider: &dyn BackupProvider,
        call: &Call<'_>,
        m: &MethodId,
        id: BackupId,
    ) -> Result<()> {
        let inner = &*self.inner;
        let ns = call.ns;
        let text = match inner.store.get(ns, m, id).await {
            Ok(t) => Some(t),
            Err(e) if e.kind() == &ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        inner.store.retire(ns, m, id).instrument(info_span!("store.retire", backup_id = %id)).await?;
        if let Some(env) = text.as_deref().and_then(|t| Envelope::parse(t).ok()) {
            // Defence in depth: only the key this version's own envelope
            // names is deleted.
            if env.method() != m || env.backup_id() != id {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!(
                        "version {id} holds an envelope of method {} and backup {}; its key was not deleted",
                        env.method(),
                        env.backup_id()
                    ),
                )
                .with_method(m.clone())
                .with_hint("the store holds an envelope under the wrong name; inspect it before removing it"));
            }
            match provider
                .delete_key(env.key_header(), &call.context(id))
                .instrument(info_span!("provider.delete_key", backup_id = %id))
                .await
            {
                Ok(()) => {}
                Err(e) if matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::NotFound) => {}
                Err(e) => return Err(with_method(e, m)),
            }
        }
        inner.store.remove(ns, m, id).instrument(info_span!("store.remove", backup_id = %id)).await
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
        let ns = Namespace::new(user.clone()).with_ids(custodian, client);
        let call = Call { ns: &ns, configs, progress: progress.clone() };
        let span = info_span!("share_backup.recover", user = %user, method = field::Empty, backup_id = field::Empty);
        let r = self.run_recover(&call, method.as_ref()).instrument(span).await;
        progress.finish(r.is_ok());
        r
    }

    async fn pick_method(&self, ns: &Namespace) -> Result<MethodId> {
        let methods = self.methods(ns).await?;
        match methods.as_slice() {
            [] => Err(Error::not_found(format!("user {ns} has no backup")).with_hint("make a backup first")),
            [only] => Ok(only.clone()),
            several => {
                if let Some(m) = self.inner.registry.default_chain().iter().find(|m| several.contains(m)) {
                    return Ok(m.clone());
                }
                Err(Error::invalid_input(format!(
                    "user {ns} has backups of several methods [{}]; say which one to recover",
                    several.iter().map(MethodId::as_str).collect::<Vec<_>>().join(", ")
                )))
            }
        }
    }

    async fn run_recover(&self, call: &Call<'_>, method: Option<&MethodId>) -> Result<Recovered> {
        let ns = call.ns;
        call.progress.report(Status::Reading);
        let m = match method {
            Some(m) => m.clone(),
            None => self.pick_method(ns).await?,
        };
        tracing::Span::current().record("method", field::display(&m));
        let provider = self.inner.registry.resolve(Some(&m))?;
        let (env, backup_id) = self.current_envelope(ns, &m, &call.progress).await?;
        tracing::Span::current().record("backup_id", field::display(backup_id));
        let ctx = call.context(backup_id);
        let share = provider.open_envelope(&env, &ctx).instrument(info_span!("provider.open_key")).await?;
        tracing::info!("share recovered");
        Ok(Recovered { share, method: m, backup_id })
    }

    /// The current envelope, after rolling an acknowledged but uncommitted
    /// version forward (the acknowledgement record over it is read after it).
    async fn current_envelope(
        &self,
        ns: &Namespace,
        m: &MethodId,
        progress: &ProgressSink,
    ) -> Result<(Envelope, BackupId)> {
        let mut cur = self.read_current(ns, m).await?;
        let cur_id = cur.as_ref().map(|c| c.backup_id);
        let ack = self.read_ack(ns, m, cur_id).await?;
        if ack.is_some_and(|a| a.rolls_forward_over(cur_id)) {
            self.roll_forward(ns, m, ack, cur_id).await?;
            cur = self.read_current(ns, m).await?;
        }
        let cur = cur.ok_or_else(|| {
            Error::not_found(format!("user {ns} has no backup of method {m}"))
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

    /// The methods for which a namespace (a user id, or a user with a
    /// custodian and a client) has an acknowledged, current backup, sorted.
    /// A version that was acknowledged but not committed is made current
    /// first.
    ///
    /// # Errors
    /// The store's error.
    pub async fn methods(&self, ns: impl Into<Namespace>) -> Result<Vec<MethodId>> {
        let ns = ns.into();
        let inner = &*self.inner;
        let listed = inner
            .retry
            .run("store.methods", |_| inner.store.methods(&ns))
            .instrument(info_span!("store.methods"))
            .await?;
        let mut out = Vec::with_capacity(listed.len());
        for m in listed {
            if self.settled_current_id(&ns, &m).await?.is_some() {
                out.push(m);
            }
        }
        Ok(out)
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
        let ns = Namespace::new(user.clone()).with_ids(custodian, client);
        let call = Call { ns: &ns, configs, progress: progress.clone() };
        let span = info_span!("share_backup.verify", user = %user, method = %method);
        let r = self.run_verify(&call, &method).instrument(span).await;
        progress.finish(r.is_ok());
        r
    }

    async fn run_verify(&self, call: &Call<'_>, m: &MethodId) -> Result<HealthReport> {
        let ns = call.ns;
        call.progress.report(Status::Reading);
        let provider = self.inner.registry.resolve(Some(m))?;
        let (env, backup_id) = self.current_envelope(ns, m, &call.progress).await?;
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
        let others = self.inner.store.versions(ns, m).await?;
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
        let ns = Namespace::new(user.clone()).with_ids(custodian, client);
        let _guard = self.lock_user(&ns, "rotation")?;
        let span = info_span!("share_backup.rotate", user = %user, method = %method, backup_id = field::Empty);
        let r = async {
            let old = Call { ns: &ns, configs, progress: progress.clone() };
            let recovered = self.run_recover(&old, Some(&method)).await?;
            let new = Call { ns: &ns, configs: new_configs, progress: progress.clone() };
            self.run_backup(&new, Some(&method), recovered.share()).await
        }
        .instrument(span)
        .await;
        progress.finish(r.is_ok());
        r
    }

    /// Finishes a backup that was staged and acknowledged but not made
    /// current (see [`IncompleteBackup`]): records and acknowledges it
    /// again, commits it over the version that is current now, then prunes.
    /// `ns` is a user id, or a [`Namespace`] with the custodian and client
    /// the backup was made for.
    ///
    /// # Errors
    /// `NotFound` when the version is not staged; `InvalidEnvelope` when it
    /// does not parse; `Conflict` when it was retired (or retired and
    /// removed) by a prune after it was read, or another version became
    /// current first: the current version is then acknowledged again, so
    /// the wallet service's last word names it; the notifier's or the
    /// store's error.
    pub async fn commit_staged(
        &self,
        ns: impl Into<Namespace>,
        method: &MethodId,
        backup_id: BackupId,
        configs: Configs,
    ) -> Result<Receipt> {
        let ns = ns.into();
        let _guard = self.lock_user(&ns, "commit")?;
        let span = info_span!("share_backup.commit_staged", user = %ns, method = %method, backup_id = %backup_id);
        async {
            let inner = &*self.inner;
            let provider = inner.registry.resolve(Some(method))?;
            let mut t = StepTimings::default();
            let t0 = Instant::now();
            let text = inner.retry.run("store.get", |_| inner.store.get(&ns, method, backup_id)).await?;
            let env = Envelope::parse(&text).map_err(|e| with_method(e, method))?;
            if env.method() != method || env.backup_id() != backup_id {
                return Err(Error::new(ErrorKind::Integrity, "the staged envelope names another method or backup id")
                    .with_method(method.clone()));
            }
            // Another version acknowledged over the current one and left
            // uncommitted is rolled forward first; this one's own record is
            // finished below, by the same path as a backup's.
            let current = self.read_current_id(&ns, method).await?;
            let pending = self.read_ack(&ns, method, current).await?;
            let previous = if pending.is_some_and(|a| a.backup_id == backup_id) {
                current
            } else {
                self.roll_forward(&ns, method, pending, current).await?
            };
            elapsed(&mut t, Step::Resolve, t0);
            if previous != Some(backup_id) {
                let t0 = Instant::now();
                // Should this version have been current before, the backups
                // that superseded it left records over it: withdraw the
                // latest, so that nothing rolls it forward once this version
                // is current again.
                if let Some(a) = self.read_ack(&ns, method, Some(backup_id)).await?
                    && !a.withdrawn
                    && self.read_current_id(&ns, method).await? != Some(backup_id)
                {
                    self.record_ack(&ns, method, a.withdrawn()).await?;
                }
                let record = Acknowledgement::new(backup_id, previous);
                self.record_ack(&ns, method, record).await.map_err(|e| {
                    if e.kind() == &ErrorKind::Conflict {
                        e.with_hint("another backup is being acknowledged over the current version; try again once it has finished")
                    } else {
                        e
                    }
                })?;
                inner
                    .retry
                    .run("notifier.stored_client_backup_share", |_| {
                        inner.notifier.stored_client_backup_share(ns.user(), method, backup_id, true)
                    })
                    .await?;
                elapsed(&mut t, Step::Acknowledge, t0);
                let t0 = Instant::now();
                if let Err(e) = self.commit(&ns, method, backup_id, previous).await {
                    // `NotFound`: a prune in another process retired and
                    // removed the version after we read it. Either way the
                    // `true` just sent names a version that will never be
                    // current: name the current one again.
                    if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::NotFound) {
                        let (winner, reacked) = self.reacknowledge_winner(&ns, method, record).await;
                        return Err(lost_race(e, method, backup_id, winner, reacked));
                    }
                    return Err(e);
                }
                elapsed(&mut t, Step::Commit, t0);
            }
            let call = Call { ns: &ns, configs, progress: ProgressSink::none() };
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

    /// Removes the versions of (namespace, method) that are not current and
    /// are older than the prune grace period: each is retired (it can never
    /// become current again), then its key is deleted, then its envelope.
    /// The latest acknowledged version is never removed. A backup does this
    /// by itself; call it to clean up after failures. `ns` is a user id, or
    /// a [`Namespace`] with a custodian and a client.
    ///
    /// # Errors
    /// `InProgress` when a backup of the namespace runs; the store's error
    /// when the versions cannot be listed.
    pub async fn prune(&self, ns: impl Into<Namespace>, method: &MethodId, configs: Configs) -> Result<PruneReport> {
        let ns = ns.into();
        let _guard = self.lock_user(&ns, "prune")?;
        let provider = self.inner.registry.resolve(Some(method))?;
        let Some(current) = self.settled_current_id(&ns, method).await? else {
            return Ok(PruneReport::default());
        };
        let call = Call { ns: &ns, configs, progress: ProgressSink::none() };
        self.prune_versions(&*provider, &call, method, current, None)
            .instrument(info_span!("share_backup.prune", user = %ns, method = %method))
            .await
    }
}
