//! What callers hand the orchestrator, and what it hands back.

use std::fmt;
use std::time::Duration;

use share_backup_core::{BackupId, BackupShare, ClientId, Configs, CustodianId, Error, MethodId, ProgressSink, UserId};

macro_rules! common_setters {
    () => {
        /// Sets the per-call configs (the password, an access token, ...).
        pub fn with_configs(mut self, configs: Configs) -> Self {
            self.configs = configs;
            self
        }

        /// Adds one per-call config (replacing one of the same type).
        pub fn with_config<T: std::any::Any + Send + Sync>(mut self, config: T) -> Self {
            self.configs.insert(config);
            self
        }

        /// Binds the envelope to a custodian id (it must be given again to recover).
        pub fn with_custodian(mut self, custodian: CustodianId) -> Self {
            self.custodian = Some(custodian);
            self
        }

        /// Binds the envelope to a client id (it must be given again to recover).
        pub fn with_client(mut self, client: ClientId) -> Self {
            self.client = Some(client);
            self
        }

        /// Binds the envelope to a custodian id when one is given (`None`
        /// leaves the request as it is).
        pub fn with_custodian_opt(self, custodian: Option<CustodianId>) -> Self {
            match custodian {
                Some(c) => self.with_custodian(c),
                None => self,
            }
        }

        /// Binds the envelope to a client id when one is given (`None`
        /// leaves the request as it is).
        pub fn with_client_opt(self, client: Option<ClientId>) -> Self {
            match client {
                Some(c) => self.with_client(c),
                None => self,
            }
        }

        /// Sets where `{status, done}` progress events go.
        pub fn with_progress(mut self, progress: ProgressSink) -> Self {
            self.progress = progress;
            self
        }
    };
}

/// A request to back up one share: [`Orchestrator::backup`](crate::Orchestrator::backup).
///
/// ```
/// use share_backup_core::{BackupShare, MethodId, ProgressSink, UserId};
/// use share_backup_orchestrator::BackupRequest;
/// let req = BackupRequest::new(UserId::new("alice").unwrap(), BackupShare::new(vec![1, 2, 3]).unwrap())
///     .with_method(MethodId::PASSWORD)
///     .with_progress(ProgressSink::new(|p| println!("{} {}", p.status, p.done)));
/// assert!(!format!("{req:?}").contains("[1, 2, 3]"));
/// ```
pub struct BackupRequest {
    pub(crate) user: UserId,
    pub(crate) share: BackupShare,
    pub(crate) method: Option<MethodId>,
    pub(crate) configs: Configs,
    pub(crate) custodian: Option<CustodianId>,
    pub(crate) client: Option<ClientId>,
    pub(crate) progress: ProgressSink,
}

impl BackupRequest {
    /// A backup of `share` for `user`, with the default method (the
    /// registry's default chain, Google Drive first), no configs and no progress.
    pub fn new(user: UserId, share: BackupShare) -> Self {
        BackupRequest {
            user,
            share,
            method: None,
            configs: Configs::new(),
            custodian: None,
            client: None,
            progress: ProgressSink::none(),
        }
    }

    /// Picks the method explicitly.
    pub fn with_method(mut self, method: MethodId) -> Self {
        self.method = Some(method);
        self
    }

    /// Picks the method, or the default chain with `None`.
    pub fn with_method_opt(mut self, method: Option<MethodId>) -> Self {
        self.method = method;
        self
    }

    common_setters!();
}

impl fmt::Debug for BackupRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupRequest")
            .field("user", &self.user)
            .field("method", &self.method)
            .field("share", &self.share)
            .field("configs", &self.configs)
            .field("custodian", &self.custodian)
            .field("client", &self.client)
            .finish()
    }
}

/// A request to recover a share: [`Orchestrator::recover`](crate::Orchestrator::recover).
///
/// With no method, the orchestrator picks the user's only method with a
/// current backup, or, when there are several, the first of them in the
/// registry's default chain; otherwise it asks for a method (`InvalidInput`).
#[derive(Debug)]
pub struct RecoverRequest {
    pub(crate) user: UserId,
    pub(crate) method: Option<MethodId>,
    pub(crate) configs: Configs,
    pub(crate) custodian: Option<CustodianId>,
    pub(crate) client: Option<ClientId>,
    pub(crate) progress: ProgressSink,
}

impl RecoverRequest {
    /// A recovery for `user`.
    pub fn new(user: UserId) -> Self {
        RecoverRequest {
            user,
            method: None,
            configs: Configs::new(),
            custodian: None,
            client: None,
            progress: ProgressSink::none(),
        }
    }

    /// Picks the method explicitly.
    pub fn with_method(mut self, method: MethodId) -> Self {
        self.method = Some(method);
        self
    }

    /// Picks the method, or lets the orchestrator choose with `None`.
    pub fn with_method_opt(mut self, method: Option<MethodId>) -> Self {
        self.method = method;
        self
    }

    common_setters!();
}

/// A request to re-wrap a user's current share under new configs (a new
/// password, a new Drive key): [`Orchestrator::rotate`](crate::Orchestrator::rotate).
#[derive(Debug)]
pub struct RotateRequest {
    pub(crate) user: UserId,
    pub(crate) method: MethodId,
    pub(crate) configs: Configs,
    pub(crate) new_configs: Configs,
    pub(crate) custodian: Option<CustodianId>,
    pub(crate) client: Option<ClientId>,
    pub(crate) progress: ProgressSink,
}

impl RotateRequest {
    /// A rotation of `user`'s current backup of `method`. Set the configs
    /// that open the current backup with [`Self::with_configs`] and those of
    /// the new one with [`Self::with_new_configs`].
    pub fn new(user: UserId, method: MethodId) -> Self {
        RotateRequest {
            user,
            method,
            configs: Configs::new(),
            new_configs: Configs::new(),
            custodian: None,
            client: None,
            progress: ProgressSink::none(),
        }
    }

    /// Sets the configs of the new backup (the new password, ...).
    pub fn with_new_configs(mut self, configs: Configs) -> Self {
        self.new_configs = configs;
        self
    }

    /// Adds one config of the new backup.
    pub fn with_new_config<T: std::any::Any + Send + Sync>(mut self, config: T) -> Self {
        self.new_configs.insert(config);
        self
    }

    common_setters!();
}

/// A health check of a user's current backup of one method:
/// [`Orchestrator::verify`](crate::Orchestrator::verify).
///
/// It needs no user secret. Configs are needed only for providers that
/// need a credential to reach their key (an access token for `gdrive`).
#[derive(Debug)]
pub struct VerifyRequest {
    pub(crate) user: UserId,
    pub(crate) method: MethodId,
    pub(crate) configs: Configs,
    pub(crate) custodian: Option<CustodianId>,
    pub(crate) client: Option<ClientId>,
    pub(crate) progress: ProgressSink,
}

impl VerifyRequest {
    /// A health check of `user`'s current backup of `method`.
    pub fn new(user: UserId, method: MethodId) -> Self {
        VerifyRequest {
            user,
            method,
            configs: Configs::new(),
            custodian: None,
            client: None,
            progress: ProgressSink::none(),
        }
    }

    common_setters!();
}

/// A step of the backup protocol, as timed in a [`Receipt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Step {
    /// Resolving the provider and reading the current version.
    Resolve,
    /// The provider's probe.
    Probe,
    /// The provider's `seal_key` and the sealing of the share.
    Seal,
    /// Opening the new envelope again (and reading a remote key back).
    Verify,
    /// Staging the envelope in the store.
    Stage,
    /// Telling the notifier `success = true`.
    Acknowledge,
    /// Making the new version current.
    Commit,
    /// Removing superseded versions and their keys.
    Prune,
}

impl Step {
    /// A short lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Step::Resolve => "resolve",
            Step::Probe => "probe",
            Step::Seal => "seal",
            Step::Verify => "verify",
            Step::Stage => "stage",
            Step::Acknowledge => "acknowledge",
            Step::Commit => "commit",
            Step::Prune => "prune",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wall time of each step of one backup, in the order they ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepTimings(Vec<(Step, Duration)>);

impl StepTimings {
    pub(crate) fn push(&mut self, step: Step, d: Duration) {
        self.0.push((step, d));
    }

    /// The time of `step`, if it ran.
    pub fn get(&self, step: Step) -> Option<Duration> {
        self.0.iter().find(|(s, _)| *s == step).map(|(_, d)| *d)
    }

    /// Every `(step, time)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (Step, Duration)> + '_ {
        self.0.iter().copied()
    }

    /// The sum of all steps.
    pub fn total(&self) -> Duration {
        self.0.iter().map(|(_, d)| *d).sum()
    }
}

/// What a successful backup (or rotation) did.
///
/// When `backup` returns a receipt, the envelope is durably stored, was
/// verified, was acknowledged to the notifier, and is the current version.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Receipt {
    /// The method used.
    pub method: MethodId,
    /// The new backup's id (the current version now).
    pub backup_id: BackupId,
    /// The cipher text, as stored.
    pub envelope: String,
    /// The version that was current before, if any.
    pub previous: Option<BackupId>,
    /// The superseded versions removed by the prune (with their keys).
    pub pruned: Vec<BackupId>,
    /// How many superseded versions could not be pruned (logged; retried
    /// on the next backup or [`Orchestrator::prune`](crate::Orchestrator::prune)).
    pub prune_failures: usize,
    /// The wall time of each step.
    pub timings: StepTimings,
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receipt")
            .field("method", &self.method)
            .field("backup_id", &self.backup_id)
            .field("envelope_len", &self.envelope.len())
            .field("previous", &self.previous)
            .field("pruned", &self.pruned)
            .field("prune_failures", &self.prune_failures)
            .field("timings", &self.timings)
            .finish()
    }
}

/// A recovered share and where it came from.
pub struct Recovered {
    pub(crate) share: BackupShare,
    pub(crate) method: MethodId,
    pub(crate) backup_id: BackupId,
}

impl Recovered {
    /// The share.
    pub fn share(&self) -> &BackupShare {
        &self.share
    }

    /// Takes the share.
    pub fn into_share(self) -> BackupShare {
        self.share
    }

    /// The method of the backup it was recovered from.
    pub fn method(&self) -> &MethodId {
        &self.method
    }

    /// The backup id it was recovered from.
    pub fn backup_id(&self) -> BackupId {
        self.backup_id
    }
}

impl fmt::Debug for Recovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recovered")
            .field("method", &self.method)
            .field("backup_id", &self.backup_id)
            .field("share", &self.share)
            .finish()
    }
}

/// How [`Orchestrator::verify`](crate::Orchestrator::verify) checked the
/// provider's key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyCheck {
    /// The provider gave the key back and it opens the current envelope.
    Opens,
    /// Not checked, and why (e.g. the key is derived from the user's
    /// password, so there is nothing stored to check without it).
    NotChecked(&'static str),
}

/// The outcome of a successful health check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthReport {
    /// The method checked.
    pub method: MethodId,
    /// The current backup id.
    pub backup_id: BackupId,
    /// Length of the current envelope string.
    pub envelope_len: usize,
    /// Length of the sealed share, in bytes.
    pub share_len: usize,
    /// What was checked of the provider's key.
    pub key: KeyCheck,
    /// Versions stored besides the current one, oldest first (superseded
    /// ones not yet pruned, and staged ones of unfinished backups).
    pub other_versions: Vec<BackupId>,
}

/// What a prune removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PruneReport {
    /// Removed versions (their keys deleted first).
    pub removed: Vec<BackupId>,
    /// Versions that could not be removed (logged).
    pub failed: Vec<BackupId>,
    /// Versions kept because they are younger than the prune grace period
    /// (a concurrent backup may still be finishing them).
    pub kept: Vec<BackupId>,
}

/// Why a backup ended with its new version stored but not current.
///
/// Carried as the [`source`](std::error::Error::source) of the error that
/// [`Orchestrator::backup`](crate::Orchestrator::backup) returns when the
/// envelope was staged but the protocol did not finish; find it with
/// [`IncompleteBackup::find`]. The version named by `current` (if any) is
/// current and recoverable: the previous one, or the backup of another
/// writer that won the race; the staged one is durable and verified.
#[derive(Debug, thiserror::Error)]
#[error("backup {backup_id} of method {method} is stored but not current (acknowledged: {acknowledged})")]
#[non_exhaustive]
pub struct IncompleteBackup {
    /// The method.
    pub method: MethodId,
    /// The staged version.
    pub backup_id: BackupId,
    /// Whether the notifier was (or may have been: the call timed out) told
    /// `success = true` for it. When true, the acknowledgement is recorded in
    /// the store and the next backup, recovery, `methods` or `verify` of
    /// this namespace and method makes it current (or
    /// [`Orchestrator::commit_staged`](crate::Orchestrator::commit_staged)
    /// does it now); no `false` was sent for it.
    pub acknowledged: bool,
    /// The version that is current, if any, as read when the protocol
    /// stopped: the previous one, or another writer's that won the race.
    pub current: Option<BackupId>,
    /// After this backup was acknowledged and then lost the compare-and-swap
    /// to another writer, the winner (`current`) was acknowledged again, so
    /// the wallet service's last word names the current version, not this
    /// one. False when that did not happen or was not needed.
    pub current_reacknowledged: bool,
    /// The error that stopped the protocol.
    #[source]
    pub cause: Error,
}

impl IncompleteBackup {
    /// The incomplete-backup detail of an orchestrator error, if it has one.
    pub fn find(error: &Error) -> Option<&IncompleteBackup> {
        error.source_ref()?.downcast_ref::<IncompleteBackup>()
    }
}
