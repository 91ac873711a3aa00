//! Shared fixtures of the orchestrator's tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use share_backup_core::{BackupShare, Progress, ProgressSink, Registry, UserId};
use share_backup_orchestrator::testing::{FaultPlan, FaultyNotifier, FaultyProvider, FaultyStore, MemoryKeyProvider};
use share_backup_orchestrator::{BackupRequest, MemoryStore, Orchestrator, RecordingNotifier, RetryPolicy};

pub struct Rig {
    pub plan: FaultPlan,
    pub store: MemoryStore,
    pub notifier: RecordingNotifier,
    pub keys: MemoryKeyProvider,
    pub orch: Orchestrator,
}

pub fn user(name: &str) -> UserId {
    UserId::new(name).unwrap()
}

pub fn share(bytes: &[u8]) -> BackupShare {
    BackupShare::new(bytes.to_vec()).unwrap()
}

pub fn rig(retry: RetryPolicy) -> Rig {
    rig_with(retry, MemoryKeyProvider::new())
}

/// An orchestrator whose store, notifier and provider share one fault plan.
pub fn rig_with(retry: RetryPolicy, keys: MemoryKeyProvider) -> Rig {
    let plan = FaultPlan::new();
    let store = MemoryStore::new();
    let notifier = RecordingNotifier::new();
    let orch = Orchestrator::builder()
        .registry(Registry::empty())
        .provider(Arc::new(FaultyProvider::new(Arc::new(keys.clone()), plan.clone())))
        .store(Arc::new(FaultyStore::new(Arc::new(store.clone()), plan.clone())))
        .notifier(Arc::new(FaultyNotifier::new(Arc::new(notifier.clone()), plan.clone())))
        .retry(retry)
        .build()
        .unwrap();
    Rig { plan, store, notifier, keys, orch }
}

impl Rig {
    /// Another process on the same store, keys and wallet service, without
    /// faults or retries.
    pub fn another_process(&self) -> Orchestrator {
        Orchestrator::builder()
            .registry(Registry::empty())
            .provider(Arc::new(self.keys.clone()))
            .store(Arc::new(self.store.clone()))
            .notifier(Arc::new(self.notifier.clone()))
            .retry(RetryPolicy::none())
            .build()
            .unwrap()
    }
}

pub fn backup_req(u: &UserId, bytes: &[u8]) -> BackupRequest {
    BackupRequest::new(u.clone(), share(bytes)).with_method(MemoryKeyProvider::METHOD)
}

pub fn recording() -> (ProgressSink, Arc<Mutex<Vec<Progress>>>) {
    ProgressSink::recording()
}

/// Progress events are in the one documented order, exactly one has
/// `done = true`, and it is the last.
pub fn assert_progress_well_formed(log: &[Progress]) {
    assert!(!log.is_empty(), "no progress event at all");
    let last = log.last().unwrap();
    assert!(last.done, "the last event is not done: {log:?}");
    assert_eq!(log.iter().filter(|p| p.done).count(), 1, "more than one done event: {log:?}");
    for w in log.windows(2) {
        assert!(w[0].status.rank() < w[1].status.rank(), "events out of order: {log:?}");
    }
}

pub fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy::none().with_max_retries(attempts - 1)
}
