#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
// UniFFI's scaffolding generates `extern "C"` functions and `unsafe`
// blocks; this crate is the only one of the workspace that allows them
// (see Cargo.toml's lints). The hand-written code below has none.

uniffi::setup_scaffolding!();

mod api;
mod conformance;
mod error;
mod foreign;
mod kv;
mod passkey;
mod password;
mod runtime;
#[cfg(feature = "testing")]
mod testing;
#[cfg(test)]
mod tests;

pub use api::{
    BackupReceipt, CallConfigs, HealthReport, Notification, NotifierConfig, ProviderInfo, SettingInfo, ShareBackup,
    ShareBackupConfig, StoreConfig,
};
pub use conformance::{
    CaseOutcome, ConformanceCase, ConformanceReport, run_provider_conformance, run_store_conformance,
};
pub use error::{CharClass, ErrorKind, PasswordViolation, ShareBackupError, ViolationKind};
pub use foreign::{
    BackupProvider, GoogleTokenSource, KeyValueStore, Notifier, ProgressListener, ProgressStatus, ProviderCapabilities,
    ProviderContext, SealedKey,
};
pub use passkey::{
    PasskeyAssertion, PasskeyAuthenticator, PasskeyCallConfig, PasskeyCredential, PasskeyPurpose, PasskeyRequest,
    passkey_registration_options_json, passkey_request_options_json, passkey_settings, run_passkey_conformance,
};
pub use password::{
    Calibration, PasswordCheck, PasswordPolicy, Strength, calibrate, check_password, password_requirements,
};
pub use runtime::shutdown;
#[cfg(feature = "testing")]
pub use testing::{FakeDrive, bench_progress, bench_rust_backups, bench_rust_methods};

/// The version of share-backup these bindings were built from.
#[uniffi::export]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
