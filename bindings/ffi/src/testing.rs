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

/// Benchmark support: `iterations` password backups of `share` for
/// `user_id` through the Rust API of the same orchestrator, with the same
/// configs as a `backup` call from the app; returns the total seconds.
/// The bindings' overhead is the app's time for the same loop over this.
///
/// # Errors
/// The first backup error.
#[uniffi::export]
pub async fn bench_rust_backups(
    share_backup: Arc<crate::ShareBackup>,
    user_id: String,
    share: Vec<u8>,
    password: String,
    iterations: u32,
) -> Result<f64, ShareBackupError> {
    use share_backup_core::{BackupShare, Configs, MethodId, SecretString, UserId};
    use share_backup_password::PasswordConfig;
    let orch = share_backup.orchestrator();
    crate::runtime::spawn(async move {
        let user = UserId::new(&user_id)?;
        let start = std::time::Instant::now();
        for _ in 0..iterations {
            let configs = Configs::new().with(PasswordConfig::from(SecretString::from(password.clone())));
            let req = share_backup_orchestrator::BackupRequest::new(user.clone(), BackupShare::from_slice(&share)?)
                .with_method(MethodId::PASSWORD)
                .with_configs(configs);
            orch.backup(req).await?;
        }
        Ok(start.elapsed().as_secs_f64())
    })
    .await
}

/// Benchmark support: `iterations` `methods` calls through the Rust API;
/// returns the total seconds.
///
/// # Errors
/// The first error.
#[uniffi::export]
pub async fn bench_rust_methods(
    share_backup: Arc<crate::ShareBackup>,
    user_id: String,
    iterations: u32,
) -> Result<f64, ShareBackupError> {
    let orch = share_backup.orchestrator();
    crate::runtime::spawn(async move {
        let user = share_backup_core::UserId::new(&user_id)?;
        let start = std::time::Instant::now();
        for _ in 0..iterations {
            orch.methods(&user).await?;
        }
        Ok(start.elapsed().as_secs_f64())
    })
    .await
}

/// Benchmark support: the time of `iterations` progress callbacks into
/// `listener` (the app's callback, called from a share-backup thread as the
/// relay does) and into a Rust closure through a `ProgressSink`; returns
/// `[app_seconds, rust_seconds]`.
#[uniffi::export]
pub async fn bench_progress(listener: Arc<dyn crate::ProgressListener>, iterations: u32) -> Vec<f64> {
    use share_backup_core::{Progress, Status};
    let _on_caller = listener.clone();
    crate::runtime::spawn(async move {
        let app = tokio::task::spawn_blocking(move || {
            let start = std::time::Instant::now();
            for _ in 0..iterations {
                let _ = listener.on_progress(crate::ProgressStatus::Reading, false);
            }
            start.elapsed().as_secs_f64()
        })
        .await
        .unwrap_or_default();
        let count = std::sync::atomic::AtomicU64::new(0);
        let rust: Box<dyn Fn(Progress) + Send + Sync> = Box::new(move |_| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        let start = std::time::Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(&rust)(Progress { status: Status::Reading, done: false });
        }
        Ok(vec![app, start.elapsed().as_secs_f64()])
    })
    .await
    .unwrap_or_default()
}
