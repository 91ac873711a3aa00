//! The provider contract: who keeps custody of the data key.

use std::fmt;

use async_trait::async_trait;

use crate::context::Context;
use crate::envelope::{Aead, Envelope};
use crate::error::{Error, ErrorKind, Result};
use crate::method::MethodId;
use crate::secret::{BackupShare, DataKey};

/// What a provider can do, so that the orchestrator and the conformance
/// suite know which steps and cases apply.
///
/// ```
/// use share_backup_core::Capabilities;
/// let caps = Capabilities::new().with_needs_user_secret(true).with_probes(true);
/// assert!(caps.needs_user_secret && !caps.remote);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The key is derived from a secret the user supplies per call (password,
    /// PIN): a wrong one must give [`ErrorKind::WrongSecret`]. A provider that
    /// checks the secret itself (a key-check value) returns keys marked
    /// [`DataKey::confirmed`]; one that cannot has every failed
    /// authentication reported as `WrongSecret` by
    /// [`BackupProviderExt::open_envelope`].
    pub needs_user_secret: bool,
    /// The key is stored away from this process (e.g. in the user's Drive), so
    /// the orchestrator reads it back before acknowledging a backup.
    pub remote: bool,
    /// [`BackupProvider::delete_key`] really deletes; afterwards
    /// [`BackupProvider::open_key`] returns [`ErrorKind::NotFound`].
    pub deletes: bool,
    /// [`BackupProvider::probe`] checks something real (token, quota).
    pub probes: bool,
    /// [`BackupProvider::seal_key`]'s write proves itself: the store of the
    /// key answers with what landed (e.g. the size and checksum of the
    /// uploaded file) and `seal_key` compares that with what it sent, failing
    /// on any difference; a refused write fails `seal_key` with the same
    /// typed error the probe would have given. The orchestrator then skips
    /// both the separate probe and the read-back of the key: a backup costs
    /// the write alone. Providers that cannot prove their write leave it
    /// false and are probed and (when `remote`) read back.
    pub verified_write: bool,
}

impl Capabilities {
    /// No capability set.
    pub const fn new() -> Self {
        Capabilities { needs_user_secret: false, remote: false, deletes: false, probes: false, verified_write: false }
    }
    /// Sets [`Self::needs_user_secret`].
    pub const fn with_needs_user_secret(mut self, v: bool) -> Self {
        self.needs_user_secret = v;
        self
    }
    /// Sets [`Self::remote`].
    pub const fn with_remote(mut self, v: bool) -> Self {
        self.remote = v;
        self
    }
    /// Sets [`Self::deletes`].
    pub const fn with_deletes(mut self, v: bool) -> Self {
        self.deletes = v;
        self
    }
    /// Sets [`Self::probes`].
    pub const fn with_probes(mut self, v: bool) -> Self {
        self.probes = v;
        self
    }
    /// Sets [`Self::verified_write`].
    pub const fn with_verified_write(mut self, v: bool) -> Self {
        self.verified_write = v;
        self
    }
}

/// The provider's own record of where its key is, or how to derive it again
/// (KDF parameters and salt; a Drive file id and name). Written into the
/// envelope in clear and authenticated with it: never put a secret here.
///
/// At most [`KeyHeader::MAX_LEN`] bytes. A provider should version its own
/// header format (a leading version byte) and parse it strictly.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyHeader(Vec<u8>);

impl KeyHeader {
    /// The largest key header, in bytes.
    pub const MAX_LEN: usize = 4096;

    /// Wraps the provider's header bytes.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when longer than [`Self::MAX_LEN`].
    pub fn new(bytes: Vec<u8>) -> Result<Self> {
        if bytes.len() > Self::MAX_LEN {
            return Err(Error::invalid_input(format!(
                "a key header is at most {} bytes, got {}",
                Self::MAX_LEN,
                bytes.len()
            )));
        }
        Ok(KeyHeader(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KeyHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHeader({} bytes)", self.0.len())
    }
}

/// A new data key and the header that finds (or derives) it again.
#[derive(Debug)]
pub struct SealedKey {
    /// The key that will seal the share.
    pub key: DataKey,
    /// Written into the envelope; handed back to [`BackupProvider::open_key`].
    pub header: KeyHeader,
}

/// A backup provider: keeps custody of the data key of each backup.
///
/// The provider derives or stores keys; it never sees the share and never
/// encrypts. The framework seals the share with AES-256-SIV under the key
/// the provider returns, and writes the provider's [`KeyHeader`] into the
/// envelope.
///
/// Implementations must be cheap to share (`Arc<dyn BackupProvider>`) and
/// safe to call concurrently for different users and for the same user.
/// `Debug` must not print secrets (tokens, passwords, keys).
///
/// The conformance suite (`share-backup-conformance`) checks every point of
/// this contract.
#[async_trait]
pub trait BackupProvider: fmt::Debug + Send + Sync + 'static {
    /// The stable method id, equal to the one the provider registers.
    fn method(&self) -> &MethodId;

    /// What this provider can do. Must not change over the provider's life.
    fn capabilities(&self) -> Capabilities;

    /// Checks, cheaply and without side effects that matter, that a backup
    /// could be written and read right now with the configs in `ctx`
    /// (credentials valid, scopes granted, space available, secret present).
    ///
    /// # Errors
    /// The typed reason it could not (`Unauthenticated`, `PermissionDenied`,
    /// `InvalidInput` for a missing config, `PolicyViolation`, ...).
    async fn probe(&self, ctx: &Context) -> Result<()>;

    /// Makes the data key of a new backup (`ctx.backup_id()`), keeps custody
    /// of it, and returns it with the header that finds it again.
    ///
    /// Must never overwrite or delete the key of another backup: the previous
    /// backup stays recoverable until the orchestrator prunes it. May report
    /// [`Status::Generating`](crate::Status::Generating),
    /// [`Status::DerivingKey`](crate::Status::DerivingKey) and
    /// [`Status::UploadingKey`](crate::Status::UploadingKey).
    ///
    /// If the returned future is dropped before completion, nothing but an
    /// orphan key object may remain.
    ///
    /// # Errors
    /// Any typed failure; nothing has been acknowledged.
    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey>;

    /// Gives back the data key named by `header` for `ctx.user()`.
    ///
    /// May report [`Status::DerivingKey`](crate::Status::DerivingKey) or
    /// [`Status::FetchingKey`](crate::Status::FetchingKey). Must refuse a
    /// header that asks for more work than its configured cap
    /// (`ExcessiveWork`) **before** doing that work.
    ///
    /// # Errors
    /// `WrongSecret` when the user's secret is provably wrong; `NotFound` when
    /// the key is gone; `InvalidEnvelope` for a header it cannot parse.
    ///
    /// A provider that checked the key against a check value recorded when
    /// the backup was made returns it [`DataKey::confirmed`], so that a
    /// failed authentication is blamed on the store, not on the user.
    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey>;

    /// Deletes the key named by `header` (a superseded backup). Called only
    /// after a newer backup is acknowledged and current. Deleting a key that
    /// is already gone succeeds. Providers that hold no key (password)
    /// return `Ok(())`.
    ///
    /// # Errors
    /// Any typed failure; the orchestrator logs it and retries on a later prune.
    async fn delete_key(&self, header: &KeyHeader, ctx: &Context) -> Result<()>;
}

/// Conveniences on every provider: the whole seal and open of a share.
#[async_trait]
pub trait BackupProviderExt: BackupProvider {
    /// `seal_key`, then seal `share` under that key into an envelope bound to
    /// `ctx` (user, custodian, client), reporting `Encrypting`.
    ///
    /// # Errors
    /// As [`BackupProvider::seal_key`] and [`Envelope::seal`].
    async fn seal_share(&self, share: &BackupShare, ctx: &Context) -> Result<(Envelope, DataKey)> {
        let sealed = self.seal_key(ctx).await.map_err(|e| attach_method(e, self.method()))?;
        ctx.report(crate::Status::Encrypting);
        let env = Envelope::seal(
            self.method().clone(),
            ctx.backup_id(),
            Aead::Aes256Siv,
            sealed.header,
            &sealed.key,
            share,
            &ctx.binding(),
        )?;
        Ok((env, sealed.key))
    }

    /// `open_key` for the envelope's header, then open it, reporting
    /// `Decrypting`. Refuses an envelope of another method.
    ///
    /// When the envelope does not authenticate under the key:
    /// - the provider [confirmed](DataKey::confirmed) the key (it checked it
    ///   against a check value, so the user's secret was right): `Integrity`,
    ///   with a message and hint that point at the store (the envelope was
    ///   altered, or belongs to another user, custodian or client);
    /// - else, for a provider that `needs_user_secret` and cannot confirm its
    ///   keys: `WrongSecret` (a wrong secret and an altered envelope cannot
    ///   be told apart; the message says both);
    /// - else `Integrity` (the envelope, or the key the provider keeps, was
    ///   changed).
    ///
    /// # Errors
    /// As above; `Integrity` for an envelope of another method; the
    /// provider's errors from `open_key` (`WrongSecret` from providers that
    /// check the secret themselves, `NotFound`, ...).
    async fn open_envelope(&self, envelope: &Envelope, ctx: &Context) -> Result<BackupShare> {
        if envelope.method() != self.method() {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!("the envelope is for method {}, not {}", envelope.method(), self.method()),
            )
            .with_method(self.method().clone()));
        }
        let key = self.open_key(envelope.key_header(), ctx).await.map_err(|e| attach_method(e, self.method()))?;
        ctx.report(crate::Status::Decrypting);
        envelope.open(&key, &ctx.binding()).map_err(|e| {
            if e.kind() != &ErrorKind::Integrity {
                attach_method(e, self.method())
            } else if key.is_confirmed() {
                store_integrity_error(self.method())
            } else if self.capabilities().needs_user_secret {
                Error::new(ErrorKind::WrongSecret, "the secret does not open this backup (or the backup was altered)")
                    .with_method(self.method().clone())
            } else {
                attach_method(e, self.method())
            }
        })
    }
}

/// The error for an envelope that does not authenticate under a key its
/// provider confirmed: the secret was right, the stored envelope is not.
fn store_integrity_error(m: &MethodId) -> Error {
    Error::new(
        ErrorKind::Integrity,
        "the stored envelope does not authenticate although the key is right (the user's secret was correct): \
         the envelope was altered in the store, or it belongs to another user, custodian or client",
    )
    .with_hint(
        "the user typed nothing wrong: check that the store returned this user's envelope for this custodian and \
         client, restore it from the store's history or backups, or make a new backup",
    )
    .with_method(m.clone())
}

impl<P: BackupProvider + ?Sized> BackupProviderExt for P {}

fn attach_method(e: Error, m: &MethodId) -> Error {
    if e.method().is_some() { e } else { e.with_method(m.clone()) }
}
