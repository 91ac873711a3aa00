#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod layout;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod url;

pub use error::StoreError;
pub use share_backup_core::RetryPolicy;
pub use store::{DEFAULT_COMMIT_CACHE, DEFAULT_RETRY, ObjectCipherTextStore, ObjectCipherTextStoreBuilder};
pub use url::{SALT_OPTION, install_default_crypto_provider};

/// The `object_store` crate this store is built on, re-exported so that
/// callers build backends with the same version.
pub use object_store;
