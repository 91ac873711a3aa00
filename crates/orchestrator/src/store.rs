//! Where the integrator keeps envelopes, and who is told they are stored.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use share_backup_core::{BackupId, Binding, ClientId, CustodianId, MethodId, Result, UserId};

/// Whose backups a store call is about: one namespace per (user, custodian,
/// client), the whole binding an envelope is sealed to.
///
/// Two clients (or two custodians) that share a user id keep separate
/// backups: each has its own versions, current pointer, commit log and
/// acknowledgement record, and the orchestrator's in-process guard is keyed
/// by the namespace too. `From<UserId>` gives the namespace with no
/// custodian and no client.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Namespace {
    user: UserId,
    custodian: Option<CustodianId>,
    client: Option<ClientId>,
}

impl Namespace {
    /// The namespace of `user` with no custodian and no client.
    pub fn new(user: UserId) -> Self {
        Namespace { user, custodian: None, client: None }
    }

    /// With a custodian id.
    #[must_use]
    pub fn with_custodian(mut self, custodian: CustodianId) -> Self {
        self.custodian = Some(custodian);
        self
    }

    /// With a client id.
    #[must_use]
    pub fn with_client(mut self, client: ClientId) -> Self {
        self.client = Some(client);
        self
    }

    /// With an optional custodian and client (as a request carries them).
    #[must_use]
    pub fn with_ids(mut self, custodian: Option<CustodianId>, client: Option<ClientId>) -> Self {
        self.custodian = custodian;
        self.client = client;
        self
    }

    /// The user id.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// The custodian id, if any.
    pub fn custodian(&self) -> Option<&CustodianId> {
        self.custodian.as_ref()
    }

    /// The client id, if any.
    pub fn client(&self) -> Option<&ClientId> {
        self.client.as_ref()
    }

    /// The binding an envelope of this namespace is sealed to.
    pub fn binding(&self) -> Binding<'_> {
        Binding { user: &self.user, custodian: self.custodian.as_ref(), client: self.client.as_ref() }
    }

    /// The canonical bytes of the binding (SPEC.md, "Associated data"):
    /// what a store hashes into object paths.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.binding().to_bytes()
    }
}

impl From<UserId> for Namespace {
    fn from(user: UserId) -> Self {
        Namespace::new(user)
    }
}

impl From<&UserId> for Namespace {
    fn from(user: &UserId) -> Self {
        Namespace::new(user.clone())
    }
}

impl From<&Namespace> for Namespace {
    fn from(ns: &Namespace) -> Self {
        ns.clone()
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.user.as_str())?;
        if let Some(c) = &self.custodian {
            write!(f, " (custodian {c})")?;
        }
        if let Some(c) = &self.client {
            write!(f, " (client {c})")?;
        }
        Ok(())
    }
}

/// The record a store keeps of an acknowledgement of a (namespace, method):
/// written **before** the wallet service is told `true`, so that an
/// acknowledged version can always be found again and rolled forward (see
/// the crate documentation).
///
/// Records are kept per version they were made over (`prev`), and the
/// first pending record over a version wins: see
/// [`CipherTextStore::record_acknowledgement`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Acknowledgement {
    /// The version acknowledged (or about to be).
    pub backup_id: BackupId,
    /// The version that was current when it was acknowledged: the one its
    /// commit replaces.
    pub prev: Option<BackupId>,
    /// True when the version must never be rolled forward: the wallet
    /// service certainly never received its `true` (it refused the call and
    /// was told `false`), or the version lost its commit and the wallet
    /// service was told the winner again.
    pub withdrawn: bool,
    /// When the store recorded it (set by the store on read; ignored on
    /// write), by a clock every process shares. A pending record younger
    /// than the take-over time (the prune grace, or longer when the
    /// notifier's retries and timeouts allow a longer wait) may belong to a
    /// backup still running in another process, so a backup does not take
    /// it over (see the crate documentation).
    pub recorded_at: Option<SystemTime>,
}

impl Acknowledgement {
    /// An acknowledgement of `backup_id` replacing `prev`.
    pub fn new(backup_id: BackupId, prev: Option<BackupId>) -> Self {
        Acknowledgement { backup_id, prev, withdrawn: false, recorded_at: None }
    }

    /// The same record, with the time the store recorded it.
    #[must_use]
    pub fn with_recorded_at(mut self, at: SystemTime) -> Self {
        self.recorded_at = Some(at);
        self
    }

    /// Whether two records say the same (version, over, withdrawn),
    /// whenever they were recorded.
    pub fn same_as(&self, other: &Acknowledgement) -> bool {
        (self.backup_id, self.prev, self.withdrawn) == (other.backup_id, other.prev, other.withdrawn)
    }

    /// The same record, marked withdrawn.
    #[must_use]
    pub fn withdrawn(mut self) -> Self {
        self.withdrawn = true;
        self
    }

    /// Whether this acknowledged version must be made current, given the
    /// version that is current now: it is not withdrawn, not current, and
    /// was acknowledged over exactly the current version.
    pub fn rolls_forward_over(&self, current: Option<BackupId>) -> bool {
        !self.withdrawn && current != Some(self.backup_id) && self.prev == current
    }
}

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

/// The integrator's storage for cipher texts: versions per (namespace,
/// method), one of which is current. A namespace is the whole binding
/// (user, custodian, client): nothing of one namespace is visible in another.
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
/// - [`retire`](Self::retire) is the only way out for a version: once it
///   returns `Ok`, the version is not current and **never becomes current**
///   ([`commit`](Self::commit) of it is `Conflict`), across processes.
///   Pruning retires a version before its provider key is deleted, so a key
///   is never deleted while its version can still become current.
/// - [`remove`](Self::remove) never removes the current version
///   (`Conflict`); it retires the version first if that was not done, and
///   removing a missing version succeeds.
/// - [`record_acknowledgement`](Self::record_acknowledgement) is durable
///   once it returns and **create-only per (namespace, method, `prev`)**:
///   while the latest record over a version is another version's pending
///   acknowledgement, recording one over the same version is `Conflict`.
///   [`acknowledgement`](Self::acknowledgement) gives back the latest
///   record over a version.
/// - Every method is safe to call concurrently, from several processes.
#[async_trait]
pub trait CipherTextStore: fmt::Debug + Send + Sync + 'static {
    /// Stores `envelope` as a new, staged version `backup_id`.
    async fn stage(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId, envelope: &str) -> Result<()>;

    /// Makes `backup_id` the current version if the current one is still
    /// `expected` (`None`: there was no current version).
    async fn commit(
        &self,
        ns: &Namespace,
        method: &MethodId,
        backup_id: BackupId,
        expected: Option<BackupId>,
    ) -> Result<()>;

    /// The current version, `None` when the user has no acknowledged backup
    /// for this method.
    async fn current(&self, ns: &Namespace, method: &MethodId) -> Result<Option<CurrentVersion>>;

    /// The backup id of the current version, without reading its envelope:
    /// what a writer needs before [`commit`](Self::commit), which the
    /// orchestrator calls once per backup.
    ///
    /// Must agree with [`current`](Self::current). The default reads
    /// `current` and drops the envelope; override it where the id alone is
    /// cheaper to read.
    async fn current_id(&self, ns: &Namespace, method: &MethodId) -> Result<Option<BackupId>> {
        Ok(self.current(ns, method).await?.map(|c| c.backup_id))
    }

    /// The envelope of one version (staged or current).
    ///
    /// # Errors
    /// `NotFound` when there is no such version.
    async fn get(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<String>;

    /// Every stored version for (user, method), oldest first where known.
    async fn versions(&self, ns: &Namespace, method: &MethodId) -> Result<Vec<VersionInfo>>;

    /// The methods for which the namespace has a current version or an
    /// acknowledgement record over no version (a first backup), sorted (the
    /// orchestrator rolls an acknowledged first backup forward before it
    /// reports a method).
    async fn methods(&self, ns: &Namespace) -> Result<Vec<MethodId>>;

    /// Retires a version that is not current, for good: after `Ok`, a
    /// commit of it fails with `Conflict`, whichever process tries. Its
    /// envelope stays readable by [`get`](Self::get) until
    /// [`remove`](Self::remove). Idempotent; retiring a missing version
    /// succeeds.
    ///
    /// # Errors
    /// `Conflict` when the version is current (it may stay marked, which
    /// only means it can never be committed again once superseded).
    async fn retire(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<()>;

    /// Removes a version that is not current (pruning), retiring it first
    /// when that was not done.
    async fn remove(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<()>;

    /// Durably records that `ack.backup_id` is being acknowledged to the
    /// wallet service over `ack.prev`, the version current when it was
    /// (`None`: a first backup). The record is the arbiter between writers
    /// racing over the same current version: only one of them may tell the
    /// wallet service `true`.
    ///
    /// Over one `prev`, records form a log whose latest entry decides:
    /// - none, or the latest is withdrawn: the record is added, `Ok`;
    /// - the latest is this same pending acknowledgement (a retry): `Ok`,
    ///   nothing changes;
    /// - the latest is another version's pending acknowledgement:
    ///   `Conflict`, nothing changes.
    ///
    /// With `ack.withdrawn`, the latest record over `prev`, when it is this
    /// version's pending acknowledgement, is marked withdrawn (another
    /// acknowledgement may then be recorded over `prev`); otherwise nothing
    /// changes and the call succeeds. Records are never deleted, so a
    /// retried call can never undo a later writer's record.
    ///
    /// # Errors
    /// `Conflict` as above; the store's error (the record may have landed).
    async fn record_acknowledgement(&self, ns: &Namespace, method: &MethodId, ack: Acknowledgement) -> Result<()>;

    /// The latest acknowledgement record over `prev` (`None`: over no
    /// version) of (namespace, method), if any, with the time it was
    /// recorded ([`Acknowledgement::recorded_at`], required: from a clock
    /// every process shares, such as the server's; a record without it is
    /// treated as in flight by a backup of another process, so only a
    /// recovery would roll an abandoned one forward).
    async fn acknowledgement(
        &self,
        ns: &Namespace,
        method: &MethodId,
        prev: Option<BackupId>,
    ) -> Result<Option<Acknowledgement>>;
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
