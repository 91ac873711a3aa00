//! Test support (feature `testing`): the repository's fake Google Drive,
//! started from the foreign test suites.

use std::sync::Arc;

use share_backup_fake_drive::{FakeDrive as Server, Scope};

use crate::error::{ErrorKind, ShareBackupError};

/// The repository's fake Google Drive (Drive API v3 on 127.0.0.1), for
/// tests of the `gdrive` method without a Google account. Stops when the
/// object is freed.
#[derive(Debug, uniffi::Object)]
pub struct FakeDrive {
    server: Server,
}

#[uniffi::export]
impl FakeDrive {
    /// Starts a fake Drive on a free loopback port, accepting
    /// `fake-drive-token` with every scope.
    ///
    /// # Errors
    /// `Unavailable` when no loopback port can be bound.
    #[uniffi::constructor]
    pub fn start() -> Result<Arc<Self>, ShareBackupError> {
        let server = crate::runtime::block_on(Server::start()).map_err(|e| {
            ShareBackupError::new(ErrorKind::Unavailable, format!("cannot start the fake Drive on 127.0.0.1: {e}"))
        })?;
        Ok(Arc::new(FakeDrive { server }))
    }

    /// The root URL: the `gdrive` provider's `endpoint` setting.
    pub fn endpoint(&self) -> String {
        self.server.root_url()
    }

    /// Accepts `token` from now on, with every scope.
    pub fn add_token(&self, token: String) {
        self.server.add_token(&token, Scope::ALL);
    }

    /// Refuses `token` from now on (401), as for an expired token.
    pub fn revoke_token(&self, token: String) {
        self.server.revoke_token(&token);
    }

    /// How many files (key files and folders) the fake Drive holds.
    pub fn file_count(&self) -> u64 {
        self.server.files().len() as u64
    }

    /// How many requests it answered.
    pub fn request_count(&self) -> u64 {
        self.server.requests().len() as u64
    }
}
