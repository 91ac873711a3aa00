#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::{ErrorKind as Io, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use share_backup_core::{
    BackupId, BackupProvider, Capabilities, Context, DataKey, Error, ErrorKind, ExposeSecret, KeyHeader, MethodId,
    Registration, Result, SealedKey, SettingSpec, Settings, Status, async_trait, register_provider,
};

/// This provider's method id, written into every envelope it seals.
pub static METHOD: MethodId = MethodId::from_static("keydir");
/// The environment variable that sets the default directory.
pub const DIR_ENV: &str = "SHARE_BACKUP_KEYDIR";
const HEADER_V1: u8 = 1;

/// Keeps each backup's data key in its own file in a local directory.
#[derive(Clone, Debug)]
pub struct KeyDir {
    dir: PathBuf,
}

impl KeyDir {
    /// A provider keeping keys in `dir` (created, mode 0700, at the first backup).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        KeyDir { dir: dir.into() }
    }

    /// Builds from registry settings: `dir`, else `$SHARE_BACKUP_KEYDIR`, else `./share-backup-keys`.
    /// An unknown setting or an empty `dir` is `InvalidInput`.
    pub fn from_settings(s: &Settings) -> Result<Self> {
        s.deny_unknown(&["dir"])?;
        let dir = match s.get("dir") {
            Some("") => return Err(Error::invalid_input("setting dir is empty; give the key directory's path")),
            Some(d) => PathBuf::from(d),
            None => std::env::var_os(DIR_ENV).map_or_else(|| PathBuf::from("share-backup-keys"), PathBuf::from),
        };
        Ok(KeyDir::new(dir))
    }

    /// The key file of `backup_id` for the user: a hash (no user id in clear; B's header never names A's file).
    fn path(&self, ctx: &Context, backup_id: &BackupId) -> PathBuf {
        let user = ctx.user().as_str().as_bytes();
        let mut h = Sha256::new();
        h.update(b"share-backup-keydir v1\0");
        h.update((user.len() as u64).to_be_bytes());
        h.update(user);
        h.update(backup_id.as_bytes());
        self.dir.join(format!("{}.key", hex::encode(h.finalize())))
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    let kind = match e.kind() {
        Io::NotFound => ErrorKind::NotFound,
        Io::PermissionDenied => ErrorKind::PermissionDenied,
        Io::AlreadyExists => ErrorKind::Conflict,
        _ => ErrorKind::Unavailable,
    };
    Error::new(kind, format!("could not {what} key file {}", path.display())).with_source(e)
}

/// Runs blocking file I/O off the async executor.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::internal("key file task failed").with_source(e))?
}

/// Writes `bytes` to `path` only if no file is there (never overwrites), durably.
fn create_new(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| io_error("create the directory of", path, e))?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io_error("create a temporary", path, e))?;
    tmp.as_file().write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(|e| io_error("write", path, e))?;
    tmp.persist_noclobber(path).map_err(|e| io_error("store", path, e.error))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error("sync the directory of", path, e))
}

fn backup_id_of(header: &KeyHeader) -> Result<BackupId> {
    let id = header.as_bytes().strip_prefix(&[HEADER_V1]).and_then(|id| id.try_into().ok());
    id.map(BackupId::from_bytes)
        .ok_or_else(|| Error::invalid_envelope("not a keydir v1 key header (1 version byte and a 16-byte backup id)"))
}

#[async_trait]
impl BackupProvider for KeyDir {
    fn method(&self) -> &MethodId {
        &METHOD
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new().with_deletes(true).with_probes(true)
    }

    #[tracing::instrument(name = "keydir.probe", skip_all, fields(dir = %self.dir.display()))]
    async fn probe(&self, ctx: &Context) -> Result<()> {
        let (dir, path) = (self.dir.clone(), self.path(ctx, &BackupId::generate()?).with_extension("probe"));
        blocking(move || {
            create_new(&dir, &path, b"probe")?;
            std::fs::remove_file(&path).map_err(|e| io_error("remove the probe", &path, e))
        })
        .await
    }

    #[tracing::instrument(name = "keydir.seal_key", skip_all, fields(backup_id = %ctx.backup_id()))]
    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey> {
        ctx.report(Status::Generating);
        let key = DataKey::generate()?;
        let (dir, path, bytes) = (self.dir.clone(), self.path(ctx, &ctx.backup_id()), key.expose_secret().to_vec());
        blocking(move || create_new(&dir, &path, &zeroize::Zeroizing::new(bytes))).await?;
        let header = KeyHeader::new([&[HEADER_V1][..], ctx.backup_id().as_bytes()].concat())?;
        Ok(SealedKey { key, header })
    }

    #[tracing::instrument(name = "keydir.open_key", skip_all, fields(backup_id = %ctx.backup_id()))]
    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey> {
        let path = self.path(ctx, &backup_id_of(header)?);
        ctx.report(Status::FetchingKey);
        let bytes = blocking(move || std::fs::read(&path).map_err(|e| io_error("read", &path, e))).await?;
        DataKey::from_slice(&zeroize::Zeroizing::new(bytes))
            .map_err(|_| Error::new(ErrorKind::Integrity, "the key file is damaged (not 64 bytes)"))
    }

    #[tracing::instrument(name = "keydir.delete_key", skip_all, fields(backup_id = %ctx.backup_id()))]
    async fn delete_key(&self, header: &KeyHeader, ctx: &Context) -> Result<()> {
        let path = self.path(ctx, &backup_id_of(header)?);
        blocking(move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != Io::NotFound => Err(io_error("delete", &path, e)),
            _ => Ok(()),
        })
        .await
    }
}

fn build(s: &Settings) -> Result<std::sync::Arc<dyn BackupProvider>> {
    Ok(std::sync::Arc::new(KeyDir::from_settings(s)?))
}

const DIR_DOC: &str = "directory of the key files (default: $SHARE_BACKUP_KEYDIR, else ./share-backup-keys)";
register_provider!(
    Registration::new("keydir", "Data keys in a local directory (template provider)", env!("CARGO_PKG_NAME"), build)
        .with_settings(&[SettingSpec::new("dir", DIR_DOC, "/var/lib/share-backup/keys")])
);
