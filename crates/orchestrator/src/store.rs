//! Where the integrator keeps envelopes, and who is told they are stored.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use share_backup_core::{BackupId, MethodId, Result, UserId};

/// The state of one stored version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VersionState {
    /// Written and durable, not (yet) acknowledged and current.
    Staged,
    /// The acknowledged version that `recover` opens.
    Current,
}

/// One stored version of a user's backup for one method.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VersionInfo {
    /// The backup id naming the version.
    pub backup_id: BackupId,
    /// Staged or current.
    pub state: VersionState,
    /// When it was staged, where the store knows.
    pub staged_at: Option<SystemTime>,
}

impl VersionInfo {
    /// A version record.
    pub fn new(backup_id: BackupId, state: VersionState, staged_at: Option<SystemTime>) -> Self {
        VersionInfo { backup_id, state, staged_at }
    }
}

/// The current (acknowledged) version of a user's backup for one method.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CurrentVersion {
    /// Its backup id.
    pub backup_id: BackupId,
    /// The envelope string, as staged.
    pub envelope: String,
}

impl CurrentVersion {
    /// A current-version record.
    pub fn new(backup_id: BackupId, envelope: String) -> Self {
        CurrentVersion { backup_id, envelope }
    }
}

impl fmt::Debug for CurrentVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentVersion")
            .field("backup_id", &self.backup_id)
            .field("envelope_len", &self.envelope.len())
            .finish()
    }
}

/// The integrator's storage for cipher texts: versions per (user, method),
/// one of which is current.
///
/// Contract (checked by `share-backup-conformance`'s store cases):
/// - [`stage`](Self::stage) is create-only: staging an existing
///   `(user, method, backup_id)` fails with `Conflict` and changes nothing;
///   once it returns `Ok`, the version is durable.
/// - [`commit`](Self::commit) is a compare-and-swap of the current pointer:
///   it succeeds only if the current version is still `expected`; otherwise
///   `Conflict`. Committing a version that was never staged is `NotFound`.
/// - [`current`](Self::current) and [`current_id`](Self::current_id) read
///   O(1) objects, whatever the number of users and of old versions, and
///   agree with each other.
/// - [`remove`](Self::remove) never removes the current version
///   (`Conflict`), and removing a missing version succeeds.
/// - Every method is safe to call concurrently, from several processes.
#[async_trait]
pub trait CipherTextStore: fmt::Debug + Send + Sync + 'static {
    /// Stores `envelope` as a new, staged version `backup_id`.
    async fn stage(&self, user: &UserId, method: &MethodId, backup_id: BackupId, envelope: &str) -> Result<()>;

    /// Makes `backup_id` the current version if the current one is still
    /// `expected` (`None`: there was no current version).
    async fn commit(
        &self,
        user: &UserId,
        method: &MethodId,
        backup_id: BackupId,
        expected: Option<BackupId>,
    ) -> Result<()>;

    /// The current version, `None` when the user has no acknowledged backup
    /// for this method.
    async fn current(&self, user: &UserId, method: &MethodId) -> Result<Option<CurrentVersion>>;

    /// The backup id of the current version, without reading its envelope:
    /// what a writer needs before [`commit`](Self::commit), which the
    /// orchestrator calls twice per backup.
    ///
    /// Must agree with [`current`](Self::current). The default reads
    /// `current` and drops the envelope; override it where the id alone is
    /// cheaper to read.
    async fn current_id(&self, user: &UserId, method: &MethodId) -> Result<Option<BackupId>> {
        Ok(self.current(user, method).await?.map(|c| c.backup_id))
    }

    /// The envelope of one version (staged or current).
    ///
    /// # Errors
    /// `NotFound` when there is no such version.
    async fn get(&self, user: &UserId, method: &MethodId, backup_id: BackupId) -> Result<String>;

    /// Every stored version for (user, method), oldest first where known.
    async fn versions(&self, user: &UserId, method: &MethodId) -> Result<Vec<VersionInfo>>;

    /// The methods for which `user` has a current version, sorted.
    async fn methods(&self, user: &UserId) -> Result<Vec<MethodId>>;

    /// Removes a version that is not current (pruning).
    async fn remove(&self, user: &UserId, method: &MethodId, backup_id: BackupId) -> Result<()>;
}

/// Who is told that a backup is stored: the wallet service.
///
/// `stored_client_backup_share(success = true)` is sent only once the
/// envelope is durably stored and verified; `false` on any failure before.
/// Implementations must be idempotent: the orchestrator retries.
#[async_trait]
pub trait Notifier: fmt::Debug + Send + Sync + 'static {
    /// Tells the wallet service the outcome of a backup.
    async fn stored_client_backup_share(
        &self,
        user: &UserId,
        method: &MethodId,
        backup_id: BackupId,
        success: bool,
    ) -> Result<()>;
}
