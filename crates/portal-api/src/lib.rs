#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod keys;
mod notifier;

pub use keys::{ClientApiKeys, StaticApiKey};
pub use notifier::{
    DEFAULT_API_VERSION, DEFAULT_BASE_URL, PortalError, PortalNotifier, PortalNotifierBuilder, RetryPolicy,
    STORED_CLIENT_BACKUP_SHARE_PATH, install_default_crypto_provider,
};
