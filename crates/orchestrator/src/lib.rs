#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod memory;
mod orchestrator;
mod request;
mod retry;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use memory::{MemoryStore, Notification, RecordingNotifier};
pub use orchestrator::{DEFAULT_PRUNE_GRACE, MIN_PRUNE_GRACE, Orchestrator, OrchestratorBuilder};
pub use request::{
    BackupRequest, HealthReport, IncompleteBackup, KeyCheck, PruneReport, Receipt, RecoverRequest, Recovered,
    RotateRequest, Step, StepTimings, VerifyRequest,
};
pub use retry::{DEFAULT_CALL_TIMEOUT, DEFAULT_RETRY};
pub use share_backup_core::RetryPolicy;
pub use store::{Acknowledgement, CipherTextStore, CurrentVersion, Namespace, Notifier, VersionInfo, VersionState};
