//! One set of store tests, run against every backend: in-memory, a real
//! temporary directory, moto's S3 server and Azurite (the last two started by
//! `scripts/test-servers.sh`; skipped with a message when not running, and
//! failing when `SHARE_BACKUP_REQUIRE_SERVERS=1`).

mod support;

use std::sync::Arc;

use futures::TryStreamExt;
use share_backup_core::{BackupId, ErrorKind, MethodId, UserId};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_object_store::object_store::path::Path;
use share_backup_object_store::object_store::{ObjectStore, ObjectStoreExt};
use share_backup_object_store::testing::{CountingObjectStore, FaultPlan, FaultTiming, FaultyObjectStore};
use share_backup_orchestrator::{Acknowledgement, CipherTextStore, VersionState};

/// A store on one backend, counted, plus the raw backend underneath.
pub struct Fixture {
    name: &'static str,
    store: ObjectCipherTextStore,
    counter: Arc<CountingObjectStore>,
    raw: Arc<dyn ObjectStore>,
    prefix: String,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    fn new(name: &'static str) -> Option<Fixture> {
        let (raw, prefix, dir) = support::backend(name)?;
        let counter = Arc::new(CountingObjectStore::new(raw.clone()));
        let store = ObjectCipherTextStore::builder(counter.clone()).prefix(&prefix).unwrap().build();
        Some(Fixture { name, store, counter, raw, prefix, _dir: dir })
    }

    /// A second store on the same counted objects, with nothing cached:
    /// what another process, or this one after a restart, sees.
    fn cold(&self) -> ObjectCipherTextStore {
        self.store_over(self.counter.clone())
    }

    /// Another store on the same objects, through `wrap`.
    fn store_over(&self, backend: Arc<dyn ObjectStore>) -> ObjectCipherTextStore {
        ObjectCipherTextStore::builder(backend).prefix(&self.prefix).unwrap().build()
    }

    async fn all_paths(&self) -> Vec<String> {
        let prefix = Path::from(self.prefix.as_str());
        let metas: Vec<_> = self.raw.list(Some(&prefix)).try_collect().await.unwrap();
        metas.into_iter().map(|m| m.location.to_string()).collect()
    }
}

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn id(n: u8) -> BackupId {
    BackupId::from_bytes([n; 16])
}

fn envelope(n: u8) -> String {
    format!("sb1.test-envelope-{n}.{}", "A".repeat(40 + n as usize))
}

mod cases {
    use super::*;

    pub async fn stage_then_get_returns_the_envelope_and_versions_lists_it(f: &Fixture) {
        let (u, m) = (user("alice"), MethodId::PASSWORD);
        f.store.stage(&(&u).into(), &m, id(1), &envelope(1)).await.unwrap();
        assert_eq!(f.store.get(&(&u).into(), &m, id(1)).await.unwrap(), envelope(1));
        let v = f.store.versions(&(&u).into(), &m).await.unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].backup_id, id(1));
        assert_eq!(v[0].state, VersionState::Staged);
        assert!(v[0].staged_at.is_some());
        assert_eq!(f.store.current(&(&u).into(), &m).await.unwrap(), None, "staged is not current");
    }

    pub async fn staging_an_existing_version_is_a_conflict_and_keeps_the_first(f: &Fixture) {
        let (u, m) = (user("alice"), MethodId::PASSWORD);
        f.store.stage(&(&u).into(), &m, id(1), &envelope(1)).await.unwrap();
        let e = f.store.stage(&(&u).into(), &m, id(1), &envelope(2)).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
        let e = f.store.stage(&(&u).into(), &m, id(1), &envelope(1)).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conflict, "even with the same bytes, a second stage is a conflict");
        assert_eq!(f.store.get(&(&u).into(), &m, id(1)).await.unwrap(), envelope(1));
    }

    pub async fn commit_makes_a_version_current_and_keeps_the_previous(f: &Fixture) {
        let (u, m) = (user("alice"), MethodId::GDRIVE);
        f.store.stage(&(&u).into(), &m, id(1), &envelope(1)).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(1), None).await.unwrap();
        let cur = f.store.current(&(&u).into(), &m).await.unwrap().unwrap();
        assert_eq!((cur.backup_id, cur.envelope.as_str()), (id(1), envelope(1).as_str()));

        f.store.stage(&(&u).into(), &m, id(2), &envelope(2)).await.unwrap();
        assert_eq!(
            f.store.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id,
            id(1),
            "staging changes nothing"
        );
        f.store.commit(&(&u).into(), &m, id(2), Some(id(1))).await.unwrap();
        assert_eq!(f.store.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(2));
        assert_eq!(f.store.get(&(&u).into(), &m, id(1)).await.unwrap(), envelope(1), "the previous version is kept");
        let states: Vec<_> =
            f.store.versions(&(&u).into(), &m).await.unwrap().into_iter().map(|v| (v.backup_id, v.state)).collect();
        assert_eq!(states.len(), 2);
        assert!(states.contains(&(id(1), VersionState::Staged)));
        assert!(states.contains(&(id(2), VersionState::Current)));
    }

    pub async fn commit_with_a_stale_expected_is_a_conflict(f: &Fixture) {
        let (u, m) = (user("bob"), MethodId::PASSWORD);
        for n in 1..=3 {
            f.store.stage(&(&u).into(), &m, id(n), &envelope(n)).await.unwrap();
        }
        f.store.commit(&(&u).into(), &m, id(1), None).await.unwrap();
        let e = f.store.commit(&(&u).into(), &m, id(2), None).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
        f.store.commit(&(&u).into(), &m, id(2), Some(id(1))).await.unwrap();
        let e = f.store.commit(&(&u).into(), &m, id(3), Some(id(1))).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conflict);
        assert!(e.retryable());
        assert_eq!(f.store.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(2));
    }

    pub async fn committing_a_version_never_staged_is_not_found(f: &Fixture) {
        let (u, m) = (user("bob"), MethodId::PASSWORD);
        let e = f.store.commit(&(&u).into(), &m, id(9), None).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::NotFound, "{e}");
        assert_eq!(f.store.current(&(&u).into(), &m).await.unwrap(), None);
    }

    pub async fn a_retired_version_is_never_committed_by_any_store_and_stays_readable(f: &Fixture) {
        let (u, m) = (user("retiree"), MethodId::PASSWORD);
        let ns = share_backup_orchestrator::Namespace::from(&u);
        let warm = f.cold();
        f.store.stage(&ns, &m, id(1), &envelope(1)).await.unwrap();
        f.store.stage(&ns, &m, id(2), &envelope(2)).await.unwrap();
        f.store.commit(&ns, &m, id(1), None).await.unwrap();
        // Another process's store whose cache says id(1) is current.
        assert_eq!(warm.current_id(&ns, &m).await.unwrap(), Some(id(1)));
        assert_eq!(f.store.retire(&ns, &m, id(1)).await.unwrap_err().kind(), &ErrorKind::Conflict);
        f.store.retire(&ns, &m, id(2)).await.unwrap();
        assert_eq!(f.store.get(&ns, &m, id(2)).await.unwrap(), envelope(2));
        for s in [&warm, &f.cold(), &f.store] {
            let e = s.commit(&ns, &m, id(2), Some(id(1))).await.unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
        }
        assert_eq!(f.cold().current_id(&ns, &m).await.unwrap(), Some(id(1)));
        // A commit of another version steps over the retirement marker.
        f.store.stage(&ns, &m, id(3), &envelope(3)).await.unwrap();
        warm.commit(&ns, &m, id(3), Some(id(1))).await.unwrap();
        assert_eq!(f.cold().current(&ns, &m).await.unwrap().unwrap().envelope, envelope(3));
        f.store.remove(&ns, &m, id(2)).await.unwrap();
        assert_eq!(f.store.get(&ns, &m, id(2)).await.unwrap_err().kind(), &ErrorKind::NotFound);
    }

    pub async fn racing_commits_and_a_retire_of_one_version_never_leave_it_current_and_retired(f: &Fixture) {
        // Each round: 4 stores try to commit version v while another retires
        // it. Either the retire won (v never becomes current) or a commit won
        // (the retire is refused, so no key would be deleted).
        for round in 0..6u8 {
            let (u, m) = (user(&format!("race-retire-{round}")), MethodId::PASSWORD);
            let ns = share_backup_orchestrator::Namespace::from(&u);
            let (base, v) = (id(10), id(11));
            f.store.stage(&ns, &m, base, &envelope(10)).await.unwrap();
            f.store.commit(&ns, &m, base, None).await.unwrap();
            f.store.stage(&ns, &m, v, &envelope(11)).await.unwrap();
            let mut tasks = Vec::new();
            for _ in 0..4 {
                let (s, ns, m) = (f.cold(), ns.clone(), m.clone());
                tasks.push(tokio::spawn(async move { s.commit(&ns, &m, v, Some(base)).await.is_ok() }));
            }
            let (s, ns2, m2) = (f.cold(), ns.clone(), m.clone());
            let retire = tokio::spawn(async move { s.retire(&ns2, &m2, v).await });
            let mut committed = false;
            for t in tasks {
                committed |= t.await.unwrap();
            }
            let retired = retire.await.unwrap();
            let current = f.cold().current_id(&ns, &m).await.unwrap();
            match retired {
                Ok(()) => assert_eq!(current, Some(base), "round {round}: retired, yet current"),
                Err(e) => {
                    assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
                    assert!(committed && current == Some(v), "round {round}: refused without a commit");
                }
            }
        }
    }

    pub async fn two_clients_and_two_custodians_of_one_user_id_keep_separate_backups(f: &Fixture) {
        use share_backup_core::{ClientId, CustodianId};
        let u = user("shared-user");
        let m = MethodId::PASSWORD;
        let base = share_backup_orchestrator::Namespace::from(&u);
        let spaces = [
            base.clone().with_client(ClientId::new("a").unwrap()),
            base.clone().with_client(ClientId::new("b").unwrap()),
            base.clone().with_custodian(CustodianId::new("c").unwrap()),
            base.clone().with_custodian(CustodianId::new("d").unwrap()),
        ];
        for (i, ns) in spaces.iter().enumerate() {
            let i = i as u8;
            f.store.stage(ns, &m, id(i), &envelope(i)).await.unwrap();
            f.store.commit(ns, &m, id(i), None).await.unwrap();
        }
        for (i, ns) in spaces.iter().enumerate() {
            let i = i as u8;
            let cold = f.cold();
            assert_eq!(cold.current(ns, &m).await.unwrap().unwrap().envelope, envelope(i));
            assert_eq!(cold.methods(ns).await.unwrap(), vec![m.clone()]);
            let v = cold.versions(ns, &m).await.unwrap();
            assert_eq!(v.iter().map(|v| v.backup_id).collect::<Vec<_>>(), vec![id(i)]);
        }
        assert!(f.cold().methods(&base).await.unwrap().is_empty());
    }

    pub async fn a_repeated_commit_of_the_same_change_succeeds_once_applied(f: &Fixture) {
        // The orchestrator retries a commit whose answer was lost.
        let (u, m) = (user("carol"), MethodId::PASSWORD);
        f.store.stage(&(&u).into(), &m, id(1), &envelope(1)).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(1), None).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(1), None).await.unwrap();
        f.store.stage(&(&u).into(), &m, id(2), &envelope(2)).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(2), Some(id(1))).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(2), Some(id(1))).await.unwrap();
        assert_eq!(f.store.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(2));
    }

    pub async fn concurrent_commits_with_the_same_expected_have_exactly_one_winner(f: &Fixture) {
        let (u, m) = (user("dave"), MethodId::GDRIVE);
        f.store.stage(&(&u).into(), &m, id(100), &envelope(100)).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(100), None).await.unwrap();
        const N: u8 = 8;
        for n in 1..=N {
            f.store.stage(&(&u).into(), &m, id(n), &envelope(n)).await.unwrap();
        }
        // Separate store instances: as separate processes would be.
        let tasks: Vec<_> = (1..=N)
            .map(|n| {
                let s = f.store_over(f.raw.clone());
                let (u, m) = (u.clone(), m.clone());
                tokio::spawn(async move { (n, s.commit(&(&u).into(), &m, id(n), Some(id(100))).await) })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            let (n, r) = t.await.unwrap();
            match r {
                Ok(()) => winners.push(n),
                Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one commit wins: {winners:?}");
        assert_eq!(f.store.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(winners[0]));
    }

    pub async fn concurrent_commits_from_warm_stores_have_exactly_one_winner(f: &Fixture) {
        // Each writer has read the current version first (as the
        // orchestrator does), so each tries the create-only write at once.
        let (u, m) = (user("dave-warm"), MethodId::GDRIVE);
        f.store.stage(&(&u).into(), &m, id(100), &envelope(100)).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(100), None).await.unwrap();
        const N: u8 = 8;
        let mut writers = Vec::new();
        for n in 1..=N {
            f.store.stage(&(&u).into(), &m, id(n), &envelope(n)).await.unwrap();
            let s = f.store_over(f.raw.clone());
            assert_eq!(s.current_id(&(&u).into(), &m).await.unwrap(), Some(id(100)));
            writers.push(s);
        }
        let tasks: Vec<_> = writers
            .into_iter()
            .zip(1..=N)
            .map(|(s, n)| {
                let (u, m) = (u.clone(), m.clone());
                tokio::spawn(async move { (n, s.commit(&(&u).into(), &m, id(n), Some(id(100))).await, s) })
            })
            .collect();
        let mut winners = Vec::new();
        let mut stores = Vec::new();
        for t in tasks {
            let (n, r, s) = t.await.unwrap();
            match r {
                Ok(()) => winners.push(n),
                Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}"),
            }
            stores.push(s);
        }
        assert_eq!(winners.len(), 1, "exactly one commit wins: {winners:?}");
        let w = id(winners[0]);
        assert_eq!(f.cold().current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, w);
        for s in &stores {
            assert_eq!(s.current_id(&(&u).into(), &m).await.unwrap(), Some(w), "every writer now sees the winner");
        }
    }

    pub async fn a_store_that_cached_an_older_version_still_commits_and_refuses_correctly(f: &Fixture) {
        let (u, m) = (user("olga"), MethodId::PASSWORD);
        for n in 1..=4 {
            f.store.stage(&(&u).into(), &m, id(n), &envelope(n)).await.unwrap();
        }
        f.store.commit(&(&u).into(), &m, id(1), None).await.unwrap();
        // Another process moves the log on twice behind this store's back.
        let other = f.store_over(f.raw.clone());
        other.commit(&(&u).into(), &m, id(2), Some(id(1))).await.unwrap();
        other.commit(&(&u).into(), &m, id(3), Some(id(2))).await.unwrap();
        // This store still believes id(1) is current.
        let e = f.store.commit(&(&u).into(), &m, id(4), Some(id(1))).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
        assert_eq!(f.store.current_id(&(&u).into(), &m).await.unwrap(), Some(id(3)));
        f.store.commit(&(&u).into(), &m, id(4), Some(id(3))).await.unwrap();
        assert_eq!(other.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(4));
        assert_eq!(f.cold().current(&(&u).into(), &m).await.unwrap().unwrap().envelope, envelope(4));
    }

    pub async fn current_id_agrees_with_current_warm_and_cold(f: &Fixture) {
        let (u, m) = (user("pat"), MethodId::GDRIVE);
        assert_eq!(f.store.current_id(&(&u).into(), &m).await.unwrap(), None);
        let mut prev = None;
        for n in 1..=3 {
            f.store.stage(&(&u).into(), &m, id(n), &envelope(n)).await.unwrap();
            f.store.commit(&(&u).into(), &m, id(n), prev).await.unwrap();
            prev = Some(id(n));
            for s in [&f.store, &f.cold()] {
                assert_eq!(s.current_id(&(&u).into(), &m).await.unwrap(), prev);
                assert_eq!(s.current(&(&u).into(), &m).await.unwrap().map(|c| c.backup_id), prev);
            }
        }
    }

    pub async fn a_first_backup_costs_four_requests(f: &Fixture) {
        // What the orchestrator does for a new user: current_id, stage, the
        // acknowledgement record over no version (create-only: it is also
        // the check that no other writer got there first), commit.
        let (u, m) = (user("quinn"), MethodId::PASSWORD);
        let s = f.cold();
        f.counter.reset();
        assert_eq!(s.current_id(&(&u).into(), &m).await.unwrap(), None);
        assert_eq!(f.counter.counts().total(), 1, "a new user: commit 1, absent");
        s.stage(&(&u).into(), &m, id(1), &envelope(1)).await.unwrap();
        s.record_acknowledgement(&(&u).into(), &m, Acknowledgement::new(id(1), None)).await.unwrap();
        s.commit(&(&u).into(), &m, id(1), None).await.unwrap();
        let c = f.counter.counts();
        // A first commit of a version this store staged skips the version
        // check (nothing can be retired before commit 1 exists).
        assert_eq!((c.get, c.head, c.put, c.total()), (1, 0, 3, 4), "{c:?}");
        // Another instance (it did not stage the version) reads it (GET, not
        // HEAD) to refuse a retired one.
        let (u2, other) = (user("quinn-2"), f.cold());
        s.stage(&(&u2).into(), &m, id(9), &envelope(9)).await.unwrap();
        assert_eq!(other.current_id(&(&u2).into(), &m).await.unwrap(), None);
        f.counter.reset();
        other.commit(&(&u2).into(), &m, id(9), None).await.unwrap();
        let c = f.counter.counts();
        assert_eq!((c.get, c.put, c.total()), (1, 1, 2), "{c:?}");
        // A second backup of the same user from the same store: 6 before pruning.
        f.counter.reset();
        assert_eq!(s.current_id(&(&u).into(), &m).await.unwrap(), Some(id(1)));
        s.stage(&(&u).into(), &m, id(2), &envelope(2)).await.unwrap();
        s.record_acknowledgement(&(&u).into(), &m, Acknowledgement::new(id(2), Some(id(1)))).await.unwrap();
        s.commit(&(&u).into(), &m, id(2), Some(id(1))).await.unwrap();
        let c = f.counter.counts();
        assert_eq!((c.get, c.head, c.put, c.total()), (2, 0, 4, 6), "the head hint is written from commit 2 on: {c:?}");
        // A refused acknowledgement costs its PUT and the read of the record in the way.
        f.counter.reset();
        let e = s.record_acknowledgement(&(&u).into(), &m, Acknowledgement::new(id(3), Some(id(1)))).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
        let c = f.counter.counts();
        assert_eq!((c.get, c.put, c.total()), (2, 1, 3), "PUT refused, GET record 1, GET record 2 (absent): {c:?}");
    }

    pub async fn concurrent_stages_of_one_version_have_exactly_one_winner(f: &Fixture) {
        let (u, m) = (user("erin"), MethodId::PASSWORD);
        let tasks: Vec<_> = (1..=6u8)
            .map(|n| {
                let s = f.store_over(f.raw.clone());
                let (u, m) = (u.clone(), m.clone());
                tokio::spawn(async move { (n, s.stage(&(&u).into(), &m, id(42), &envelope(n)).await) })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            let (n, r) = t.await.unwrap();
            match r {
                Ok(()) => winners.push(n),
                Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}"),
            }
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        assert_eq!(f.store.get(&(&u).into(), &m, id(42)).await.unwrap(), envelope(winners[0]));
    }

    pub async fn a_user_without_backups_has_no_current_no_methods_and_no_versions(f: &Fixture) {
        let (u, m) = (user("nobody"), MethodId::PASSWORD);
        assert_eq!(f.store.current(&(&u).into(), &m).await.unwrap(), None);
        assert!(f.store.methods(&(&u).into()).await.unwrap().is_empty());
        assert!(f.store.versions(&(&u).into(), &m).await.unwrap().is_empty());
        let e = f.store.get(&(&u).into(), &m, id(1)).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::NotFound);
    }

    pub async fn methods_lists_only_methods_with_a_current_version(f: &Fixture) {
        let u = user("frank");
        let vault = MethodId::new("my-vault").unwrap();
        for (m, n) in [(&MethodId::PASSWORD, 1), (&MethodId::GDRIVE, 2), (&vault, 3)] {
            f.store.stage(&(&u).into(), m, id(n), &envelope(n)).await.unwrap();
        }
        f.store.commit(&(&u).into(), &MethodId::PASSWORD, id(1), None).await.unwrap();
        f.store.commit(&(&u).into(), &vault, id(3), None).await.unwrap();
        assert_eq!(f.store.methods(&(&u).into()).await.unwrap(), vec![vault.clone(), MethodId::PASSWORD]);
        assert!(f.store.methods(&user("frank2").into()).await.unwrap().is_empty(), "users are separate");
    }

    pub async fn remove_never_deletes_the_current_version(f: &Fixture) {
        let (u, m) = (user("grace"), MethodId::PASSWORD);
        f.store.stage(&(&u).into(), &m, id(1), &envelope(1)).await.unwrap();
        f.store.stage(&(&u).into(), &m, id(2), &envelope(2)).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(1), None).await.unwrap();
        let e = f.store.remove(&(&u).into(), &m, id(1)).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
        assert_eq!(f.store.current(&(&u).into(), &m).await.unwrap().unwrap().envelope, envelope(1));
        f.store.commit(&(&u).into(), &m, id(2), Some(id(1))).await.unwrap();
        f.store.remove(&(&u).into(), &m, id(1)).await.unwrap();
        assert_eq!(f.store.get(&(&u).into(), &m, id(1)).await.unwrap_err().kind(), &ErrorKind::NotFound);
        f.store.remove(&(&u).into(), &m, id(1)).await.unwrap();
        f.store.remove(&(&u).into(), &m, id(77)).await.unwrap();
        assert_eq!(f.store.versions(&(&u).into(), &m).await.unwrap().len(), 1);
        assert_eq!(f.store.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(2));
    }

    pub async fn current_reads_three_objects_whatever_the_number_of_versions_and_users(f: &Fixture) {
        let m = MethodId::PASSWORD;
        for k in 0..5 {
            let other = user(&format!("crowd-{k}"));
            f.store.stage(&(&other).into(), &m, id(1), &envelope(1)).await.unwrap();
            f.store.commit(&(&other).into(), &m, id(1), None).await.unwrap();
        }
        let u = user("heidi");
        let mut prev = None;
        for n in 1..=12u8 {
            f.store.stage(&(&u).into(), &m, id(n), &envelope(n)).await.unwrap();
            f.store.commit(&(&u).into(), &m, id(n), prev).await.unwrap();
            prev = Some(id(n));
        }
        f.counter.reset();
        let cur = f.store.current(&(&u).into(), &m).await.unwrap().unwrap();
        assert_eq!(cur.backup_id, id(12));
        let c = f.counter.counts();
        assert_eq!((c.get, c.total()), (2, 2), "warm: next commit (absent) and envelope: {c:?}");

        f.counter.reset();
        let cur = f.cold().current(&(&u).into(), &m).await.unwrap().unwrap();
        assert_eq!(cur.backup_id, id(12));
        let c = f.counter.counts();
        assert_eq!(
            (c.get, c.total()),
            (5, 5),
            "cold: commit 1 and head, the record the hint names, next commit (absent) and envelope: {c:?}"
        );

        f.counter.reset();
        assert_eq!(f.cold().current(&user("nobody").into(), &m).await.unwrap(), None);
        assert_eq!(f.counter.counts().total(), 2, "commit 1 and head, both absent");

        f.counter.reset();
        f.store.stage(&(&u).into(), &m, id(13), &envelope(13)).await.unwrap();
        assert_eq!(f.counter.counts().total(), 1, "stage is one create-only put");
        f.counter.reset();
        f.store.commit(&(&u).into(), &m, id(13), prev).await.unwrap();
        let c = f.counter.counts();
        assert_eq!((c.get, c.head, c.put, c.total()), (1, 0, 2, 3), "warm commit: GET version, record, hint: {c:?}");
        f.counter.reset();
        f.cold().commit(&(&u).into(), &m, id(14), Some(id(13))).await.unwrap_err();
        f.store.stage(&(&u).into(), &m, id(14), &envelope(14)).await.unwrap();
        f.counter.reset();
        f.cold().commit(&(&u).into(), &m, id(14), Some(id(13))).await.unwrap();
        let c = f.counter.counts();
        assert_eq!((c.get, c.head, c.put, c.total()), (5, 0, 2, 7), "cold commit: {c:?}");
    }

    pub async fn no_object_path_contains_the_user_id(f: &Fixture) {
        let u = user("ivan.the.user@example.com");
        f.store.stage(&(&u).into(), &MethodId::PASSWORD, id(1), &envelope(1)).await.unwrap();
        f.store.commit(&(&u).into(), &MethodId::PASSWORD, id(1), None).await.unwrap();
        let paths = f.all_paths().await;
        assert!(paths.len() >= 2, "{paths:?}");
        for p in &paths {
            assert!(!p.contains("ivan") && !p.contains("example"), "{p}");
        }
    }

    pub async fn a_stale_or_missing_head_hint_still_finds_the_latest_commit_and_is_repaired(f: &Fixture) {
        let (u, m) = (user("judy"), MethodId::PASSWORD);
        for n in 1..=3u8 {
            f.store.stage(&(&u).into(), &m, id(n), &envelope(n)).await.unwrap();
        }
        f.store.commit(&(&u).into(), &m, id(1), None).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(2), Some(id(1))).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(3), Some(id(2))).await.unwrap();
        let paths = f.all_paths().await;
        let head = Path::from(paths.iter().find(|p| p.ends_with("/head")).unwrap().as_str());
        let first = Path::from(paths.iter().find(|p| p.ends_with("/commits/00000000000000000001")).unwrap().as_str());

        // A crash between a commit and its hint leaves the hint behind.
        let old = f.raw.get(&first).await.unwrap().bytes().await.unwrap();
        f.raw.put(&head, old.clone().into()).await.unwrap();
        assert_eq!(f.cold().current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(3));
        let repaired = f.raw.get(&head).await.unwrap().bytes().await.unwrap();
        assert_ne!(repaired, old, "the reader repaired the hint");
        f.counter.reset();
        assert_eq!(f.cold().current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(3));
        assert_eq!(f.counter.counts().total(), 5, "back to five cold reads once repaired");

        // No hint at all: the log is walked from the first commit.
        f.raw.delete(&head).await.unwrap();
        assert_eq!(f.cold().current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(3));
        let e = f.cold().commit(&(&u).into(), &m, id(1), Some(id(2))).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conflict, "the CAS reads the log, not a stale hint");
    }

    pub async fn a_forged_head_hint_naming_an_uncommitted_version_is_not_trusted(f: &Fixture) {
        let (u, m) = (user("mallory"), MethodId::PASSWORD);
        for n in 1..=4u8 {
            f.store.stage(&(&u).into(), &m, id(n), &envelope(n)).await.unwrap();
        }
        f.store.commit(&(&u).into(), &m, id(1), None).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(2), Some(id(1))).await.unwrap();
        f.store.commit(&(&u).into(), &m, id(3), Some(id(2))).await.unwrap();
        let paths = f.all_paths().await;
        let head = Path::from(paths.iter().find(|p| p.ends_with("/head")).unwrap().as_str());
        let genuine = String::from_utf8(f.raw.get(&head).await.unwrap().bytes().await.unwrap().to_vec()).unwrap();
        assert!(genuine.contains(&id(3).to_hex()), "{genuine}");
        // The hint names commit 3 but says it made the staged, never
        // committed version 4 current; then a commit 9 that does not exist.
        let forged_same_seq = genuine.replace(&id(3).to_hex(), &id(4).to_hex());
        let forged_ahead = forged_same_seq.replace("\"seq\":3", "\"seq\":9");
        assert_ne!(forged_ahead, forged_same_seq, "{genuine}");
        for forged in [forged_same_seq, forged_ahead] {
            f.raw.put(&head, forged.clone().into()).await.unwrap();
            let cold = f.cold();
            let current = cold.current(&(&u).into(), &m).await.unwrap().unwrap();
            assert_eq!((current.backup_id, current.envelope), (id(3), envelope(3)), "trusted the hint {forged}");
            assert_eq!(f.cold().current_id(&(&u).into(), &m).await.unwrap(), Some(id(3)), "{forged}");
            let e = f.cold().commit(&(&u).into(), &m, id(1), Some(id(4))).await.unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::Conflict, "the compare-and-swap believed the hint {forged}");
        }
    }

    pub async fn a_hint_far_behind_falls_back_to_listing_the_commit_log(f: &Fixture) {
        let (u, m) = (user("kim"), MethodId::GDRIVE);
        let mut prev = None;
        for n in 1..=22u8 {
            f.store.stage(&(&u).into(), &m, id(n), &envelope(n)).await.unwrap();
            f.store.commit(&(&u).into(), &m, id(n), prev).await.unwrap();
            prev = Some(id(n));
        }
        let paths = f.all_paths().await;
        let head = Path::from(paths.iter().find(|p| p.ends_with("/head")).unwrap().as_str());
        let first = Path::from(paths.iter().find(|p| p.ends_with("/commits/00000000000000000001")).unwrap().as_str());
        let old = f.raw.get(&first).await.unwrap().bytes().await.unwrap();
        f.raw.put(&head, old.into()).await.unwrap();

        f.counter.reset();
        assert_eq!(f.cold().current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(22));
        let c = f.counter.counts();
        assert_eq!(c.list, 1, "probing gave way to one listing: {c:?}");
        assert!(c.total() < 40, "{c:?}");
        f.counter.reset();
        assert_eq!(f.cold().current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(22));
        assert_eq!(f.counter.counts().total(), 5, "the hint was repaired");
        let e = f.cold().commit(&(&u).into(), &m, id(1), Some(id(21))).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conflict);
    }

    pub async fn a_write_whose_answer_was_lost_is_recognised_on_retry(f: &Fixture) {
        let (u, m) = (user("ken"), MethodId::PASSWORD);
        // The first request of each call lands, then fails as a lost response would.
        let faulty = Arc::new(FaultyObjectStore::new(f.raw.clone(), FaultPlan::Nth(1), FaultTiming::After));
        f.store_over(faulty.clone()).stage(&(&u).into(), &m, id(1), &envelope(1)).await.unwrap();
        assert_eq!(faulty.injected(), 1, "the stage's put landed and failed");
        // A cold commit: commit 1 (absent) beside the HEAD of the version,
        // then the record put (3rd) lands and fails.
        let faulty = Arc::new(FaultyObjectStore::new(f.raw.clone(), FaultPlan::Nth(3), FaultTiming::After));
        f.store_over(faulty.clone()).commit(&(&u).into(), &m, id(1), None).await.unwrap();
        assert_eq!(faulty.injected(), 1, "the commit record's put landed and failed");
        assert_eq!(f.store.current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(1));
        // A warm commit: current_id reads commit 1, the head (absent) and
        // commit 2 (absent); then the HEAD, then the record put (5th) lands and fails.
        f.store.stage(&(&u).into(), &m, id(2), &envelope(2)).await.unwrap();
        let faulty = Arc::new(FaultyObjectStore::new(f.raw.clone(), FaultPlan::Nth(5), FaultTiming::After));
        let warm = f.store_over(faulty.clone());
        assert_eq!(warm.current_id(&(&u).into(), &m).await.unwrap(), Some(id(1)));
        warm.commit(&(&u).into(), &m, id(2), Some(id(1))).await.unwrap();
        assert_eq!(faulty.injected(), 1, "the warm commit record's put landed and failed");
        assert_eq!(f.cold().current(&(&u).into(), &m).await.unwrap().unwrap().backup_id, id(2));
    }

    pub async fn a_transient_failure_without_retries_is_unavailable_and_changes_nothing(f: &Fixture) {
        let (u, m) = (user("leo"), MethodId::PASSWORD);
        let faulty = Arc::new(FaultyObjectStore::new(f.raw.clone(), FaultPlan::Nth(1), FaultTiming::Before));
        let s = ObjectCipherTextStore::builder(faulty)
            .prefix(&f.prefix)
            .unwrap()
            .retry(share_backup_object_store::RetryPolicy::none())
            .build();
        let e = s.stage(&(&u).into(), &m, id(1), &envelope(1)).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
        assert!(e.retryable());
        assert_eq!(f.store.get(&(&u).into(), &m, id(1)).await.unwrap_err().kind(), &ErrorKind::NotFound);
    }

    pub async fn from_url_builds_a_working_store(f: &Fixture) {
        let url_store = match f.name {
            "memory" => return, // a memory:// URL is a fresh, separate store
            "local" => {
                let dir = f._dir.as_ref().unwrap().path().join(&f.prefix);
                let url = url::Url::from_directory_path(&dir).unwrap();
                ObjectCipherTextStore::from_url(url.as_str(), Vec::<(String, String)>::new()).unwrap()
            }
            "s3" => {
                let (bucket, opts) = support::s3_options().unwrap();
                ObjectCipherTextStore::from_url(&format!("s3://{bucket}/{}", f.prefix), opts).unwrap()
            }
            "azurite" => {
                let (container, opts) = support::azurite_options().unwrap();
                ObjectCipherTextStore::from_url(&format!("az://{container}/{}", f.prefix), opts).unwrap()
            }
            other => panic!("{other}"),
        };
        let (u, m) = (user("mallory"), MethodId::GDRIVE);
        url_store.stage(&(&u).into(), &m, id(5), &envelope(5)).await.unwrap();
        url_store.commit(&(&u).into(), &m, id(5), None).await.unwrap();
        // The same objects, seen through the test's own client.
        assert_eq!(f.store.current(&(&u).into(), &m).await.unwrap().unwrap().envelope, envelope(5));
        assert_eq!(url_store.methods(&(&u).into()).await.unwrap(), vec![m]);
    }
}

macro_rules! backend {
    ($backend:ident) => {
        mod $backend {
            backend!(@cases $backend;
                stage_then_get_returns_the_envelope_and_versions_lists_it,
                staging_an_existing_version_is_a_conflict_and_keeps_the_first,
                commit_makes_a_version_current_and_keeps_the_previous,
                commit_with_a_stale_expected_is_a_conflict,
                committing_a_version_never_staged_is_not_found,
                a_repeated_commit_of_the_same_change_succeeds_once_applied,
                a_retired_version_is_never_committed_by_any_store_and_stays_readable,
                racing_commits_and_a_retire_of_one_version_never_leave_it_current_and_retired,
                two_clients_and_two_custodians_of_one_user_id_keep_separate_backups,
                concurrent_commits_with_the_same_expected_have_exactly_one_winner,
                concurrent_commits_from_warm_stores_have_exactly_one_winner,
                a_store_that_cached_an_older_version_still_commits_and_refuses_correctly,
                current_id_agrees_with_current_warm_and_cold,
                a_first_backup_costs_four_requests,
                concurrent_stages_of_one_version_have_exactly_one_winner,
                a_user_without_backups_has_no_current_no_methods_and_no_versions,
                methods_lists_only_methods_with_a_current_version,
                remove_never_deletes_the_current_version,
                current_reads_three_objects_whatever_the_number_of_versions_and_users,
                no_object_path_contains_the_user_id,
                a_stale_or_missing_head_hint_still_finds_the_latest_commit_and_is_repaired,
                a_hint_far_behind_falls_back_to_listing_the_commit_log,
                a_forged_head_hint_naming_an_uncommitted_version_is_not_trusted,
                a_write_whose_answer_was_lost_is_recognised_on_retry,
                a_transient_failure_without_retries_is_unavailable_and_changes_nothing,
                from_url_builds_a_working_store,
            );
        }
    };
    (@cases $backend:ident; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(f) = crate::Fixture::new(stringify!($backend)) else { return };
                crate::cases::$case(&f).await;
            }
        )*
    };
}

backend!(memory);
backend!(local);
backend!(s3);
backend!(azurite);
