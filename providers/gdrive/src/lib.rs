#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::sync::Arc;

use share_backup_core::{
    BackupProvider, Capabilities, Context, DataKey, Error, KeyHeader, MethodId, Registration, Result, SealedKey,
    Settings, async_trait,
};

/// This provider's method id.
pub static METHOD: MethodId = MethodId::GDRIVE;

/// The provider (skeleton: every operation returns `Unsupported` until implemented).
#[derive(Debug, Default)]
pub struct DriveProvider {
    _private: (),
}

impl DriveProvider {
    /// Builds the provider from registry settings.
    ///
    /// # Errors
    /// `InvalidInput` for unknown settings.
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        settings.deny_unknown(&[])?;
        Ok(Self::default())
    }
}

fn not_yet() -> Error {
    Error::unsupported("this provider is not implemented yet").with_method(METHOD.clone())
}

#[async_trait]
impl BackupProvider for DriveProvider {
    fn method(&self) -> &MethodId {
        &METHOD
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new().with_remote(true).with_deletes(true).with_probes(true)
    }
    async fn probe(&self, _ctx: &Context) -> Result<()> {
        Err(not_yet())
    }
    async fn seal_key(&self, _ctx: &Context) -> Result<SealedKey> {
        Err(not_yet())
    }
    async fn open_key(&self, _header: &KeyHeader, _ctx: &Context) -> Result<DataKey> {
        Err(not_yet())
    }
    async fn delete_key(&self, _header: &KeyHeader, _ctx: &Context) -> Result<()> {
        Err(not_yet())
    }
}

fn build(settings: &Settings) -> Result<Arc<dyn BackupProvider>> {
    Ok(Arc::new(DriveProvider::from_settings(settings)?))
}

share_backup_core::register_provider!(Registration::new(
    "gdrive",
    "Random data key kept in the user's own Google Drive (appDataFolder)",
    env!("CARGO_PKG_NAME"),
    build
));
