//! In-memory [`CipherTextStore`] and recording [`Notifier`], for tests,
//! examples and single-process tools.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use share_backup_core::{BackupId, Error, ErrorKind, MethodId, Result, UserId};

use crate::store::{Acknowledgement, CipherTextStore, CurrentVersion, Namespace, Notifier, VersionInfo, VersionState};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Slot {
    /// Oldest first.
    versions: Vec<(BackupId, String, SystemTime)>,
    current: Option<BackupId>,
    retired: HashSet<BackupId>,
    /// Acknowledgement records per version they were made over, oldest first.
    acks: HashMap<Option<BackupId>, Vec<Acknowledgement>>,
}

/// A [`CipherTextStore`] in this process's memory, keeping the full contract
/// (create-only staging, compare-and-swap commit, retired versions never
/// committed, the current version never removed, one namespace per
/// (user, custodian, client)). Nothing survives the process: use
/// `share-backup-object-store` for anything real.
///
/// Cheap to clone; clones share the same data, so two orchestrators built
/// on clones behave like two processes on one store.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use share_backup_core::{BackupId, MethodId, UserId};
/// use share_backup_orchestrator::{CipherTextStore, MemoryStore, Namespace};
/// let store = MemoryStore::new();
/// let u = Namespace::from(UserId::new("alice").unwrap());
/// let (m, id) = (MethodId::PASSWORD, BackupId::generate().unwrap());
/// store.stage(&u, &m, id, "sb1.x.y").await.unwrap();
/// assert!(store.current(&u, &m).await.unwrap().is_none());
/// store.commit(&u, &m, id, None).await.unwrap();
/// assert_eq!(store.current(&u, &m).await.unwrap().unwrap().backup_id, id);
/// # });
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<HashMap<(Namespace, MethodId), Slot>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored versions over all namespaces and methods.
    pub fn len(&self) -> usize {
        lock(&self.inner).values().map(|s| s.versions.len()).sum()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes a stored version look `age` older (its `staged_at` moves back),
    /// for tests of the prune grace period. Returns whether it was found.
    pub fn backdate(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId, age: Duration) -> bool {
        let mut g = lock(&self.inner);
        let Some(v) = g
            .get_mut(&(ns.clone(), method.clone()))
            .and_then(|s| s.versions.iter_mut().find(|(id, _, _)| *id == backup_id))
        else {
            return false;
        };
        v.2 = v.2.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH);
        true
    }

    /// Makes the acknowledgement records over `prev` look `age` older, for
    /// tests of taking over an abandoned acknowledgement. Returns how many
    /// records moved.
    pub fn backdate_acknowledgements(
        &self,
        ns: &Namespace,
        method: &MethodId,
        prev: Option<BackupId>,
        age: Duration,
    ) -> usize {
        let mut g = lock(&self.inner);
        let Some(log) = g.get_mut(&(ns.clone(), method.clone())).and_then(|s| s.acks.get_mut(&prev)) else {
            return 0;
        };
        for a in log.iter_mut() {
            a.recorded_at = a.recorded_at.map(|t| t.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH));
        }
        log.len()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = lock(&self.inner);
        f.debug_struct("MemoryStore").field("slots", &g.len()).finish()
    }
}

fn not_found(ns: &Namespace, method: &MethodId, id: BackupId) -> Error {
    Error::not_found(format!("no version {id} of method {method} for {ns} in the memory store"))
}

#[async_trait]
impl CipherTextStore for MemoryStore {
    async fn stage(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId, envelope: &str) -> Result<()> {
        let mut g = lock(&self.inner);
        let slot = g.entry((ns.clone(), method.clone())).or_default();
        if slot.versions.iter().any(|(id, _, _)| *id == backup_id) || slot.retired.contains(&backup_id) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("version {backup_id} of method {method} for {ns} already exists"),
            ));
        }
        slot.versions.push((backup_id, envelope.to_owned(), SystemTime::now()));
        Ok(())
    }

    async fn commit(
        &self,
        ns: &Namespace,
        method: &MethodId,
        backup_id: BackupId,
        expected: Option<BackupId>,
    ) -> Result<()> {
        let mut g = lock(&self.inner);
        let Some(slot) = g.get_mut(&(ns.clone(), method.clone())) else {
            return Err(not_found(ns, method, backup_id));
        };
        if !slot.versions.iter().any(|(id, _, _)| *id == backup_id) {
            return Err(not_found(ns, method, backup_id));
        }
        if slot.retired.contains(&backup_id) && slot.current != Some(backup_id) {
            return Err(retired(backup_id));
        }
        if slot.current != expected {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "the current version of method {method} for {ns} is {}, not the expected {}",
                    fmt_opt(slot.current),
                    fmt_opt(expected)
                ),
            ));
        }
        slot.current = Some(backup_id);
        Ok(())
    }

    async fn current(&self, ns: &Namespace, method: &MethodId) -> Result<Option<CurrentVersion>> {
        let g = lock(&self.inner);
        let Some(slot) = g.get(&(ns.clone(), method.clone())) else { return Ok(None) };
        let Some(cur) = slot.current else { return Ok(None) };
        let env = slot.versions.iter().find(|(id, _, _)| *id == cur).map(|(_, e, _)| e.clone());
        match env {
            Some(e) => Ok(Some(CurrentVersion::new(cur, e))),
            None => Err(Error::internal(format!("the current version {cur} is missing from the memory store"))),
        }
    }

    async fn current_id(&self, ns: &Namespace, method: &MethodId) -> Result<Option<BackupId>> {
        Ok(lock(&self.inner).get(&(ns.clone(), method.clone())).and_then(|s| s.current))
    }

    async fn get(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<String> {
        let g = lock(&self.inner);
        g.get(&(ns.clone(), method.clone()))
            .and_then(|s| s.versions.iter().find(|(id, _, _)| *id == backup_id))
            .map(|(_, e, _)| e.clone())
            .ok_or_else(|| not_found(ns, method, backup_id))
    }

    async fn versions(&self, ns: &Namespace, method: &MethodId) -> Result<Vec<VersionInfo>> {
        let g = lock(&self.inner);
        let Some(slot) = g.get(&(ns.clone(), method.clone())) else { return Ok(Vec::new()) };
        Ok(slot
            .versions
            .iter()
            .map(|(id, _, at)| {
                let state = if slot.current == Some(*id) { VersionState::Current } else { VersionState::Staged };
                VersionInfo::new(*id, state, Some(*at))
            })
            .collect())
    }

    async fn methods(&self, ns: &Namespace) -> Result<Vec<MethodId>> {
        let g = lock(&self.inner);
        let set: BTreeSet<MethodId> = g
            .iter()
            .filter(|((n, _), s)| n == ns && (s.current.is_some() || s.acks.get(&None).is_some_and(|l| !l.is_empty())))
            .map(|((_, m), _)| m.clone())
            .collect();
        Ok(set.into_iter().collect())
    }

    async fn retire(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<()> {
        let mut g = lock(&self.inner);
        let slot = g.entry((ns.clone(), method.clone())).or_default();
        if slot.current == Some(backup_id) {
            return Err(current_refused(ns, method, backup_id));
        }
        slot.retired.insert(backup_id);
        Ok(())
    }

    async fn remove(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Result<()> {
        let mut g = lock(&self.inner);
        let Some(slot) = g.get_mut(&(ns.clone(), method.clone())) else { return Ok(()) };
        if slot.current == Some(backup_id) {
            return Err(current_refused(ns, method, backup_id));
        }
        slot.retired.insert(backup_id);
        slot.versions.retain(|(id, _, _)| *id != backup_id);
        Ok(())
    }

    async fn record_acknowledgement(&self, ns: &Namespace, method: &MethodId, ack: Acknowledgement) -> Result<()> {
        let mut g = lock(&self.inner);
        let log = g.entry((ns.clone(), method.clone())).or_default().acks.entry(ack.prev).or_default();
        let latest = log.last().copied();
        let ack = ack.with_recorded_at(SystemTime::now());
        if ack.withdrawn {
            if latest.is_some_and(|l| l.backup_id == ack.backup_id && !l.withdrawn) {
                log.push(ack);
            }
            return Ok(());
        }
        match latest {
            Some(l) if !l.withdrawn && l.backup_id == ack.backup_id => Ok(()),
            Some(l) if !l.withdrawn => Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "version {} of method {method} for {ns} is already being acknowledged over {}",
                    l.backup_id,
                    fmt_opt(ack.prev)
                ),
            )
            .with_retryable(false)),
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
        Ok(lock(&self.inner)
            .get(&(ns.clone(), method.clone()))
            .and_then(|s| s.acks.get(&prev))
            .and_then(|l| l.last().copied()))
    }
}

fn current_refused(ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!("version {backup_id} is the current one of method {method} for {ns}; it cannot be retired or removed"),
    )
    .with_retryable(false)
}

fn retired(backup_id: BackupId) -> Error {
    Error::new(ErrorKind::Conflict, format!("version {backup_id} was retired by a prune; it can never become current"))
        .with_retryable(false)
        .with_hint("make a new backup")
}

fn fmt_opt(id: Option<BackupId>) -> String {
    id.map_or_else(|| "none".to_owned(), |i| i.to_string())
}

/// One call of [`Notifier::stored_client_backup_share`], as recorded by
/// [`RecordingNotifier`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notification {
    /// The user.
    pub user: UserId,
    /// The method.
    pub method: MethodId,
    /// The backup id.
    pub backup_id: BackupId,
    /// The outcome told.
    pub success: bool,
}

/// A [`Notifier`] that records every call in memory (the "wallet service" of
/// tests and of the quickstart). Cheap to clone; clones share the record.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use share_backup_core::{BackupId, MethodId, UserId};
/// use share_backup_orchestrator::{Notifier, RecordingNotifier};
/// let n = RecordingNotifier::new();
/// let (u, id) = (UserId::new("alice").unwrap(), BackupId::generate().unwrap());
/// n.stored_client_backup_share(&u, &MethodId::PASSWORD, id, true).await.unwrap();
/// assert_eq!(n.acknowledged(&u, &MethodId::PASSWORD), Some(id));
/// # });
/// ```
#[derive(Clone, Default)]
pub struct RecordingNotifier {
    log: Arc<Mutex<Vec<Notification>>>,
}

impl RecordingNotifier {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call so far, in order.
    pub fn notifications(&self) -> Vec<Notification> {
        lock(&self.log).clone()
    }

    /// The backup id of the last `success = true` for (user, method) that no
    /// later `success = false` of the same backup id withdrew.
    pub fn acknowledged(&self, user: &UserId, method: &MethodId) -> Option<BackupId> {
        let log = lock(&self.log);
        let mut last = None;
        for n in log.iter().filter(|n| &n.user == user && &n.method == method) {
            if n.success {
                last = Some(n.backup_id);
            } else if last == Some(n.backup_id) {
                last = None;
            }
        }
        last
    }

    /// Forgets every record.
    pub fn clear(&self) {
        lock(&self.log).clear();
    }
}

impl fmt::Debug for RecordingNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingNotifier").field("notifications", &lock(&self.log).len()).finish()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn stored_client_backup_share(
        &self,
        user: &UserId,
        method: &MethodId,
        backup_id: BackupId,
        success: bool,
    ) -> Result<()> {
        lock(&self.log).push(Notification { user: user.clone(), method: method.clone(), backup_id, success });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (Namespace, MethodId, BackupId, BackupId) {
        (
            Namespace::from(UserId::new("u").unwrap()),
            MethodId::PASSWORD,
            BackupId::generate().unwrap(),
            BackupId::generate().unwrap(),
        )
    }

    #[tokio::test]
    async fn staging_is_create_only() {
        let s = MemoryStore::new();
        let (u, m, a, _) = ids();
        s.stage(&u, &m, a, "one").await.unwrap();
        assert_eq!(s.stage(&u, &m, a, "two").await.unwrap_err().kind(), &ErrorKind::Conflict);
        assert_eq!(s.get(&u, &m, a).await.unwrap(), "one");
    }

    #[tokio::test]
    async fn commit_is_a_compare_and_swap_on_the_current_version() {
        let s = MemoryStore::new();
        let (u, m, a, b) = ids();
        s.stage(&u, &m, a, "a").await.unwrap();
        s.stage(&u, &m, b, "b").await.unwrap();
        s.commit(&u, &m, a, None).await.unwrap();
        assert_eq!(s.commit(&u, &m, b, None).await.unwrap_err().kind(), &ErrorKind::Conflict);
        s.commit(&u, &m, b, Some(a)).await.unwrap();
        assert_eq!(s.current(&u, &m).await.unwrap().unwrap().envelope, "b");
        let never = BackupId::generate().unwrap();
        assert_eq!(s.commit(&u, &m, never, Some(b)).await.unwrap_err().kind(), &ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn the_current_version_cannot_be_removed_and_missing_ones_remove_fine() {
        let s = MemoryStore::new();
        let (u, m, a, b) = ids();
        s.stage(&u, &m, a, "a").await.unwrap();
        s.commit(&u, &m, a, None).await.unwrap();
        assert_eq!(s.remove(&u, &m, a).await.unwrap_err().kind(), &ErrorKind::Conflict);
        s.remove(&u, &m, b).await.unwrap();
        let v = s.versions(&u, &m).await.unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].state, VersionState::Current);
    }

    #[tokio::test]
    async fn methods_lists_only_methods_with_a_current_version() {
        let s = MemoryStore::new();
        let (u, _, a, b) = ids();
        s.stage(&u, &MethodId::GDRIVE, a, "a").await.unwrap();
        s.stage(&u, &MethodId::PASSWORD, b, "b").await.unwrap();
        s.commit(&u, &MethodId::PASSWORD, b, None).await.unwrap();
        assert_eq!(s.methods(&u).await.unwrap(), vec![MethodId::PASSWORD]);
        assert!(s.methods(&Namespace::from(UserId::new("other").unwrap())).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_retired_version_is_never_committed_and_the_current_one_cannot_be_retired() {
        let s = MemoryStore::new();
        let (u, m, a, b) = ids();
        s.stage(&u, &m, a, "a").await.unwrap();
        s.stage(&u, &m, b, "b").await.unwrap();
        s.commit(&u, &m, a, None).await.unwrap();
        assert_eq!(s.retire(&u, &m, a).await.unwrap_err().kind(), &ErrorKind::Conflict);
        s.retire(&u, &m, b).await.unwrap();
        assert_eq!(s.get(&u, &m, b).await.unwrap(), "b");
        assert_eq!(s.commit(&u, &m, b, Some(a)).await.unwrap_err().kind(), &ErrorKind::Conflict);
        assert_eq!(s.current_id(&u, &m).await.unwrap(), Some(a));
    }

    #[tokio::test]
    async fn two_clients_of_one_user_are_separate_namespaces() {
        let s = MemoryStore::new();
        let (u, m, a, b) = ids();
        let other = u.clone().with_client(share_backup_core::ClientId::new("client-b").unwrap());
        s.stage(&u, &m, a, "a").await.unwrap();
        s.commit(&u, &m, a, None).await.unwrap();
        s.stage(&other, &m, b, "b").await.unwrap();
        s.commit(&other, &m, b, None).await.unwrap();
        assert_eq!(s.current(&u, &m).await.unwrap().unwrap().envelope, "a");
        assert_eq!(s.current(&other, &m).await.unwrap().unwrap().envelope, "b");
    }

    #[tokio::test]
    async fn a_false_notification_withdraws_the_acknowledgement_of_that_backup() {
        let n = RecordingNotifier::new();
        let (u, m, a, b) = ids();
        n.stored_client_backup_share(u.user(), &m, a, true).await.unwrap();
        n.stored_client_backup_share(u.user(), &m, b, false).await.unwrap();
        assert_eq!(n.acknowledged(u.user(), &m), Some(a));
        n.stored_client_backup_share(u.user(), &m, a, false).await.unwrap();
        assert_eq!(n.acknowledged(u.user(), &m), None);
        assert_eq!(n.notifications().len(), 3);
    }
}
