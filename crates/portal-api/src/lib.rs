#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod keys;
mod notifier;

pub use keys::{ClientApiKeys, StaticApiKey};
pub use notifier::{
    DEFAULT_API_VERSION, DEFAULT_BASE_URL, DEFAULT_RETRY, MULTI_BACKUP_API_VERSION, PortalError, PortalNotifier,
    PortalNotifierBuilder, STORED_CLIENT_BACKUP_SHARE_PATH, install_default_crypto_provider,
};
pub use share_backup_core::RetryPolicy;
