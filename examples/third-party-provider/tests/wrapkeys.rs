//! A second template, whole in this file: a provider that wraps each data key
//! under a provider-wide master key (a KMS, an HSM, a key file) and keeps
//! nothing itself: the wrapped key travels in the key header. It passes the
//! conformance suite, run by `main` below:
//! `cargo test -p share-backup-example-keydir --test wrapkeys`.
//!
//! The wrapping is the framework's own AES-256-SIV sealing (`Envelope::seal`
//! of the data key under the master key, bound to the user, custodian and
//! client), so the provider writes no cryptography of its own.

use std::path::PathBuf;
use std::sync::Arc;

use share_backup_conformance::{Harness, Suite};
use share_backup_core::{
    BackupProvider, BackupShare, Capabilities, Context, DataKey, Envelope, Error, ExposeSecret, KeyHeader, MethodId,
    Registration, Result, SealedKey, SettingSpec, Settings, Status, async_trait, register_provider,
};

/// This provider's method id.
pub static METHOD: MethodId = MethodId::from_static("wrapkeys");
const HEADER_V1: u8 = 1;

/// Where the master key comes from. `DataKey`'s `Debug` is redacted and it
/// is zeroized on drop, so `#[derive(Debug)]` shows no key.
#[derive(Debug)]
enum Master {
    /// Given in code (tests, a key fetched from a KMS at start-up).
    Key(DataKey),
    /// A file of 64 random bytes, read at each call (a mounted secret).
    File(PathBuf),
}

/// Wraps each backup's fresh data key under the master key.
#[derive(Debug)]
pub struct WrapKeys {
    master: Master,
}

impl WrapKeys {
    /// Settings: `master_key_file`. Building never reads the file, so the
    /// registry builds it from empty settings; a call then fails with
    /// `InvalidInput` naming the missing setting (a misconfigured provider).
    pub fn from_settings(s: &Settings) -> Result<Self> {
        s.deny_unknown(&["master_key_file"])?;
        Ok(WrapKeys { master: Master::File(s.get("master_key_file").unwrap_or_default().into()) })
    }

    /// The master key, read off the executor (file I/O blocks).
    async fn master(&self) -> Result<DataKey> {
        let path = match &self.master {
            Master::Key(k) => return Ok(DataKey::from_bytes(*k.expose_secret())),
            Master::File(p) if p.as_os_str().is_empty() => {
                return Err(Error::invalid_input("wrapkeys has no master key: set master_key_file"));
            }
            Master::File(p) => p.clone(),
        };
        tokio::task::spawn_blocking(move || {
            let bytes = zeroize::Zeroizing::new(std::fs::read(&path).map_err(|e| {
                Error::invalid_input(format!("cannot read master_key_file {}", path.display())).with_source(e)
            })?);
            // Only the length is named: never a byte of the key.
            DataKey::from_slice(&bytes).map_err(|_| Error::invalid_input("master_key_file must hold 64 bytes"))
        })
        .await
        .map_err(|e| Error::internal("the master key task failed").with_source(e))?
    }
}

/// The wrapped key inside a header: a version byte, then the envelope text.
fn wrapped(header: &KeyHeader) -> Result<Envelope> {
    match header.as_bytes().split_first() {
        Some((&HEADER_V1, text)) => std::str::from_utf8(text)
            .map_err(|_| Error::invalid_envelope("wrapkeys header: the wrapped key is not text"))?
            .parse(),
        _ => Err(Error::invalid_envelope("not a wrapkeys v1 key header")),
    }
}

#[async_trait]
impl BackupProvider for WrapKeys {
    fn method(&self) -> &MethodId {
        &METHOD
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new().with_probes(true) // keeps nothing, so deletes nothing
    }

    async fn probe(&self, _ctx: &Context) -> Result<()> {
        self.master().await.map(drop)
    }

    #[tracing::instrument(name = "wrapkeys.seal_key", skip_all, fields(backup_id = %ctx.backup_id()))]
    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey> {
        ctx.report(Status::Generating);
        let (master, key) = (self.master().await?, DataKey::generate()?);
        let inner = BackupShare::from_slice(key.expose_secret())?;
        let env = Envelope::seal(
            METHOD.clone(),
            ctx.backup_id(),
            share_backup_core::Aead::Aes256Siv,
            KeyHeader::new(Vec::new())?,
            &master,
            &inner,
            &ctx.binding(),
        )?;
        let header = KeyHeader::new([&[HEADER_V1][..], env.encode().as_bytes()].concat())?;
        Ok(SealedKey { key, header })
    }

    #[tracing::instrument(name = "wrapkeys.open_key", skip_all, fields(backup_id = %ctx.backup_id()))]
    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey> {
        let env = wrapped(header)?; // InvalidEnvelope: a header we cannot parse
        ctx.report(Status::FetchingKey);
        let master = self.master().await?;
        // Integrity: another user's header, a changed one, or another master key.
        DataKey::from_slice(env.open(&master, &ctx.binding())?.expose_secret())
    }

    async fn delete_key(&self, header: &KeyHeader, _ctx: &Context) -> Result<()> {
        wrapped(header).map(drop) // nothing to delete; an unparseable header is still refused
    }
}

fn build(s: &Settings) -> Result<Arc<dyn BackupProvider>> {
    Ok(Arc::new(WrapKeys::from_settings(s)?))
}

register_provider!(
    Registration::new("wrapkeys", "Data keys wrapped under a master key (template)", env!("CARGO_PKG_NAME"), build)
        .with_settings(&[SettingSpec::new("master_key_file", "file of the 64-byte master key", "/run/secrets/mk")])
);

fn main() -> std::process::ExitCode {
    // A fixed key for the test; production draws one with share_backup_core::fill_random.
    let master: [u8; 64] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let provider = Arc::new(WrapKeys { master: Master::Key(DataKey::from_bytes(master)) });
    // The harness is told the provider-wide secret, so that no_secret_in_debug looks for it everywhere.
    let harness = Harness::new().with_provider_secret("the master key", master);
    Suite::new().provider(provider, harness).run()
}
