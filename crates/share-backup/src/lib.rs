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
    /// The guarded-PIN provider (`share-backup-guarded-pin`, feature
    /// `guarded-pin`): everything the crate exports, plus the Ed25519 key
    /// types its tokens use, so an integrator needs no other crate to sign
    /// tokens (`SigningTokenSource::new(issuer, SigningKey)`) or to hand a
    /// realm the [`VerifyingKey`](guarded_pin::VerifyingKey).
    ///
    /// ```
    /// use share_backup::providers::guarded_pin::{GuardedPinProvider, PinConfig, Realm, SigningKey, SigningTokenSource};
    /// // The integrator's key: on its server only (a client app must never hold it).
    /// let key = SigningKey::from_bytes(&[7; 32]);
    /// let mut builder = GuardedPinProvider::builder()
    ///     .threshold(2)
    ///     .token_source(std::sync::Arc::new(SigningTokenSource::new("demo-integrator", key)));
    /// for (id, url) in [("a", "https://a.example"), ("b", "https://b.example"), ("c", "https://c.example")] {
    ///     builder = builder.realm(Realm::new(id, url).unwrap());
    /// }
    /// assert_eq!(builder.build().unwrap().threshold(), 2);
    /// let _per_call = PinConfig::new("482916");
    /// ```
    #[cfg(feature = "guarded-pin")]
    pub mod guarded_pin {
        pub use share_backup_guarded_pin::*;
        pub use share_backup_realm_protocol::{SigningKey, VerifyingKey};
    }
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
