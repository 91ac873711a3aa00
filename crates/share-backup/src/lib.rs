#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use share_backup_core::*;

/// The protocol: back up, recover, verify, rotate (`share-backup-orchestrator`,
/// feature `orchestrator`, on by default).
#[cfg(feature = "orchestrator")]
pub use share_backup_orchestrator as orchestrator;
#[cfg(feature = "orchestrator")]
pub use share_backup_orchestrator::{
    BackupRequest, CipherTextStore, MemoryStore, Notifier, Orchestrator, Receipt, RecordingNotifier, RecoverRequest,
    Recovered, RotateRequest, VerifyRequest,
};

/// The cipher-text store on `object_store`: local files, S3, Azure, GCS
/// (`share-backup-object-store`, feature `object-store`).
#[cfg(feature = "object-store")]
pub use share_backup_object_store as object_store;

/// The notifier for Portal's client API (`share-backup-portal-api`, feature `portal`).
#[cfg(feature = "portal")]
pub use share_backup_portal_api as portal;

/// The former name of [`portal`].
#[cfg(feature = "portal")]
#[doc(hidden)]
pub use share_backup_portal_api as portal_api;

// rustc drops a dependency that no code names, and with it the provider's
// `inventory::submit!`: naming each enabled provider crate links it.
#[cfg(feature = "gdrive")]
use share_backup_gdrive as _;
#[cfg(feature = "guarded-pin")]
use share_backup_guarded_pin as _;
#[cfg(feature = "passkey")]
use share_backup_passkey as _;
#[cfg(feature = "password")]
use share_backup_password as _;

/// The provider crates, for their typed builders and configs.
pub mod providers {
    #[cfg(feature = "gdrive")]
    pub use share_backup_gdrive as gdrive;
    #[cfg(feature = "guarded-pin")]
    pub use share_backup_guarded_pin as guarded_pin;
    #[cfg(feature = "passkey")]
    pub use share_backup_passkey as passkey;
    #[cfg(feature = "password")]
    pub use share_backup_password as password;
}

/// The method ids this build of the facade links, from its cargo features.
#[allow(clippy::vec_init_then_push)] // each push is behind its own feature
pub fn enabled_methods() -> Vec<MethodId> {
    let mut v = Vec::new();
    #[cfg(feature = "gdrive")]
    v.push(MethodId::GDRIVE);
    #[cfg(feature = "guarded-pin")]
    v.push(share_backup_guarded_pin::METHOD.clone());
    #[cfg(feature = "passkey")]
    v.push(share_backup_passkey::METHOD.clone());
    #[cfg(feature = "password")]
    v.push(MethodId::PASSWORD);
    v
}
