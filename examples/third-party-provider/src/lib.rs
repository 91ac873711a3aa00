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
pub const METHOD: MethodId = MethodId::from_static("keydir");
/// The environment variable that sets the default directory.
pub const DIR_ENV: &str = "SHARE_BACKUP_KEYDIR";
static METHOD_ID: MethodId = METHOD;
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
    ///
    /// # Errors
    /// `InvalidInput` for an unknown setting or an empty `dir`.
    pub fn from_settings(s: &Settings) -> Result<Self> {
        s.deny_unknown(&["dir"])?;
        let dir = match s.get("dir") {
            Some("") => return Err(Error::invalid_input("setting dir is empty; give the key directory's path")),
            Some(d) => PathBuf::from(d),
            None => std::env::var_os(DIR_ENV).map_or_else(|| PathBuf::from("share-backup-keys"), PathBuf::from),
        };
        Ok(KeyDir::new(dir))
    }

    /// The key file of `backup_id` for `user`: a hash, so the user id is not written in clear,
    /// and one user's header never names another user's file.
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
    let id = match header.as_bytes() {
        [HEADER_V1, id @ ..] => <[u8; BackupId::LEN]>::try_from(id).ok(),
        _ => None,
    };
    id.map(BackupId::from_bytes)
        .ok_or_else(|| Error::invalid_envelope("not a keydir v1 key header (1 version byte and a 16-byte backup id)"))
}

#[async_trait]
impl BackupProvider for KeyDir {
    fn method(&self) -> &MethodId {
        &METHOD_ID
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
        let mut header = vec![HEADER_V1];
        header.extend_from_slice(ctx.backup_id().as_bytes());
        Ok(SealedKey { key, header: KeyHeader::new(header)? })
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

#[cfg(test)]
mod tests {
    use share_backup_core::{BackupProviderExt, BackupShare, Registry, UserId};

    use super::*;

    fn ctx(user: &str) -> Context {
        Context::new(UserId::new(user).unwrap(), BackupId::generate().unwrap())
    }

    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn a_key_file_is_named_by_a_hash_and_holds_exactly_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = KeyDir::new(dir.path());
        let sealed = p.seal_key(&ctx("alice@example.com")).await.unwrap();
        let files = files(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        let name = files[0].file_name().unwrap().to_str().unwrap();
        assert!(!name.contains("alice"), "{name}");
        assert!(name.len() == 64 + 4 && name.ends_with(".key"), "{name}");
        assert_eq!(std::fs::read(&files[0]).unwrap(), sealed.key.expose_secret());
    }

    #[tokio::test]
    async fn sealing_a_backup_id_twice_is_a_conflict_and_keeps_the_first_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = KeyDir::new(dir.path());
        let c = ctx("alice");
        let first = p.seal_key(&c).await.unwrap();
        let e = p.seal_key(&c).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
        assert!(p.open_key(&first.header, &c).await.unwrap() == first.key);
        assert_eq!(files(dir.path()).len(), 1, "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_directory_and_the_key_files_are_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("nested/keys");
        KeyDir::new(&keys).seal_key(&ctx("alice")).await.unwrap();
        assert_eq!(std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777, 0o700);
        let f = &files(&keys)[0];
        assert_eq!(std::fs::metadata(f).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[tokio::test]
    async fn a_damaged_key_file_is_an_integrity_error_and_a_bad_header_invalid_envelope() {
        let dir = tempfile::tempdir().unwrap();
        let p = KeyDir::new(dir.path());
        let c = ctx("alice");
        let sealed = p.seal_key(&c).await.unwrap();
        std::fs::write(&files(dir.path())[0], b"short").unwrap();
        assert_eq!(p.open_key(&sealed.header, &c).await.unwrap_err().kind(), &ErrorKind::Integrity);
        for bad in [vec![], vec![HEADER_V1], vec![2; 17], vec![HEADER_V1; 18]] {
            let e = p.open_key(&KeyHeader::new(bad).unwrap(), &c).await.unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::InvalidEnvelope);
        }
    }

    #[tokio::test]
    async fn probe_leaves_nothing_behind_and_fails_where_the_directory_cannot_be() {
        let dir = tempfile::tempdir().unwrap();
        KeyDir::new(dir.path()).probe(&ctx("alice")).await.unwrap();
        assert!(files(dir.path()).is_empty());
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let e = KeyDir::new(file.join("keys")).probe(&ctx("alice")).await.unwrap_err();
        assert!(!matches!(e.kind(), ErrorKind::Internal), "{e}");
        assert!(e.to_string().contains("a-file"), "the message names the path: {e}");
    }

    #[test]
    fn settings_set_the_directory_and_refuse_typos_and_empty_paths() {
        assert_eq!(KeyDir::from_settings(&Settings::from_pairs([("dir", "/k")])).unwrap().dir, PathBuf::from("/k"));
        let typo = KeyDir::from_settings(&Settings::from_pairs([("directory", "/k")])).unwrap_err();
        assert_eq!(typo.kind(), &ErrorKind::InvalidInput);
        assert!(typo.to_string().contains("known: dir"), "{typo}");
        let empty = KeyDir::from_settings(&Settings::from_pairs([("dir", "")])).unwrap_err();
        assert_eq!(empty.kind(), &ErrorKind::InvalidInput);
        let default = KeyDir::from_settings(&Settings::new()).unwrap().dir;
        let want = std::env::var_os(DIR_ENV).map_or_else(|| PathBuf::from("share-backup-keys"), PathBuf::from);
        assert_eq!(default, want);
    }

    #[tokio::test]
    async fn the_registry_builds_keydir_by_name_and_it_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut reg = Registry::linked().unwrap();
        reg.configure(&METHOD, Settings::from_pairs([("dir", dir.path().to_str().unwrap())])).unwrap();
        let p = reg.resolve(Some(&METHOD)).unwrap();
        let c = ctx("alice");
        let share = BackupShare::new(b"share".to_vec()).unwrap();
        let (env, _) = p.seal_share(&share, &c).await.unwrap();
        assert_eq!(p.open_envelope(&env, &c).await.unwrap().expose_secret(), b"share");
        assert_eq!(files(dir.path()).len(), 1);
    }
}
