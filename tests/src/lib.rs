//! Support code for the end-to-end tests: real cipher-text stores (memory,
//! a temporary directory, moto's S3 server, Azurite), a fast password
//! provider, and a notifier that survives the process (for crash tests).
//!
//! The S3 and Azurite backends are found through the variables that
//! `scripts/test-servers.sh start` prints; without them those backends are
//! skipped (with a message), unless `SHARE_BACKUP_REQUIRE_SERVERS=1`, when a
//! missing server fails the test.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use share_backup_core::{BackupId, Error, MethodId, Result, UserId};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_orchestrator::Notifier;
use share_backup_password::{KdfParams, PasswordProvider};

/// The backends every end-to-end matrix runs on.
pub const BACKENDS: &[&str] = &["memory", "local", "s3", "azurite"];

/// The value of `var`, or `None` after saying why the caller skips; panics
/// instead when `SHARE_BACKUP_REQUIRE_SERVERS=1` (as in CI).
pub fn server_var(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("SHARE_BACKUP_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "{var} is not set but SHARE_BACKUP_REQUIRE_SERVERS=1: run eval \"$(scripts/test-servers.sh start)\""
            );
            eprintln!("skipped: {var} is not set; start the servers with eval \"$(scripts/test-servers.sh start)\"");
            None
        }
    }
}

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} must be set (see scripts/test-servers.sh env)"))
}

/// 8 random bytes in hex, to keep test runs apart in shared servers.
pub fn unique(tag: &str) -> String {
    let mut b = [0u8; 8];
    share_backup_core::fill_random(&mut b).expect("randomness");
    format!("{tag}-{}", hex::encode(b))
}

/// A cipher-text store on one backend, and what keeps it alive.
pub struct Backend {
    /// The backend's name (`memory`, `local`, `s3`, `azurite`).
    pub name: &'static str,
    /// The store.
    pub store: Arc<ObjectCipherTextStore>,
    /// The URL it was built from (`file://...` for `local`).
    pub url: String,
    /// The options it was built with.
    pub options: Vec<(String, String)>,
    dir: Option<tempfile::TempDir>,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend").field("name", &self.name).field("url", &self.url).finish()
    }
}

impl Backend {
    /// The temporary directory of a `local` backend.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    /// Another store on the same data (a second process, as far as the
    /// store can tell); `None` for `memory`, whose data lives in one instance.
    pub fn reopen(&self) -> Option<ObjectCipherTextStore> {
        match self.name {
            "memory" => None,
            "local" => Some(ObjectCipherTextStore::local_dir(self.dir()?).expect("reopen the directory")),
            _ => Some(ObjectCipherTextStore::from_url(&self.url, self.options.clone()).expect("reopen the store")),
        }
    }
}

/// A fresh store on `name`, or `None` when that server is not running.
///
/// # Panics
/// For an unknown backend name, or a store that cannot be built.
pub fn backend(name: &'static str) -> Option<Backend> {
    let prefix = unique("e2e");
    let (url, options, dir) = match name {
        "memory" => ("memory://".to_owned(), Vec::new(), None),
        "local" => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let store = ObjectCipherTextStore::local_dir(dir.path()).expect("a local-directory store");
            let url = format!("file://{}", dir.path().display());
            return Some(Backend { name, store: Arc::new(store), url, options: Vec::new(), dir: Some(dir) });
        }
        "s3" => {
            let endpoint = server_var("SHARE_BACKUP_S3_ENDPOINT")?;
            share_backup_object_store::install_default_crypto_provider();
            let opts = vec![
                ("aws_endpoint".to_owned(), endpoint),
                ("aws_allow_http".to_owned(), "true".to_owned()),
                ("aws_region".to_owned(), required("SHARE_BACKUP_S3_REGION")),
                ("aws_access_key_id".to_owned(), required("SHARE_BACKUP_S3_ACCESS_KEY_ID")),
                ("aws_secret_access_key".to_owned(), required("SHARE_BACKUP_S3_SECRET_ACCESS_KEY")),
            ];
            (format!("s3://{}/{prefix}", required("SHARE_BACKUP_S3_BUCKET")), opts, None)
        }
        "azurite" => {
            let endpoint = server_var("SHARE_BACKUP_AZURITE_ENDPOINT")?;
            share_backup_object_store::install_default_crypto_provider();
            let opts = vec![
                ("azure_storage_endpoint".to_owned(), endpoint),
                ("azure_allow_http".to_owned(), "true".to_owned()),
                ("azure_storage_account_name".to_owned(), required("SHARE_BACKUP_AZURITE_ACCOUNT")),
                ("azure_storage_account_key".to_owned(), required("SHARE_BACKUP_AZURITE_KEY")),
            ];
            (format!("az://{}/{prefix}", required("SHARE_BACKUP_AZURITE_CONTAINER")), opts, None)
        }
        other => panic!("unknown backend {other}"),
    };
    let store = ObjectCipherTextStore::from_url(&url, options.clone()).expect("a store from the URL");
    Some(Backend { name, store: Arc::new(store), url, options, dir })
}

/// The password provider with tiny KDF costs (2 KiB, below the floor for
/// new backups, through the test-only `insecure_allow_costs_below_floor`),
/// so that a matrix of hundreds of backups runs in seconds. The costs are in
/// the envelope, so recovery uses exactly these.
pub fn fast_password_provider() -> PasswordProvider {
    PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .kdf_params(KdfParams::new(64, 1, 1).expect("valid KDF costs"))
        .build()
        .expect("a password provider")
}

/// One line of a [`FileNotifier`]'s record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The user.
    pub user: String,
    /// The method.
    pub method: String,
    /// The backup id.
    pub backup_id: BackupId,
    /// The outcome told.
    pub success: bool,
}

/// A [`Notifier`] that appends each call to a file and syncs it before
/// returning, so that what was acknowledged survives a killed process.
/// Each line is written with one `write` call on an `O_APPEND` file, so
/// several processes can share one file without their lines interleaving;
/// the order of the lines is the order the calls were heard.
#[derive(Clone, Debug)]
pub struct FileNotifier {
    path: PathBuf,
    lock: Arc<Mutex<()>>,
}

impl FileNotifier {
    /// Records into `path` (appending).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileNotifier { path: path.into(), lock: Arc::default() }
    }

    /// Every call recorded in `path`, in order.
    ///
    /// # Panics
    /// On a malformed line.
    pub fn read(path: impl AsRef<Path>) -> Vec<Ack> {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                assert_eq!(f.len(), 4, "malformed line {l:?}");
                Ack {
                    user: f[0].to_owned(),
                    method: f[1].to_owned(),
                    backup_id: f[2].parse().expect("a backup id"),
                    success: f[3] == "true",
                }
            })
            .collect()
    }

    /// The backup id of the last `success = true` for (user, method) not
    /// withdrawn by a later `false` of the same backup id.
    pub fn acknowledged(acks: &[Ack], user: &UserId, method: &MethodId) -> Option<BackupId> {
        let mut last = None;
        for a in acks.iter().filter(|a| a.user == user.as_str() && a.method == method.as_str()) {
            if a.success {
                last = Some(a.backup_id);
            } else if last == Some(a.backup_id) {
                last = None;
            }
        }
        last
    }
}

#[async_trait]
impl Notifier for FileNotifier {
    async fn stored_client_backup_share(
        &self,
        user: &UserId,
        method: &MethodId,
        backup_id: BackupId,
        success: bool,
    ) -> Result<()> {
        assert!(!user.as_str().contains(' '), "FileNotifier needs user ids without spaces");
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let io =
            |e: std::io::Error| Error::new(share_backup_core::ErrorKind::Unavailable, "notifier file").with_source(e);
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        f.write_all(format!("{user} {method} {backup_id} {success}\n").as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(())
    }
}
