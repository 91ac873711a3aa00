//! `ShareBackup`: the framework as one object, its configuration and the
//! records it hands back.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use share_backup_core::{
    BackupId, BackupProvider as CoreProvider, BackupShare, ClientId, Configs, Context, CustodianId, ExposeSecret,
    MethodId, Registry, SecretString, Settings, UserId,
};
use share_backup_gdrive::DriveConfig;
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_orchestrator::{
    BackupRequest, CipherTextStore, DEFAULT_CALL_TIMEOUT, KeyCheck, Notifier as CoreNotifier, Orchestrator,
    RecordingNotifier, RecoverRequest, RotateRequest, VerifyRequest,
};
use share_backup_password::PasswordConfig;
use zeroize::Zeroize;

use crate::error::ShareBackupError;
use crate::foreign::{
    BackupProvider, ForeignConfigs, ForeignNotifier, ForeignTokenSource, GoogleTokenSource, KeyValueStore, Notifier,
    ProgressListener, ProgressRelay, ProviderCapabilities,
};
use crate::kv::AppObjectStore;
use crate::runtime::spawn;

type Result<T, E = ShareBackupError> = std::result::Result<T, E>;

/// Where the cipher texts go.
#[derive(uniffi::Enum)]
#[uniffi::export(Debug, Display)]
pub enum StoreConfig {
    /// An `object_store` URL: `memory://` (tests), `file:///abs/dir`,
    /// `s3://bucket/prefix`, `az://container/prefix`, `gs://bucket/prefix`,
    /// with `object_store`'s options (`aws_endpoint`, ...).
    Url {
        /// The URL.
        url: String,
        /// Backend options (credentials here are zeroized after use).
        #[uniffi(default)]
        options: HashMap<String, String>,
    },
    /// A key-value store the app implements.
    App {
        /// The app's store.
        store: Arc<dyn KeyValueStore>,
    },
}

/// Who is told `storedClientBackupShare`.
#[derive(uniffi::Enum)]
#[uniffi::export(Debug, Display)]
pub enum NotifierConfig {
    /// Portal's client API.
    Portal {
        /// E.g. `https://api.portalhq.io`.
        base_url: String,
        /// E.g. `v1`.
        api_version: String,
        /// The client API key (a secret: zeroized after use, never printed).
        client_api_key: String,
        /// Allow `http://` (loopback tests only).
        #[uniffi(default)]
        allow_insecure_http: bool,
    },
    /// The app's own notifier.
    App {
        /// The app's notifier.
        notifier: Arc<dyn Notifier>,
    },
    /// Records every notification in memory (`ShareBackup.notifications()`); for tests.
    Recording,
}

/// How to build a [`ShareBackup`].
#[derive(Debug, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct ShareBackupConfig {
    /// Where the cipher texts go.
    pub store: StoreConfig,
    /// Who is told the outcome of each backup.
    pub notifier: NotifierConfig,
    /// Settings of the linked providers by method id (`password`, `gdrive`):
    /// the registry's string settings (`share-backup providers` lists them).
    #[uniffi(default)]
    pub provider_settings: HashMap<String, HashMap<String, String>>,
    /// The methods a backup without a method tries, in order (default: `gdrive`).
    #[uniffi(default)]
    pub default_chain: Option<Vec<String>>,
    /// Bound on every single store, notifier, provider and app callback
    /// call, in milliseconds (default 30000).
    #[uniffi(default)]
    pub call_timeout_ms: Option<u64>,
    /// How often a failed store or notifier call is retried (default 3).
    #[uniffi(default)]
    pub max_retries: Option<u32>,
    /// Whether a backup reads a remote provider's key back before acknowledging (default true).
    #[uniffi(default)]
    pub read_back: Option<bool>,
}

/// The per-call configs: the user's secret, credentials, and the string
/// maps of app providers. Rust moves each secret into a type that zeroizes
/// it when the call ends (see the README on what the app's runtime keeps).
#[derive(uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct CallConfigs {
    /// The password, PIN or passcode (the `password` method).
    #[uniffi(default)]
    pub password: Option<String>,
    /// The same as UTF-8 bytes (for apps that keep it in a wipeable byte array).
    #[uniffi(default)]
    pub password_bytes: Option<Vec<u8>>,
    /// A Google access token (the `gdrive` method).
    #[uniffi(default)]
    pub google_access_token: Option<String>,
    /// Or the app's Google token source (refreshes through Google Sign-In).
    #[uniffi(default)]
    pub google_token_source: Option<Arc<dyn GoogleTokenSource>>,
    /// String maps for app and third-party providers, by method id.
    #[uniffi(default)]
    pub provider_configs: HashMap<String, HashMap<String, String>>,
    /// The app's passkey authenticator and the credentials to enrol (the `passkey` method).
    #[uniffi(default)]
    pub passkey: Option<crate::passkey::PasskeyCallConfig>,
    /// Binds the envelope to a custodian (give it again to recover).
    #[uniffi(default)]
    pub custodian_id: Option<String>,
    /// Binds the envelope to a client (give it again to recover).
    #[uniffi(default)]
    pub client_id: Option<String>,
}

impl fmt::Debug for CallConfigs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallConfigs")
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("password_bytes", &self.password_bytes.as_ref().map(|_| "[REDACTED]"))
            .field("google_access_token", &self.google_access_token.as_ref().map(|_| "[REDACTED]"))
            .field("google_token_source", &self.google_token_source.as_ref().map(|_| "app"))
            .field("provider_configs", &self.provider_configs.keys().collect::<Vec<_>>())
            .field("passkey", &self.passkey)
            .finish_non_exhaustive()
    }
}

/// The URL without user info or query (either may hold credentials).
fn redact_url(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or_default();
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => "<not a URL>".to_owned(),
    }
}

impl fmt::Display for CallConfigs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreConfig::Url { url, options } => f
                .debug_struct("Url")
                .field("url", &redact_url(url))
                .field("options", &options.keys().collect::<Vec<_>>())
                .finish(),
            StoreConfig::App { .. } => f.write_str("App"),
        }
    }
}

impl fmt::Display for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Debug for NotifierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifierConfig::Portal { base_url, api_version, allow_insecure_http, .. } => f
                .debug_struct("Portal")
                .field("base_url", base_url)
                .field("api_version", api_version)
                .field("client_api_key", &"[REDACTED]")
                .field("allow_insecure_http", allow_insecure_http)
                .finish(),
            NotifierConfig::App { .. } => f.write_str("App"),
            NotifierConfig::Recording => f.write_str("Recording"),
        }
    }
}

impl fmt::Display for NotifierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Display for ShareBackupConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The configs, the custodian and the client of one call.
struct Call {
    configs: Configs,
    custodian: Option<CustodianId>,
    client: Option<ClientId>,
}

impl CallConfigs {
    fn take(mut self, timeout: Option<Duration>) -> Result<Call> {
        let mut configs = Configs::new();
        match (self.password.take(), self.password_bytes.take()) {
            (Some(mut _p), Some(mut _b)) => {
                _p.zeroize();
                _b.zeroize();
                return Err(ShareBackupError::invalid_input(
                    "give the password once: as password or as password_bytes, not both",
                ));
            }
            (Some(p), None) => {
                configs.insert(PasswordConfig::from(SecretString::from(p)));
            }
            (None, Some(b)) => match String::from_utf8(b) {
                Ok(p) => {
                    configs.insert(PasswordConfig::from(SecretString::from(p)));
                }
                Err(e) => {
                    e.into_bytes().zeroize();
                    return Err(ShareBackupError::invalid_input("password_bytes is not UTF-8; pass the text as UTF-8"));
                }
            },
            (None, None) => {}
        }
        match (self.google_access_token.take(), self.google_token_source.take()) {
            (Some(mut _t), Some(_)) => {
                _t.zeroize();
                return Err(ShareBackupError::invalid_input(
                    "give Google credentials once: google_access_token or google_token_source, not both",
                ));
            }
            (Some(t), None) => {
                configs.insert(DriveConfig::access_token(SecretString::from(t)));
            }
            (None, Some(src)) => {
                configs.insert(DriveConfig::from_source(Arc::new(ForeignTokenSource { inner: src, timeout })));
            }
            (None, None) => {}
        }
        if let Some(p) = self.passkey.take() {
            configs.insert(p.into_core(timeout)?);
        }
        if !self.provider_configs.is_empty() {
            configs.insert(ForeignConfigs(std::mem::take(&mut self.provider_configs)));
        }
        let custodian = self.custodian_id.take().map(CustodianId::new).transpose()?;
        let client = self.client_id.take().map(ClientId::new).transpose()?;
        Ok(Call { configs, custodian, client })
    }
}

/// What a successful backup did: the cipher text is stored, verified,
/// acknowledged and current.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct BackupReceipt {
    /// The method used.
    pub method: String,
    /// The new backup's id (32 hex digits).
    pub backup_id: String,
    /// The cipher text, as stored (the seed's `backupShare`; not secret).
    pub cipher_text: String,
    /// The backup that was current before, if any.
    pub previous_backup_id: Option<String>,
    /// The superseded backups removed with their keys.
    pub pruned: Vec<String>,
}

impl fmt::Debug for BackupReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupReceipt")
            .field("method", &self.method)
            .field("backup_id", &self.backup_id)
            .field("cipher_text_len", &self.cipher_text.len())
            .finish_non_exhaustive()
    }
}

impl From<share_backup_orchestrator::Receipt> for BackupReceipt {
    fn from(r: share_backup_orchestrator::Receipt) -> Self {
        BackupReceipt {
            method: r.method.as_str().to_owned(),
            backup_id: r.backup_id.to_hex(),
            cipher_text: r.envelope,
            previous_backup_id: r.previous.map(|b| b.to_hex()),
            pruned: r.pruned.iter().map(BackupId::to_hex).collect(),
        }
    }
}

/// The outcome of a successful health check.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct HealthReport {
    /// The method checked.
    pub method: String,
    /// The current backup id.
    pub backup_id: String,
    /// Length of the current cipher text.
    pub cipher_text_len: u64,
    /// Length of the sealed share, in bytes.
    pub share_len: u64,
    /// Whether the provider's key was fetched and opens the current backup.
    pub key_checked: bool,
    /// Why the key was not checked (e.g. derived from the password).
    pub key_not_checked_reason: Option<String>,
    /// Other stored versions, oldest first.
    pub other_versions: Vec<String>,
}

/// One documented setting of a provider.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SettingInfo {
    /// The key.
    pub key: String,
    /// What it does.
    pub doc: String,
    /// A valid example value.
    pub example: String,
}

/// One provider of the registry.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ProviderInfo {
    /// The method id.
    pub id: String,
    /// One-line summary.
    pub summary: String,
    /// Its documented settings.
    pub settings: Vec<SettingInfo>,
    /// Whether the app registered it at run time.
    pub registered_by_app: bool,
}

/// One notification recorded by the `Recording` notifier.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Notification {
    /// The user.
    pub user_id: String,
    /// The method.
    pub method: String,
    /// The backup.
    pub backup_id: String,
    /// What was told.
    pub success: bool,
}

/// The inputs the orchestrator is built from (kept to rebuild it when the
/// app registers a provider).
struct Parts {
    store: Arc<dyn CipherTextStore>,
    notifier: Arc<dyn CoreNotifier>,
    settings: Vec<(MethodId, Settings)>,
    chain: Option<Vec<MethodId>>,
    providers: Vec<Arc<dyn CoreProvider>>,
    timeout: Option<Duration>,
    retries: Option<u32>,
    read_back: Option<bool>,
}

impl Parts {
    fn build(&self) -> Result<Orchestrator> {
        let mut registry = Registry::linked()?;
        for (m, s) in &self.settings {
            registry.configure(m, s.clone())?;
        }
        if let Some(c) = &self.chain {
            registry.set_default_chain(c.clone());
        }
        let mut b = Orchestrator::builder()
            .registry(registry)
            .store(self.store.clone())
            .notifier(self.notifier.clone())
            .call_timeout(self.timeout);
        if let Some(n) = self.retries {
            b = b.retry(share_backup_orchestrator::DEFAULT_RETRY.with_max_retries(n));
        }
        if let Some(r) = self.read_back {
            b = b.read_back(r);
        }
        for p in &self.providers {
            b = b.provider(p.clone());
        }
        Ok(b.build()?)
    }
}

/// share-backup: back up, recover, verify and rotate the client key share
/// of an MPC wallet through pluggable providers. One per process; every
/// method may be called from any thread, concurrently.
#[derive(uniffi::Object)]
pub struct ShareBackup {
    orchestrator: Mutex<Orchestrator>,
    parts: Mutex<Parts>,
    recording: Option<Arc<RecordingNotifier>>,
    timeout: Option<Duration>,
}

impl fmt::Debug for ShareBackup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareBackup").field("orchestrator", &*self.orch()).finish()
    }
}

fn user(id: &str) -> Result<UserId> {
    if id.is_empty() {
        return Err(ShareBackupError::invalid_input("the user id is empty; pass the wallet user's id"));
    }
    Ok(UserId::new(id)?)
}

fn method(id: &str) -> Result<MethodId> {
    Ok(MethodId::new(id)?)
}

fn settings(map: HashMap<String, String>) -> Settings {
    Settings::from_pairs(map)
}

impl ShareBackup {
    fn orch(&self) -> std::sync::MutexGuard<'_, Orchestrator> {
        self.orchestrator.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A clone of the orchestrator (cheap: an `Arc`), taken without holding
    /// the lock across anything else.
    pub(crate) fn orchestrator(&self) -> Orchestrator {
        self.orch().clone()
    }

    pub(crate) fn call(&self, configs: CallConfigs) -> Result<(Configs, Option<CustodianId>, Option<ClientId>)> {
        let c = configs.take(self.timeout)?;
        Ok((c.configs, c.custodian, c.client))
    }
}

#[uniffi::export]
impl ShareBackup {
    /// Builds share-backup from a configuration.
    ///
    /// # Errors
    /// `InvalidInput` for a bad URL, setting or method id; `UnknownMethod`
    /// for settings of a method that is not linked.
    #[uniffi::constructor]
    pub fn new(config: ShareBackupConfig) -> Result<Arc<Self>> {
        let _rt = crate::runtime::runtime().enter();
        let timeout = Some(config.call_timeout_ms.map_or(DEFAULT_CALL_TIMEOUT, Duration::from_millis));
        let store: Arc<dyn CipherTextStore> = match config.store {
            StoreConfig::Url { url, mut options } => {
                let r = ObjectCipherTextStore::from_url(&url, options.iter().map(|(k, v)| (k.clone(), v.clone())));
                for v in options.values_mut() {
                    v.zeroize();
                }
                Arc::new(r?)
            }
            StoreConfig::App { store } => {
                let backend = Arc::new(AppObjectStore::new(store, timeout));
                let mut b = ObjectCipherTextStore::builder(backend).label("app key-value store");
                if let Some(n) = config.max_retries {
                    b = b.retry(share_backup_object_store::DEFAULT_RETRY.with_max_retries(n));
                }
                Arc::new(b.build())
            }
        };
        let mut recording = None;
        let notifier: Arc<dyn CoreNotifier> = match config.notifier {
            NotifierConfig::Portal { base_url, api_version, mut client_api_key, allow_insecure_http } => {
                let key = SecretString::from(std::mem::take(&mut client_api_key));
                Arc::new(
                    share_backup_portal_api::PortalNotifier::builder()
                        .base_url(base_url)
                        .api_version(api_version)
                        .api_key(key)
                        .allow_insecure_http(allow_insecure_http)
                        .build()?,
                )
            }
            NotifierConfig::App { notifier } => Arc::new(ForeignNotifier { inner: notifier, timeout }),
            NotifierConfig::Recording => {
                let r = Arc::new(RecordingNotifier::new());
                recording = Some(r.clone());
                r
            }
        };
        let mut provider_settings = Vec::new();
        for (m, s) in config.provider_settings {
            provider_settings.push((method(&m)?, settings(s)));
        }
        let chain =
            config.default_chain.map(|c| c.iter().map(|m| method(m)).collect::<Result<Vec<_>>>()).transpose()?;
        let parts = Parts {
            store,
            notifier,
            settings: provider_settings,
            chain,
            providers: Vec::new(),
            timeout,
            retries: config.max_retries,
            read_back: config.read_back,
        };
        let orchestrator = parts.build()?;
        Ok(Arc::new(ShareBackup {
            orchestrator: Mutex::new(orchestrator),
            parts: Mutex::new(parts),
            recording,
            timeout,
        }))
    }

    /// Registers a provider written in the app's language under `method`
    /// (it replaces a linked provider of the same id). Register before
    /// starting operations: a backup already running keeps the providers
    /// it started with.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed method id.
    pub fn register_provider(
        &self,
        method_id: String,
        capabilities: ProviderCapabilities,
        provider: Arc<dyn BackupProvider>,
    ) -> Result<()> {
        let p = crate::conformance::foreign_provider(&method_id, capabilities, provider, self.timeout)?;
        let mut parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        parts.providers.retain(|x| x.method().as_str() != method_id);
        parts.providers.push(p);
        let rebuilt = parts.build()?;
        drop(parts);
        *self.orch() = rebuilt;
        Ok(())
    }

    /// Backs up `share` for `user_id`: seals it with the method's provider
    /// (`method`, or the default chain), verifies it, stores the cipher
    /// text, acknowledges it to the notifier, and makes it current.
    /// `progress` sees `{status, done}` events in order.
    ///
    /// Cancelling the calling coroutine or task stops the backup: nothing
    /// is acknowledged that was not already, and the previous backup stays
    /// current and recoverable.
    ///
    /// # Errors
    /// `ShareBackupError` with the kind of the failure; nothing was
    /// acknowledged unless the error says so.
    #[uniffi::method(default(method = None, progress = None, configs))]
    pub async fn backup(
        &self,
        user_id: String,
        share: Vec<u8>,
        configs: CallConfigs,
        method: Option<String>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<BackupReceipt> {
        // The app's objects are released on the caller's thread (when this
        // future ends), never last on a share-backup thread: a Python
        // object released there leaves that thread tied to the interpreter,
        // which aborts at exit while the thread lives.
        let _on_caller = (
            progress.clone(),
            configs.google_token_source.clone(),
            configs.passkey.as_ref().map(|p| p.authenticator.clone()),
        );
        let share = BackupShare::new(share)?;
        let user = user(&user_id)?;
        let method = method.as_deref().map(self::method).transpose()?;
        let (configs, custodian, client) = self.call(configs)?;
        let orch = self.orchestrator();
        let timeout = self.timeout;
        let relay = ProgressRelay::new(progress);
        let mut req = BackupRequest::new(user, share).with_method_opt(method).with_configs(configs);
        req = req.with_progress(relay.sink());
        req = req.with_custodian_opt(custodian).with_client_opt(client);
        spawn(async move {
            let r = orch.backup(req).await;
            relay.finish(timeout).await;
            Ok(r?.into())
        })
        .await
    }

    /// Recovers the share of `user_id` (its only method, or the first of
    /// the default chain it has; or `method`).
    ///
    /// # Errors
    /// `WrongSecret` for a wrong password; `NotFound` without a backup; ...
    #[uniffi::method(default(method = None, progress = None, configs))]
    pub async fn recover(
        &self,
        user_id: String,
        configs: CallConfigs,
        method: Option<String>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Vec<u8>> {
        let _on_caller = (
            progress.clone(),
            configs.google_token_source.clone(),
            configs.passkey.as_ref().map(|p| p.authenticator.clone()),
        );
        let user = user(&user_id)?;
        let method = method.as_deref().map(self::method).transpose()?;
        let (configs, custodian, client) = self.call(configs)?;
        let orch = self.orchestrator();
        let timeout = self.timeout;
        let relay = ProgressRelay::new(progress);
        let mut req = RecoverRequest::new(user).with_method_opt(method).with_configs(configs);
        req = req.with_progress(relay.sink());
        req = req.with_custodian_opt(custodian).with_client_opt(client);
        spawn(async move {
            let r = orch.recover(req).await;
            relay.finish(timeout).await;
            let recovered = r?;
            Ok(recovered.share().expose_secret().to_vec())
        })
        .await
    }

    /// The methods `user_id` has a current backup of.
    ///
    /// # Errors
    /// The store's error.
    pub async fn methods(&self, user_id: String) -> Result<Vec<String>> {
        let user = user(&user_id)?;
        let orch = self.orchestrator();
        spawn(async move { Ok(orch.methods(&user).await?.iter().map(|m| m.as_str().to_owned()).collect()) }).await
    }

    /// Checks `user_id`'s current backup of `method` without the user's
    /// secret: the cipher text parses, and a stored key opens it.
    ///
    /// # Errors
    /// `NotFound` without a backup; `Integrity` when the key does not open it.
    #[uniffi::method(default(configs))]
    pub async fn verify(&self, user_id: String, method: String, configs: CallConfigs) -> Result<HealthReport> {
        let _on_caller =
            (configs.google_token_source.clone(), configs.passkey.as_ref().map(|p| p.authenticator.clone()));
        let user = user(&user_id)?;
        let method = self::method(&method)?;
        let (configs, custodian, client) = self.call(configs)?;
        let orch = self.orchestrator();
        let mut req = VerifyRequest::new(user, method).with_configs(configs);
        req = req.with_custodian_opt(custodian).with_client_opt(client);
        spawn(async move {
            let h = orch.verify(req).await?;
            let (key_checked, reason) = match &h.key {
                KeyCheck::Opens => (true, None),
                KeyCheck::NotChecked(why) => (false, Some((*why).to_owned())),
                _ => (false, None),
            };
            Ok(HealthReport {
                method: h.method.as_str().to_owned(),
                backup_id: h.backup_id.to_hex(),
                cipher_text_len: h.envelope_len as u64,
                share_len: h.share_len as u64,
                key_checked,
                key_not_checked_reason: reason,
                other_versions: h.other_versions.iter().map(BackupId::to_hex).collect(),
            })
        })
        .await
    }

    /// Re-wraps `user_id`'s current backup of `method` under `new_configs`
    /// (a new password, a new Drive key): opens it with `configs`, backs
    /// the same share up again, acknowledges and commits it.
    ///
    /// # Errors
    /// As `backup` and `recover`.
    #[uniffi::method(default(progress = None))]
    pub async fn rotate(
        &self,
        user_id: String,
        method: String,
        configs: CallConfigs,
        new_configs: CallConfigs,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<BackupReceipt> {
        let _on_caller = (
            (progress.clone(), configs.google_token_source.clone(), new_configs.google_token_source.clone()),
            (
                configs.passkey.as_ref().map(|p| p.authenticator.clone()),
                new_configs.passkey.as_ref().map(|p| p.authenticator.clone()),
            ),
        );
        let user = user(&user_id)?;
        let method = self::method(&method)?;
        let (configs, custodian, client) = self.call(configs)?;
        let (new_configs, _, _) = self.call(new_configs)?;
        let orch = self.orchestrator();
        let timeout = self.timeout;
        let relay = ProgressRelay::new(progress);
        let mut req = RotateRequest::new(user, method).with_configs(configs).with_new_configs(new_configs);
        req = req.with_progress(relay.sink());
        req = req.with_custodian_opt(custodian).with_client_opt(client);
        spawn(async move {
            let r = orch.rotate(req).await;
            relay.finish(timeout).await;
            Ok(r?.into())
        })
        .await
    }

    /// Checks cheaply that a backup with `method` (or the default chain's
    /// first) could be made now with `configs`: credentials, scopes, the
    /// password against the policy.
    ///
    /// # Errors
    /// The typed reason it could not.
    #[uniffi::method(default(method = None, configs))]
    pub async fn probe(&self, user_id: String, configs: CallConfigs, method: Option<String>) -> Result<()> {
        let _on_caller =
            (configs.google_token_source.clone(), configs.passkey.as_ref().map(|p| p.authenticator.clone()));
        let user = user(&user_id)?;
        let method = method.as_deref().map(self::method).transpose()?;
        let (configs, custodian, client) = self.call(configs)?;
        let orch = self.orchestrator();
        spawn(async move {
            let provider = orch.registry().resolve(method.as_ref())?;
            let mut ctx = Context::new(user, BackupId::generate()?).with_configs(configs);
            if let Some(c) = custodian {
                ctx = ctx.with_custodian(c);
            }
            if let Some(c) = client {
                ctx = ctx.with_client(c);
            }
            provider.probe(&ctx).await?;
            Ok(())
        })
        .await
    }

    /// The providers this build links and the app registered, with their
    /// settings.
    pub fn providers(&self) -> Vec<ProviderInfo> {
        let orch = self.orchestrator();
        orch.registry()
            .infos()
            .into_iter()
            .map(|i| ProviderInfo {
                id: i.method.as_str().to_owned(),
                summary: i.summary,
                settings: i
                    .settings
                    .iter()
                    .map(|s| SettingInfo {
                        key: s.key.to_owned(),
                        doc: s.doc.to_owned(),
                        example: s.example.to_owned(),
                    })
                    .collect(),
                registered_by_app: i.crate_name.is_none(),
            })
            .collect()
    }

    /// The methods a backup without a method tries, in order.
    pub fn default_chain(&self) -> Vec<String> {
        self.orchestrator().registry().default_chain().iter().map(|m| m.as_str().to_owned()).collect()
    }

    /// What the `Recording` notifier was told, oldest first (empty for
    /// other notifiers).
    pub fn notifications(&self) -> Vec<Notification> {
        self.recording
            .as_ref()
            .map(|r| {
                r.notifications()
                    .into_iter()
                    .map(|n| Notification {
                        user_id: n.user.as_str().to_owned(),
                        method: n.method.as_str().to_owned(),
                        backup_id: n.backup_id.to_hex(),
                        success: n.success,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
