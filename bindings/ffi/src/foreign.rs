//! The traits apps implement (Kotlin, Swift, Python), and the Rust
//! adapters that plug them into the framework.
//!
//! Every foreign method is synchronous on the app's side and returns a
//! result: an app throws `ShareBackupError` with a kind, anything else it
//! throws arrives as `Internal`. Rust calls each one on the runtime's
//! blocking pool, bounded by the call timeout, holding no lock.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use share_backup_core::{
    BackupId, BackupProvider as CoreProvider, Capabilities, Context, DataKey, Error as CoreError, KeyHeader, MethodId,
    ProgressSink, Result as CoreResult, SealedKey as CoreSealedKey, SecretString, Status, UserId, async_trait,
};
use share_backup_orchestrator::Notifier as CoreNotifier;
use tracing::{Instrument, info_span};
use zeroize::Zeroize;

use crate::error::ShareBackupError;
use crate::runtime::call_foreign;

/// A step of a backup or a recovery (the seed's `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ProgressStatus {
    /// Reading the share (backup) or fetching the cipher text (recovery).
    Reading,
    /// Parsing the cipher text.
    Parsing,
    /// Generating a random data key.
    Generating,
    /// Deriving the data key from the user's secret.
    DerivingKey,
    /// Fetching the data key from the provider.
    FetchingKey,
    /// Storing the data key with the provider.
    UploadingKey,
    /// Sealing the share.
    Encrypting,
    /// Opening the envelope.
    Decrypting,
    /// Opening the new envelope again before anything is acknowledged.
    Verifying,
    /// Handing the cipher text to the store.
    Storing,
    /// Telling the wallet service the outcome.
    Acknowledging,
    /// Finished successfully (`done` is true).
    Done,
    /// Finished with an error (`done` is true).
    Failed,
}

impl ProgressStatus {
    pub(crate) fn from_core(s: Status) -> Self {
        match s {
            Status::Reading => ProgressStatus::Reading,
            Status::Parsing => ProgressStatus::Parsing,
            Status::Generating => ProgressStatus::Generating,
            Status::DerivingKey => ProgressStatus::DerivingKey,
            Status::FetchingKey => ProgressStatus::FetchingKey,
            Status::UploadingKey => ProgressStatus::UploadingKey,
            Status::Encrypting => ProgressStatus::Encrypting,
            Status::Decrypting => ProgressStatus::Decrypting,
            Status::Verifying => ProgressStatus::Verifying,
            Status::Storing => ProgressStatus::Storing,
            Status::Acknowledging => ProgressStatus::Acknowledging,
            Status::Done => ProgressStatus::Done,
            _ => ProgressStatus::Failed,
        }
    }
}

/// Receives `{status, done}` progress events, in order; the last one of
/// every operation has `done = true` (also on failure and cancellation).
///
/// Called on a share-backup thread, never the caller's: post to the UI
/// thread yourself. An exception it throws is ignored.
#[uniffi::export(foreign)]
pub trait ProgressListener: Send + Sync {
    /// One progress event.
    fn on_progress(&self, status: ProgressStatus, done: bool) -> Result<(), ShareBackupError>;
}

/// A key-value store the app implements against its own backend (the
/// seed's `exchangeApi.storeCipherText`), holding opaque keys and bytes.
///
/// The framework runs its versioned, create-only commit protocol on top of
/// it, so it keeps every guarantee of the built-in stores, provided that
/// `put_if_absent` really is create-only (atomic: of two concurrent calls
/// for one key, exactly one returns true) and a `get` after a successful
/// put returns the bytes put.
#[uniffi::export(foreign)]
pub trait KeyValueStore: Send + Sync {
    /// Stores `value` under `key` only if `key` is absent; returns false
    /// (and changes nothing) when it exists.
    fn put_if_absent(&self, key: String, value: Vec<u8>) -> Result<bool, ShareBackupError>;
    /// Stores `value` under `key`, replacing any value.
    fn put(&self, key: String, value: Vec<u8>) -> Result<(), ShareBackupError>;
    /// The value under `key`, or none.
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, ShareBackupError>;
    /// Every key that starts with `prefix` (any order).
    fn list(&self, prefix: String) -> Result<Vec<String>, ShareBackupError>;
    /// Removes `key`; removing a missing key succeeds.
    fn delete(&self, key: String) -> Result<(), ShareBackupError>;
}

/// The wallet service's acknowledgement (`portal.api.storedClientBackupShare`):
/// told `success = true` after the cipher text is durably stored and
/// verified, `false` when a backup failed. Must be idempotent (retried).
#[uniffi::export(foreign)]
pub trait Notifier: Send + Sync {
    /// The outcome of one backup.
    fn stored_client_backup_share(
        &self,
        user_id: String,
        method: String,
        backup_id: String,
        success: bool,
    ) -> Result<(), ShareBackupError>;
}

/// Google access tokens from the app's Google Sign-In, for the `gdrive`
/// method (scopes: `https://www.googleapis.com/auth/drive.appdata`, or
/// `drive.file` for a visible folder).
#[uniffi::export(foreign)]
pub trait GoogleTokenSource: Send + Sync {
    /// A valid access token for `scopes`.
    fn access_token(&self, scopes: Vec<String>) -> Result<String, ShareBackupError>;
    /// A fresh token after Google refused the last one; throw
    /// `Unauthenticated` when the user must sign in again.
    fn refresh_token(&self, scopes: Vec<String>) -> Result<String, ShareBackupError>;
}

/// What a backup or key call is about (given to an app's provider). Its
/// string form (Kotlin `toString`, Python `repr`/`str`, Swift
/// `description`) names the keys of `configs`, never their values (they
/// may be tokens).
#[derive(Clone, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct ProviderContext {
    /// The user.
    pub user_id: String,
    /// The backup, 32 hex digits.
    pub backup_id: String,
    /// The custodian the envelope is bound to, if any.
    pub custodian_id: Option<String>,
    /// The client the envelope is bound to, if any.
    pub client_id: Option<String>,
    /// This method's string map from the call's `CallConfigs.provider_configs`.
    pub configs: HashMap<String, String>,
}

impl fmt::Debug for ProviderContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderContext")
            .field("user_id", &self.user_id)
            .field("backup_id", &self.backup_id)
            .field("configs", &self.configs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ProviderContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A new data key and the header that finds it again.
#[derive(uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct SealedKey {
    /// The 64-byte data key. It crosses the boundary as plain bytes: the
    /// app must not log or keep it beyond storing it where `open_key`
    /// finds it.
    pub key: Vec<u8>,
    /// Where the key is (or how to derive it); written into the envelope in
    /// clear, so never a secret. At most 4096 bytes.
    pub header: Vec<u8>,
}

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedKey").field("key", &"[REDACTED]").field("header_len", &self.header.len()).finish()
    }
}

impl fmt::Display for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What an app's provider can do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct ProviderCapabilities {
    /// The key derives from a secret the user gives per call (a wrong one
    /// must throw `WrongSecret`).
    #[uniffi(default)]
    pub needs_user_secret: bool,
    /// The key is stored away from this process (it is read back before a
    /// backup is acknowledged).
    #[uniffi(default)]
    pub remote: bool,
    /// `delete_key` really deletes (afterwards `open_key` throws `NotFound`).
    #[uniffi(default)]
    pub deletes: bool,
    /// `probe` checks something real.
    #[uniffi(default)]
    pub probes: bool,
}

/// A provider written in the app's language (Portal's CUSTOM; an iCloud
/// Keychain provider in Swift), registered at run time under its method id
/// with `ShareBackup.register_provider`. It keeps custody of 64-byte data
/// keys; the framework seals and opens the share with them (AES-256-SIV),
/// so the provider never sees the share.
#[uniffi::export(foreign)]
pub trait BackupProvider: Send + Sync {
    /// Checks cheaply that a backup could be made now (credentials, space).
    fn probe(&self, ctx: ProviderContext) -> Result<(), ShareBackupError>;
    /// Makes (or derives) the data key of backup `ctx.backup_id`, keeps
    /// custody of it, and returns it with its header. Must never overwrite
    /// the key of another backup.
    fn seal_key(&self, ctx: ProviderContext) -> Result<SealedKey, ShareBackupError>;
    /// The 64-byte data key named by `header` (`NotFound` when gone).
    fn open_key(&self, header: Vec<u8>, ctx: ProviderContext) -> Result<Vec<u8>, ShareBackupError>;
    /// Deletes the key named by `header` (a superseded backup); deleting a
    /// missing key succeeds.
    fn delete_key(&self, header: Vec<u8>, ctx: ProviderContext) -> Result<(), ShareBackupError>;
}

// ---------------------------------------------------------------- adapters

/// A progress sink that hands events, in order, to the app's listener on
/// one thread of its own, so a slow or hanging listener never stalls (or
/// hangs) the operation. [`ProgressRelay::finish`] waits, bounded, until
/// the last event was delivered.
pub(crate) struct ProgressRelay {
    sink: ProgressSink,
    worker: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressRelay {
    pub(crate) fn new(listener: Option<Arc<dyn ProgressListener>>) -> Self {
        let Some(listener) = listener else {
            return ProgressRelay { sink: ProgressSink::none(), worker: None };
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(ProgressStatus, bool)>();
        let worker = crate::runtime::runtime().spawn_blocking(move || {
            while let Some((status, done)) = rx.blocking_recv() {
                // An exception of the listener is the app's to handle; the
                // operation goes on.
                let _ = listener.on_progress(status, done);
                if done {
                    break;
                }
            }
        });
        let sink = ProgressSink::new(move |p| {
            let _ = tx.send((ProgressStatus::from_core(p.status), p.done));
        });
        ProgressRelay { sink, worker: Some(worker) }
    }

    pub(crate) fn sink(&self) -> ProgressSink {
        self.sink.clone()
    }

    /// Waits until the listener has seen the last event, at most `timeout`.
    pub(crate) async fn finish(mut self, timeout: Option<Duration>) {
        drop(std::mem::take(&mut self.sink));
        if let Some(w) = self.worker.take() {
            match timeout {
                Some(t) => {
                    let _ = tokio::time::timeout(t, w).await;
                }
                None => {
                    let _ = w.await;
                }
            }
        }
    }
}

/// The app's notifier as the orchestrator's.
pub(crate) struct ForeignNotifier {
    pub(crate) inner: Arc<dyn Notifier>,
    pub(crate) timeout: Option<Duration>,
}

impl fmt::Debug for ForeignNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ForeignNotifier")
    }
}

#[async_trait]
impl CoreNotifier for ForeignNotifier {
    async fn stored_client_backup_share(
        &self,
        user: &UserId,
        method: &MethodId,
        backup_id: BackupId,
        success: bool,
    ) -> CoreResult<()> {
        let inner = self.inner.clone();
        let (u, m, b) = (user.as_str().to_owned(), method.as_str().to_owned(), backup_id.to_hex());
        call_foreign("the app's notifier", self.timeout, move || inner.stored_client_backup_share(u, m, b, success))
            .await
    }
}

/// The app's Google token source as the Drive provider's.
pub(crate) struct ForeignTokenSource {
    pub(crate) inner: Arc<dyn GoogleTokenSource>,
    pub(crate) timeout: Option<Duration>,
}

impl fmt::Debug for ForeignTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ForeignTokenSource")
    }
}

#[async_trait]
impl share_backup_gdrive::TokenSource for ForeignTokenSource {
    async fn token(&self, scopes: &[&str]) -> CoreResult<SecretString> {
        let inner = self.inner.clone();
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let t = call_foreign("the app's Google token source", self.timeout, move || inner.access_token(scopes)).await?;
        Ok(SecretString::from(t))
    }

    async fn refresh(&self, scopes: &[&str]) -> CoreResult<SecretString> {
        let inner = self.inner.clone();
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let t =
            call_foreign("the app's Google token source", self.timeout, move || inner.refresh_token(scopes)).await?;
        Ok(SecretString::from(t))
    }
}

/// The per-call string maps of app providers, by method id. Values may be
/// secrets: zeroized on drop, never printed.
pub(crate) struct ForeignConfigs(pub(crate) HashMap<String, HashMap<String, String>>);

impl Drop for ForeignConfigs {
    fn drop(&mut self) {
        for m in self.0.values_mut() {
            for v in m.values_mut() {
                v.zeroize();
            }
        }
    }
}

impl fmt::Debug for ForeignConfigs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, v)| (k, v.keys().collect::<Vec<_>>()))).finish()
    }
}

/// The app's provider as the framework's.
pub(crate) struct ForeignProvider {
    pub(crate) method: MethodId,
    pub(crate) capabilities: Capabilities,
    pub(crate) inner: Arc<dyn BackupProvider>,
    pub(crate) timeout: Option<Duration>,
}

impl fmt::Debug for ForeignProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForeignProvider").field("method", &self.method).finish_non_exhaustive()
    }
}

impl ForeignProvider {
    fn context(&self, ctx: &Context) -> ProviderContext {
        let configs =
            ctx.config::<ForeignConfigs>().and_then(|c| c.0.get(self.method.as_str())).cloned().unwrap_or_default();
        ProviderContext {
            user_id: ctx.user().as_str().to_owned(),
            backup_id: ctx.backup_id().to_hex(),
            custodian_id: ctx.custodian().map(|c| c.as_str().to_owned()),
            client_id: ctx.client().map(|c| c.as_str().to_owned()),
            configs,
        }
    }

    fn with_method(&self, e: CoreError) -> CoreError {
        if e.method().is_some() { e } else { e.with_method(self.method.clone()) }
    }
}

/// Takes a data key out of app bytes (zeroizing them), or says what is wrong.
fn data_key(mut bytes: Vec<u8>, method: &MethodId) -> CoreResult<DataKey> {
    let r = DataKey::take_from(&mut bytes).map_err(|_| {
        CoreError::invalid_input(format!(
            "the app's provider returned a {}-byte data key; keys are exactly {} bytes",
            bytes.len(),
            DataKey::LEN
        ))
        .with_method(method.clone())
    });
    bytes.zeroize();
    r
}

#[async_trait]
impl CoreProvider for ForeignProvider {
    fn method(&self) -> &MethodId {
        &self.method
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn probe(&self, ctx: &Context) -> CoreResult<()> {
        let (inner, c) = (self.inner.clone(), self.context(ctx));
        call_foreign("the app's provider (probe)", self.timeout, move || inner.probe(c))
            .instrument(info_span!("provider.probe", method = %self.method, backup_id = %ctx.backup_id()))
            .await
            .map_err(|e| self.with_method(e))
    }

    async fn seal_key(&self, ctx: &Context) -> CoreResult<CoreSealedKey> {
        ctx.report(Status::Generating);
        let (inner, c) = (self.inner.clone(), self.context(ctx));
        let mut sealed = call_foreign("the app's provider (seal_key)", self.timeout, move || inner.seal_key(c))
            .instrument(info_span!("provider.seal_key", method = %self.method, backup_id = %ctx.backup_id()))
            .await
            .map_err(|e| self.with_method(e))?;
        let key = data_key(std::mem::take(&mut sealed.key), &self.method)?;
        let header = KeyHeader::new(std::mem::take(&mut sealed.header)).map_err(|e| self.with_method(e))?;
        Ok(CoreSealedKey { key, header })
    }

    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> CoreResult<DataKey> {
        ctx.report(Status::FetchingKey);
        let (inner, c, h) = (self.inner.clone(), self.context(ctx), header.as_bytes().to_vec());
        let bytes = call_foreign("the app's provider (open_key)", self.timeout, move || inner.open_key(h, c))
            .instrument(info_span!("provider.open_key", method = %self.method, backup_id = %ctx.backup_id()))
            .await
            .map_err(|e| self.with_method(e))?;
        data_key(bytes, &self.method)
    }

    async fn delete_key(&self, header: &KeyHeader, ctx: &Context) -> CoreResult<()> {
        let (inner, c, h) = (self.inner.clone(), self.context(ctx), header.as_bytes().to_vec());
        call_foreign("the app's provider (delete_key)", self.timeout, move || inner.delete_key(h, c))
            .instrument(info_span!("provider.delete_key", method = %self.method, backup_id = %ctx.backup_id()))
            .await
            .map_err(|e| self.with_method(e))
    }
}
