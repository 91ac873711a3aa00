#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod error;
mod header;
#[cfg(feature = "oauth")]
mod oauth;
mod retry;
mod transport;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use google_drive3::DriveHub;
use google_drive3::api::File;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use share_backup_core::{
    BackupProvider, Capabilities, Context, DataKey, Error, ErrorKind, ExposeSecret, KeyHeader, MethodId, Registration,
    Result, SealedKey, SecretString, SettingSpec, Settings, Status, async_trait,
};
use tracing::Instrument;
use zeroize::Zeroizing;

pub use config::{DriveConfig, StaticToken, TokenSource};
pub use error::{DriveError, Regrant};
pub use header::Location;
#[cfg(feature = "oauth")]
pub use oauth::{InstalledAppTokenSource, OAuthTokenSource};
pub use retry::DEFAULT_RETRY;
pub use share_backup_core::RetryPolicy;
pub use transport::{DEFAULT_ENDPOINT, install_crypto_provider};

use crate::error::Class;
use crate::header::DriveHeader;
use crate::transport::HttpClient;

/// This provider's method id.
pub static METHOD: MethodId = MethodId::GDRIVE;

/// The OAuth scope for keys in the application data folder.
pub const SCOPE_APPDATA: &str = "https://www.googleapis.com/auth/drive.appdata";
/// The OAuth scope for keys in a visible folder (files this app created).
pub const SCOPE_FILE: &str = "https://www.googleapis.com/auth/drive.file";

/// The folder name used by `FolderMode::Folder` when built from settings
/// without a `folder_name`.
pub const DEFAULT_FOLDER_NAME: &str = "Wallet backup";

const FOLDER_MIME: &str = "application/vnd.google-apps.folder";
/// The key file: this magic, then the 64 key bytes.
const KEY_MAGIC: &[u8; 4] = b"SBK1";
const KEY_FILE_LEN: usize = KEY_MAGIC.len() + DataKey::LEN;
/// Largest body read back from a media download or a raw JSON answer.
const MAX_READ: usize = 64 * 1024;
const FOLDER_CACHE_MAX: usize = 10_000;
/// The most pages a lookup by name reads (100 files a page).
const MAX_LOOKUP_PAGES: usize = 100;

/// Where the provider keeps key files.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FolderMode {
    /// The hidden application data folder (default): the user cannot delete
    /// it by accident; needs scope `drive.appdata`.
    AppData,
    /// A visible folder of this name at the top of My Drive, created if
    /// missing and found by name; needs scope `drive.file`.
    Folder(String),
}

impl FolderMode {
    fn location(&self) -> Location {
        match self {
            FolderMode::AppData => Location::AppData,
            FolderMode::Folder(_) => Location::Folder,
        }
    }
}

/// Whether `e` (from this provider) means the user must grant a scope again,
/// and which: shorthand for `DriveError::of(e).and_then(DriveError::needs_regrant)`.
///
/// ```
/// use share_backup_core::{Error, ErrorKind};
/// // An error that Google did not cause needs no re-grant.
/// assert_eq!(share_backup_gdrive::needs_regrant(&Error::new(ErrorKind::PermissionDenied, "x")), None);
/// ```
pub fn needs_regrant(e: &Error) -> Option<Regrant> {
    DriveError::of(e).and_then(DriveError::needs_regrant)
}

fn scope_of(location: Location) -> &'static str {
    match location {
        Location::AppData => SCOPE_APPDATA,
        Location::Folder => SCOPE_FILE,
    }
}

fn scope_name(location: Location) -> &'static str {
    match location {
        Location::AppData => "drive.appdata",
        Location::Folder => "drive.file",
    }
}

fn space_of(location: Location) -> &'static str {
    match location {
        Location::AppData => "appDataFolder",
        Location::Folder => "drive",
    }
}

/// Escapes a string literal for Drive's query language.
fn q_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

type Hub = DriveHub<transport::Connector>;

/// The Google Drive provider: a random data key per backup, kept in a new
/// file of the user's own Drive.
///
/// Build it with [`DriveProvider::builder`] or, through the registry, with
/// [`DriveProvider::from_settings`]. Each call authenticates with the
/// [`DriveConfig`] in its configs, or with the builder's default
/// [`TokenSource`].
pub struct DriveProvider {
    client: HttpClient,
    root_url: String,
    base_url: String,
    mode: FolderMode,
    retry: RetryPolicy,
    request_timeout: Duration,
    default_source: Option<Arc<dyn TokenSource>>,
    client_id: Option<String>,
    folders: Mutex<HashMap<[u8; 32], String>>,
    /// One lock per user whose folder is being looked up or created, so that
    /// concurrent first backups of a user in this process make one folder.
    folder_locks: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for DriveProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriveProvider")
            .field("endpoint", &self.root_url)
            .field("mode", &self.mode)
            .field("retry", &self.retry)
            .field("request_timeout", &self.request_timeout)
            .field("default_source", &self.default_source)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Builds a [`DriveProvider`].
#[derive(Clone)]
#[must_use]
pub struct DriveProviderBuilder {
    endpoint: String,
    mode: FolderMode,
    retry: RetryPolicy,
    request_timeout: Duration,
    default_source: Option<Arc<dyn TokenSource>>,
    client_id: Option<String>,
}

impl fmt::Debug for DriveProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriveProviderBuilder")
            .field("endpoint", &self.endpoint)
            .field("mode", &self.mode)
            .field("retry", &self.retry)
            .field("request_timeout", &self.request_timeout)
            .field("default_source", &self.default_source)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl Default for DriveProviderBuilder {
    fn default() -> Self {
        DriveProviderBuilder {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            mode: FolderMode::AppData,
            retry: DEFAULT_RETRY,
            request_timeout: Duration::from_secs(30),
            default_source: None,
            client_id: None,
        }
    }
}

impl DriveProviderBuilder {
    /// Keys in the hidden application data folder (the default).
    pub fn app_data_folder(mut self) -> Self {
        self.mode = FolderMode::AppData;
        self
    }

    /// Keys in a visible folder of this name at the top of My Drive.
    pub fn visible_folder(mut self, name: impl Into<String>) -> Self {
        self.mode = FolderMode::Folder(name.into());
        self
    }

    /// Where Google's API lives (google-drive3's root URL; the Drive base URL
    /// is `<endpoint>drive/v3/`). Default [`DEFAULT_ENDPOINT`]. `http://` is
    /// accepted only to a loopback address (test servers).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = url.into();
        self
    }

    /// How transient failures are retried ([`DEFAULT_RETRY`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The longest a single request may take (default 30 s); a timeout is
    /// retried like a 503.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The token source used when a call's configs hold no [`DriveConfig`]
    /// (a server or desktop program with its own OAuth flow).
    pub fn token_source(mut self, source: Arc<dyn TokenSource>) -> Self {
        self.default_source = Some(source);
        self
    }

    /// The app's Google OAuth client id (`....apps.googleusercontent.com`,
    /// from Google Cloud Console): the client the app signs users in with to
    /// get the access tokens it passes (Portal's SDK calls it the gdrive
    /// `clientId`). Drive authenticates a request by its token alone, so the
    /// provider sends it nowhere; it names it in re-grant hints, and with the
    /// `oauth` feature the installed-app flow from settings refuses a client
    /// secret file of another client. Optional.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// Builds the provider.
    ///
    /// # Errors
    /// `InvalidInput` for a bad endpoint (including `http://` to a
    /// non-loopback host), an empty or overlong folder name, a zero
    /// request timeout, or a client id that is not a Google OAuth client id.
    pub fn build(self) -> Result<DriveProvider> {
        let endpoint = transport::check_endpoint(&self.endpoint).map_err(|e| e.with_method(METHOD.clone()))?;
        if let FolderMode::Folder(name) = &self.mode
            && (name.trim().is_empty() || name.len() > 255 || name.chars().any(char::is_control))
        {
            return Err(Error::invalid_input("the Drive folder name must be 1 to 255 printable characters")
                .with_method(METHOD.clone()));
        }
        if self.request_timeout.is_zero() {
            return Err(Error::invalid_input("the request timeout must be more than zero").with_method(METHOD.clone()));
        }
        if let Some(id) = &self.client_id {
            check_client_id(id).map_err(|e| e.with_method(METHOD.clone()))?;
        }
        let client = transport::client(&endpoint)?;
        let root_url = endpoint.to_string();
        Ok(DriveProvider {
            client,
            base_url: format!("{root_url}drive/v3/"),
            root_url,
            mode: self.mode,
            retry: self.retry,
            request_timeout: self.request_timeout,
            default_source: self.default_source,
            client_id: self.client_id,
            folders: Mutex::new(HashMap::new()),
            folder_locks: Mutex::new(HashMap::new()),
        })
    }
}

/// Google OAuth client ids look like `123456789012-abc...xyz.apps.googleusercontent.com`.
fn check_client_id(id: &str) -> Result<()> {
    const SUFFIX: &str = ".apps.googleusercontent.com";
    let ok = id.len() <= 255
        && id.strip_suffix(SUFFIX).is_some_and(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!("the Google OAuth client id {id:?} is not of the form ...{SUFFIX}"))
            .with_hint("copy the OAuth client id the app signs users in with from Google Cloud Console (APIs & Services > Credentials); it is not the wallet service's client id"))
    }
}

/// The settings [`DriveProvider::from_settings`] accepts. With the `oauth`
/// feature, also `oauth_client_secret` and `oauth_token_cache`: the
/// installed-app OAuth flow (`InstalledAppTokenSource`) as the default
/// token source.
pub const SETTINGS: &[SettingSpec] =
    if cfg!(feature = "oauth") { ALL_SETTINGS } else { ALL_SETTINGS.split_at(ALL_SETTINGS.len() - 2).0 };

/// Every setting; the last two only with the `oauth` feature.
const ALL_SETTINGS: &[SettingSpec] = &[
    SETTING_FOLDER_MODE,
    SETTING_FOLDER_NAME,
    SETTING_ENDPOINT,
    SETTING_MAX_RETRIES,
    SETTING_MIN_DELAY,
    SETTING_MAX_DELAY,
    SETTING_MAX_TOTAL,
    SETTING_TIMEOUT,
    SETTING_CLIENT_ID,
    SettingSpec::new(
        "oauth_client_secret",
        "path of the OAuth desktop-client JSON: tokens from the installed-app flow when a call carries no DriveConfig",
        "client_secret.json",
    ),
    SettingSpec::new(
        "oauth_token_cache",
        "file that keeps the installed-app flow's tokens between runs",
        "tokens.json",
    ),
];

const SETTING_FOLDER_MODE: SettingSpec =
    SettingSpec::new("folder_mode", "where key files live: appdata (hidden, default) or folder (visible)", "folder");
const SETTING_FOLDER_NAME: SettingSpec =
    SettingSpec::new("folder_name", "the visible folder's name (implies folder_mode = folder)", DEFAULT_FOLDER_NAME);
const SETTING_ENDPOINT: SettingSpec =
    SettingSpec::new("endpoint", "Google API root URL (tests: http://127.0.0.1:PORT/)", DEFAULT_ENDPOINT);
const SETTING_MAX_RETRIES: SettingSpec =
    SettingSpec::new("max_retries", "retries of a transient failure (429, 5xx, rate-limit 403)", "5");
const SETTING_MIN_DELAY: SettingSpec =
    SettingSpec::new("min_delay_ms", "first retry delay in milliseconds, doubled each time, jittered", "250");
const SETTING_MAX_DELAY: SettingSpec = SettingSpec::new("max_delay_ms", "longest retry delay in milliseconds", "8000");
const SETTING_MAX_TOTAL: SettingSpec =
    SettingSpec::new("max_total_ms", "most time an operation may spend retrying, in milliseconds", "30000");
const SETTING_CLIENT_ID: SettingSpec = SettingSpec::new(
    "client_id",
    "the app's Google OAuth client id (users sign in with it; named in re-grant hints; with oauth, must match the client secret file)",
    "123456789012-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com",
);
const SETTING_TIMEOUT: SettingSpec =
    SettingSpec::new("request_timeout_ms", "longest single request, in milliseconds", "30000");

impl DriveProvider {
    /// A builder with the defaults: appDataFolder, Google's endpoint,
    /// [`DEFAULT_RETRY`], 30 s per request, tokens from each call's
    /// [`DriveConfig`].
    pub fn builder() -> DriveProviderBuilder {
        DriveProviderBuilder::default()
    }

    /// Builds the provider from registry settings (see [`SETTINGS`]).
    ///
    /// # Errors
    /// `InvalidInput` for unknown keys, values that do not parse, or a
    /// `folder_name` with `folder_mode = appdata`.
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        let keys: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
        settings.deny_unknown(&keys)?;
        let mut b = DriveProvider::builder();
        let name = settings.get("folder_name");
        // A folder name alone means the visible folder; with appdata it is a contradiction.
        let default_mode = if name.is_some() { "folder" } else { "appdata" };
        match settings.get("folder_mode").unwrap_or(default_mode) {
            "appdata" => {
                if name.is_some() {
                    return Err(Error::invalid_input("setting folder_name needs folder_mode = folder, not appdata"));
                }
            }
            "folder" => b = b.visible_folder(name.unwrap_or(DEFAULT_FOLDER_NAME)),
            other => {
                return Err(Error::invalid_input(format!(
                    "setting folder_mode = {other:?} is invalid: use appdata or folder"
                )));
            }
        }
        if let Some(e) = settings.get("endpoint") {
            b = b.endpoint(e);
        }
        let ms = |k: &str| -> Result<Option<Duration>> { Ok(settings.parse::<u64>(k)?.map(Duration::from_millis)) };
        let mut retry = DEFAULT_RETRY;
        if let Some(n) = settings.parse::<u32>("max_retries")? {
            retry = retry.with_max_retries(n);
        }
        if let Some(d) = ms("min_delay_ms")? {
            retry = retry.with_min_delay(d);
        }
        if let Some(d) = ms("max_delay_ms")? {
            retry = retry.with_max_delay(d);
        }
        if let Some(d) = ms("max_total_ms")? {
            retry = retry.with_max_total_delay(Some(d));
        }
        b = b.retry(retry);
        if let Some(d) = ms("request_timeout_ms")? {
            b = b.request_timeout(d);
        }
        let client_id = settings.get("client_id");
        if let Some(id) = client_id {
            b = b.client_id(id);
        }
        #[cfg(feature = "oauth")]
        match (settings.get("oauth_client_secret"), settings.get("oauth_token_cache")) {
            (Some(secret), cache) => {
                let mut src = InstalledAppTokenSource::new(secret, cache.map(std::path::PathBuf::from));
                if let Some(id) = client_id {
                    src = src.expect_client_id(id);
                }
                b = b.token_source(Arc::new(src));
            }
            (None, Some(_)) => {
                tracing::warn!("setting oauth_token_cache has no effect without oauth_client_secret");
            }
            (None, None) => {}
        }
        b.build()
    }

    /// Where this provider puts new key files.
    pub fn mode(&self) -> &FolderMode {
        &self.mode
    }

    /// The app's Google OAuth client id, if configured
    /// ([`DriveProviderBuilder::client_id`]).
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    fn hub(&self, token: &SecretString) -> Hub {
        let mut hub =
            DriveHub::new(self.client.clone(), HubToken(Arc::new(Zeroizing::new(token.expose_secret().to_owned()))));
        hub.base_url(self.base_url.clone());
        hub.root_url(self.root_url.clone());
        hub.user_agent(concat!("share-backup-gdrive/", env!("CARGO_PKG_VERSION")).to_owned());
        hub
    }

    fn source<'a>(&'a self, ctx: &'a Context) -> Result<&'a Arc<dyn TokenSource>> {
        if let Some(c) = ctx.config::<DriveConfig>() {
            return Ok(c.source());
        }
        self.default_source.as_ref().ok_or_else(|| {
            Error::new(ErrorKind::Unauthenticated, "no Google access token was given for this call")
                .with_hint("insert DriveConfig::access_token(token) into the call's configs, with the token the app got when the user signed in to Google")
                .with_method(METHOD.clone())
        })
    }

    /// Runs one Drive request with the token, a single refresh on 401, a
    /// timeout per attempt and bounded backoff on transient answers.
    ///
    /// Time bound: a retry is started only if its delay ends within the
    /// policy's total bound, counted from the first attempt; that retry may
    /// then run up to `request_timeout`. So one call takes at most the token
    /// fetch + `max_total_delay` + `request_timeout` (+ one refresh after a
    /// 401); an operation of several requests (folder lookup, create,
    /// upload) has that bound per request.
    async fn call<T, F, Fut>(
        &self,
        op: &'static str,
        source: &dyn TokenSource,
        location: Location,
        mut f: F,
    ) -> Result<T>
    where
        F: FnMut(Hub) -> Fut + Send,
        Fut: Future<Output = std::result::Result<T, DriveError>> + Send,
        T: Send,
    {
        let scopes = [scope_of(location)];
        let mut token = source.token(&scopes).await.map_err(with_method)?;
        let mut refreshed = false;
        let mut delays = retry::delays(&self.retry);
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let res = match tokio::time::timeout(self.request_timeout, f(self.hub(&token))).await {
                Ok(r) => r,
                Err(_) => Err(DriveError::timeout()),
            };
            let err = match res {
                Ok(v) => {
                    tracing::debug!(
                        op,
                        attempts,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "drive request done"
                    );
                    return Ok(v);
                }
                Err(e) => e,
            };
            match err.class() {
                Class::Unauthenticated if !refreshed => {
                    tracing::info!(op, "Google refused the access token; refreshing it once");
                    refreshed = true;
                    token = source.refresh(&scopes).await.map_err(with_method)?;
                }
                Class::Transient(_) => match delays.next() {
                    Some(d) if self.retry.max_total_delay().is_none_or(|t| started.elapsed() + d <= t) => {
                        tracing::info!(
                            op,
                            attempts,
                            status = err.status(),
                            reason = err.reason(),
                            delay_ms = d.as_millis() as u64,
                            "transient Drive failure; retrying"
                        );
                        tokio::time::sleep(d).await;
                    }
                    _ => {
                        tracing::warn!(
                            op,
                            attempts,
                            status = err.status(),
                            reason = err.reason(),
                            "giving up on Drive"
                        );
                        return Err(err.into_error(op, attempts, location, self.client_id.as_deref()));
                    }
                },
                _ => {
                    tracing::debug!(op, attempts, status = err.status(), reason = err.reason(), "drive request failed");
                    return Err(err.into_error(op, attempts, location, self.client_id.as_deref()));
                }
            }
        }
    }

    fn folder_key(ctx: &Context) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(ctx.binding().to_bytes());
        h.finalize().into()
    }

    /// The visible folder's id for this user: cached, else looked up by name,
    /// else (when `create`) created.
    async fn folder_id(&self, ctx: &Context, source: &dyn TokenSource, create: bool) -> Result<Option<String>> {
        let FolderMode::Folder(name) = &self.mode else { return Ok(None) };
        let key = Self::folder_key(ctx);
        let cached = |p: &Self| p.folders.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
        if let Some(id) = cached(self) {
            return Ok(Some(id));
        }
        let lock = self.folder_locks.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().clone();
        let _guard = lock.lock().await;
        let r = self.folder_id_locked(name, key, source, create).await;
        drop(_guard);
        // The last one out removes the lock (the map only holds users in progress).
        let mut locks = self.folder_locks.lock().unwrap_or_else(|e| e.into_inner());
        if locks.get(&key).is_some_and(|l| Arc::strong_count(l) <= 2) {
            locks.remove(&key);
        }
        // Entries left by cancelled calls: drop those nobody holds.
        if locks.len() > FOLDER_CACHE_MAX {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        r
    }

    async fn folder_id_locked(
        &self,
        name: &str,
        key: [u8; 32],
        source: &dyn TokenSource,
        create: bool,
    ) -> Result<Option<String>> {
        // Another task may have found or made it while this one waited.
        if let Some(id) = self.folders.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(Some(id.clone()));
        }
        let q = format!(
            "name = '{}' and mimeType = '{FOLDER_MIME}' and 'root' in parents and trashed = false",
            q_escape(name)
        );
        let found = self
            .call("the folder lookup", source, Location::Folder, |hub| {
                let q = q.clone();
                async move {
                    let (_, list) = hub
                        .files()
                        .list()
                        .q(&q)
                        .spaces("drive")
                        // Two processes that raced to create it both pick the oldest.
                        .order_by("createdTime")
                        .page_size(10)
                        .param("fields", "files(id)")
                        .add_scope(SCOPE_FILE)
                        .doit()
                        .await
                        .map_err(DriveError::from_common)?;
                    Ok(list.files.unwrap_or_default().into_iter().find_map(|f| f.id))
                }
            })
            .await?;
        let id = match found {
            Some(id) => id,
            None if create => {
                let body = serde_json::json!({"name": name, "mimeType": FOLDER_MIME, "parents": ["root"]}).to_string();
                let url = format!("{}files?fields=id&alt=json", self.base_url);
                self.call("the folder creation", source, Location::Folder, |hub| {
                    let (url, body) = (url.clone(), body.clone());
                    async move {
                        let v = raw_json(&hub, hyper::Method::POST, &url, Some(body)).await?;
                        v.get("id")
                            .and_then(serde_json::Value::as_str)
                            .map(str::to_owned)
                            .ok_or_else(|| DriveError::protocol("Drive created the folder but sent no id"))
                    }
                })
                .await?
            }
            None => return Ok(None),
        };
        let mut cache = self.folders.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= FOLDER_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, id.clone());
        Ok(Some(id))
    }

    fn forget_folder(&self, ctx: &Context) {
        self.folders.lock().unwrap_or_else(|e| e.into_inner()).remove(&Self::folder_key(ctx));
    }

    async fn upload(
        &self,
        source: &dyn TokenSource,
        location: Location,
        parent: &str,
        name: &str,
        content: &[u8],
    ) -> Result<String> {
        self.call("the key upload", source, location, |hub| {
            let meta = File {
                name: Some(name.to_owned()),
                parents: Some(vec![parent.to_owned()]),
                mime_type: Some("application/octet-stream".to_owned()),
                app_properties: Some(HashMap::from([("shareBackup".to_owned(), "key-v1".to_owned())])),
                ..File::default()
            };
            let body = Zeroizing::new(content.to_vec());
            async move {
                let (_, f) = hub
                    .files()
                    .create(meta)
                    // The answer proves what landed: no second read is needed.
                    .param("fields", "id,md5Checksum,size")
                    .add_scope(scope_of(location))
                    .upload(Cursor::new(body), mime::APPLICATION_OCTET_STREAM)
                    .await
                    .map_err(DriveError::from_common)?;
                let id = f.id.ok_or_else(|| DriveError::protocol("Drive created the key file but sent no id"))?;
                Ok((id, f.md5_checksum, f.size))
            }
        })
        .await
        .and_then(|(id, md5, size)| landed_as_sent(id, md5.as_deref(), size, content, location))
    }

    async fn download(&self, source: &dyn TokenSource, location: Location, id: &str) -> Result<DataKey> {
        let bytes = self
            .call("the key download", source, location, |hub| {
                let id = id.to_owned();
                async move {
                    let (resp, _) = hub
                        .files()
                        .get(&id)
                        .param("alt", "media")
                        .add_scope(scope_of(location))
                        .doit()
                        .await
                        .map_err(DriveError::from_common)?;
                    let body =
                        http_body_util::Limited::new(resp.into_body(), MAX_READ).collect().await.map_err(|e| {
                            if e.is::<http_body_util::LengthLimitError>() {
                                DriveError::not_a_key_file()
                            } else {
                                DriveError::transport_boxed("reading the key file from Google Drive failed", e)
                            }
                        })?;
                    Ok(take_wiped(body.to_bytes()))
                }
            })
            .await?;
        if bytes.len() != KEY_FILE_LEN || &bytes[..KEY_MAGIC.len()] != KEY_MAGIC {
            return Err(DriveError::not_a_key_file().into_error("the key download", 1, location, None));
        }
        DataKey::from_slice(&bytes[KEY_MAGIC.len()..])
    }

    /// Every file of this name, all pages read (a retried upload can leave
    /// several; at most [`MAX_LOOKUP_PAGES`] pages).
    async fn find_by_name(&self, source: &dyn TokenSource, location: Location, name: &str) -> Result<Vec<String>> {
        let q = format!("name = '{}' and trashed = false", q_escape(name));
        let mut ids = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..MAX_LOOKUP_PAGES {
            let (found, next) = self
                .call("the key lookup by name", source, location, |hub| {
                    let (q, page) = (q.clone(), page.clone());
                    async move {
                        let mut list = hub
                            .files()
                            .list()
                            .q(&q)
                            .spaces(space_of(location))
                            .page_size(100)
                            .param("fields", "nextPageToken,files(id)")
                            .add_scope(scope_of(location));
                        if let Some(t) = &page {
                            list = list.page_token(t);
                        }
                        let (_, list) = list.doit().await.map_err(DriveError::from_common)?;
                        let ids: Vec<String> =
                            list.files.unwrap_or_default().into_iter().filter_map(|f| f.id).collect();
                        Ok((ids, list.next_page_token))
                    }
                })
                .await?;
            ids.extend(found);
            match next {
                Some(t) if !t.is_empty() => page = Some(t),
                _ => return Ok(ids),
            }
        }
        Err(Error::new(
            ErrorKind::Unavailable,
            format!("Google Drive listed more than {MAX_LOOKUP_PAGES} pages of files named {name}"),
        )
        .with_retryable(false)
        .with_method(METHOD.clone()))
    }

    /// The key file's content by id, else by name (a restored Drive).
    async fn fetch_key(&self, h: &DriveHeader, ctx: &Context) -> Result<DataKey> {
        let source = self.source(ctx)?;
        ctx.report(Status::FetchingKey);
        match self.download(source.as_ref(), h.location, &h.file_id).await {
            Err(e) if e.kind() == &ErrorKind::NotFound => {
                tracing::info!("key file id is gone; looking the file up by name");
                let ids = self.find_by_name(source.as_ref(), h.location, &h.name).await?;
                let Some(id) = ids.first() else {
                    return Err(Error::not_found(format!(
                    "the key file of this backup (id {}, name {}) is no longer in the user's Google Drive",
                    h.file_id, h.name
                ))
                .with_hint("check that the user signed in with the Google account that made the backup; otherwise this backup cannot be recovered, make a new one")
                .with_method(METHOD.clone()));
                };
                self.download(source.as_ref(), h.location, id).await
            }
            r => r,
        }
    }

    async fn delete_id(&self, source: &dyn TokenSource, location: Location, id: &str) -> Result<()> {
        let r = self
            .call("the key deletion", source, location, |hub| {
                let id = id.to_owned();
                async move {
                    hub.files()
                        .delete(&id)
                        .add_scope(scope_of(location))
                        .doit()
                        .await
                        .map(|_| ())
                        .map_err(DriveError::from_common)
                }
            })
            .await;
        match r {
            Err(e) if e.kind() == &ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
}

/// The access token as the hub holds it: wiped when the last clone drops.
/// (google-drive3 copies it into each request's `Authorization` header, a
/// copy out of this crate's reach.)
#[derive(Clone)]
struct HubToken(Arc<Zeroizing<String>>);

type TokenFuture<'a> = std::pin::Pin<
    Box<dyn Future<Output = std::result::Result<Option<String>, Box<dyn std::error::Error + Send + Sync>>> + Send + 'a>,
>;

impl google_drive3::common::GetToken for HubToken {
    fn get_token<'a>(&'a self, _scopes: &'a [&str]) -> TokenFuture<'a> {
        Box::pin(async move { Ok(Some(self.0.as_str().to_owned())) })
    }
}

/// A request google-drive3 cannot make (a metadata-only create), on the
/// hub's client with the hub's token, answered JSON.
async fn raw_json(
    hub: &Hub,
    method: hyper::Method,
    url: &str,
    body: Option<String>,
) -> std::result::Result<serde_json::Value, DriveError> {
    use hyper::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
    let token = Zeroizing::new(
        hub.auth
            .get_token(&[SCOPE_FILE])
            .await
            .ok()
            .flatten()
            .ok_or_else(|| DriveError::protocol("no token for a raw Drive request"))?,
    );
    let bearer = Zeroizing::new(format!("Bearer {}", token.as_str()));
    let mut auth = hyper::header::HeaderValue::from_str(&bearer)
        .map_err(|_| DriveError::protocol("the access token cannot be sent in a header"))?;
    auth.set_sensitive(true);
    let req = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header(USER_AGENT, concat!("share-backup-gdrive/", env!("CARGO_PKG_VERSION")))
        .header(AUTHORIZATION, auth)
        .header(CONTENT_TYPE, "application/json")
        .body(google_drive3::common::to_body(body))
        .map_err(|e| DriveError::transport("could not build a Drive request", e))?;
    let resp =
        hub.client.request(req).await.map_err(|e| DriveError::transport("the connection to Google Drive failed", e))?;
    let (parts, body) = resp.into_parts();
    let bytes = http_body_util::Limited::new(body, MAX_READ)
        .collect()
        .await
        .map_err(|e| DriveError::transport_boxed("reading Google Drive's response failed", e))?
        .to_bytes();
    if !parts.status.is_success() {
        return Err(DriveError::from_status(parts.status.as_u16(), &bytes));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| DriveError::protocol(format!("Google Drive sent JSON that does not decode: {e}")))
}

/// Copies a downloaded key file into a `Zeroizing` buffer and wipes the
/// response buffer too when this is its only owner (a body of one frame,
/// as a key file is; frames hyper already dropped are out of reach).
fn take_wiped(bytes: bytes::Bytes) -> Zeroizing<Vec<u8>> {
    use zeroize::Zeroize as _;
    let out = Zeroizing::new(bytes.to_vec());
    if let Ok(mut owned) = bytes.try_into_mut() {
        owned.as_mut().zeroize();
    }
    out
}

fn no_folder() -> Error {
    Error::internal("the Drive folder was neither found nor created").with_method(METHOD.clone())
}

fn with_method(e: Error) -> Error {
    if e.method().is_some() { e } else { e.with_method(METHOD.clone()) }
}

/// Checks the upload's answer against the bytes sent: the same size and MD5
/// checksum (Drive computes both from what it stored), else nothing is
/// acknowledged.
fn landed_as_sent(id: String, md5: Option<&str>, size: Option<i64>, sent: &[u8], location: Location) -> Result<String> {
    use md5::Digest as _;
    let want = hex::encode(md5::Md5::digest(sent));
    let size_ok = size.is_some_and(|n| u64::try_from(n).ok() == Some(sent.len() as u64));
    match md5 {
        Some(got) if got.eq_ignore_ascii_case(&want) && size_ok => Ok(id),
        Some(_) => Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "Google Drive stored other bytes than were uploaded for key file {id} \
                 ({} bytes, checksum differs or size {size:?}); nothing was acknowledged",
                sent.len()
            ),
        )
        .with_hint("retry the backup; if it keeps failing, something between this app and Google changes uploads")
        .with_retryable(true)
        .with_method(METHOD.clone())),
        None => Err(DriveError::protocol(format!(
            "Google Drive created key file {id} but did not say what it stored (no md5Checksum)"
        ))
        .into_error("the key upload", 1, location, None)),
    }
}

fn key_file(key: &DataKey) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(Vec::with_capacity(KEY_FILE_LEN));
    v.extend_from_slice(KEY_MAGIC);
    v.extend_from_slice(key.expose_secret());
    v
}

#[async_trait]
impl BackupProvider for DriveProvider {
    fn method(&self) -> &MethodId {
        &METHOD
    }

    fn capabilities(&self) -> Capabilities {
        // The upload is the probe and proves what landed (size and MD5 in its
        // answer): an orchestrated backup is one request.
        Capabilities::new().with_remote(true).with_deletes(true).with_probes(true).with_verified_write(true)
    }

    /// One request, always: a one-item listing of the key space
    /// (appDataFolder); in folder mode the lookup of the visible folder
    /// (which it then caches), or, once its id is cached, a `files.get` of
    /// the folder's id (and a new lookup if the folder is gone). Proves the
    /// token is valid and has the scope; creates nothing. The orchestrator
    /// skips it ([`Capabilities::verified_write`]): the upload itself fails
    /// with the same typed error.
    async fn probe(&self, ctx: &Context) -> Result<()> {
        let span = tracing::info_span!("gdrive.probe", backup_id = %ctx.backup_id(), location = ?self.mode.location());
        async {
            let source = self.source(ctx)?;
            match &self.mode {
                FolderMode::Folder(_) => {
                    let cached =
                        self.folders.lock().unwrap_or_else(|e| e.into_inner()).get(&Self::folder_key(ctx)).cloned();
                    if let Some(id) = cached {
                        let r = self
                            .call("the probe", source.as_ref(), Location::Folder, |hub| {
                                let id = id.clone();
                                async move {
                                    hub.files()
                                        .get(&id)
                                        .param("fields", "id")
                                        .add_scope(SCOPE_FILE)
                                        .doit()
                                        .await
                                        .map(|_| ())
                                        .map_err(DriveError::from_common)
                                }
                            })
                            .await;
                        match r {
                            // The folder is gone (the user deleted it): the next backup makes it again.
                            Err(e) if e.kind() == &ErrorKind::NotFound => self.forget_folder(ctx),
                            r => return r,
                        }
                    }
                    self.folder_id(ctx, source.as_ref(), false).await.map(|_| ())
                }
                FolderMode::AppData => {
                    self.call("the probe", source.as_ref(), Location::AppData, |hub| async move {
                        hub.files()
                            .list()
                            .spaces("appDataFolder")
                            .page_size(1)
                            .param("fields", "files(id)")
                            .add_scope(SCOPE_APPDATA)
                            .doit()
                            .await
                            .map(|_| ())
                            .map_err(DriveError::from_common)
                    })
                    .await
                }
            }
        }
        .instrument(span)
        .await
    }

    /// A fresh random key, uploaded as a new file in one multipart request
    /// (plus, in folder mode and only the first time per user, the folder
    /// lookup or creation), whose answer's `md5Checksum` and `size` must
    /// match the bytes sent. Never overwrites an existing file. The header
    /// carries the key check that confirms the key on recovery.
    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey> {
        let location = self.mode.location();
        let span = tracing::info_span!("gdrive.seal_key", backup_id = %ctx.backup_id(), ?location);
        async {
            ctx.report(Status::Generating);
            let key = DataKey::generate()?;
            let name = header::file_name(&ctx.binding(), &ctx.backup_id());
            let source = self.source(ctx)?;
            ctx.report(Status::UploadingKey);
            let content = key_file(&key);
            let file_id = match &self.mode {
                FolderMode::AppData => self.upload(source.as_ref(), location, "appDataFolder", &name, &content).await?,
                FolderMode::Folder(_) => {
                    let parent = self.folder_id(ctx, source.as_ref(), true).await?.ok_or_else(no_folder)?;
                    match self.upload(source.as_ref(), location, &parent, &name, &content).await {
                        // The cached folder was deleted meanwhile: find or make it again, once.
                        Err(e) if e.kind() == &ErrorKind::NotFound => {
                            self.forget_folder(ctx);
                            let parent = self.folder_id(ctx, source.as_ref(), true).await?.ok_or_else(no_folder)?;
                            self.upload(source.as_ref(), location, &parent, &name, &content).await?
                        }
                        r => r?,
                    }
                }
            };
            tracing::info!(file_id = %file_id, "key file created");
            let check = Some(header::key_check(key.expose_secret()));
            let header = DriveHeader { location, file_id, name, check }.encode()?;
            Ok(SealedKey { key, header })
        }
        .instrument(span)
        .await
    }

    /// One request: the key file's content by the id in the header. If that
    /// id is gone (a restored Drive), a lookup by the file's name, then the
    /// content by the id found. With a v2 header, the key is checked against
    /// the header's key check: a match is [confirmed](DataKey::confirmed), a
    /// mismatch is `Integrity` blaming the file in Drive (it was replaced),
    /// not the store.
    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey> {
        let h = DriveHeader::parse(header).map_err(with_method)?;
        let span = tracing::info_span!("gdrive.open_key", backup_id = %ctx.backup_id(), location = ?h.location, file_id = %h.file_id);
        let key = self.fetch_key(&h, ctx).instrument(span).await?;
        match h.check {
            None => Ok(key),
            Some(c) if c == header::key_check(key.expose_secret()) => Ok(key.confirmed()),
            Some(_) => Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "the key file of this backup in the user's Google Drive (id {}, name {}) holds another key than \
                     the backup was made with: the file was replaced or changed in Drive",
                    h.file_id, h.name
                ),
            )
            .with_hint(
                "the envelope in the store is not at fault: the key file in Google Drive was changed (by another app, \
                 a restore, or another account's file); restore that file from Drive's version history or trash, \
                 otherwise make a new backup",
            )
            .with_method(METHOD.clone())),
        }
    }

    /// Deletes the key file by id (already gone is fine), then any file of
    /// the same name (copies left by a retried upload), so that the key is
    /// really gone.
    async fn delete_key(&self, header: &KeyHeader, ctx: &Context) -> Result<()> {
        let h = DriveHeader::parse(header).map_err(with_method)?;
        let span = tracing::info_span!("gdrive.delete_key", backup_id = %ctx.backup_id(), location = ?h.location, file_id = %h.file_id);
        async {
            let source = self.source(ctx)?;
            self.delete_id(source.as_ref(), h.location, &h.file_id).await?;
            for id in self.find_by_name(source.as_ref(), h.location, &h.name).await? {
                self.delete_id(source.as_ref(), h.location, &id).await?;
            }
            Ok(())
        }
        .instrument(span)
        .await
    }
}

fn build(settings: &Settings) -> Result<Arc<dyn BackupProvider>> {
    Ok(Arc::new(DriveProvider::from_settings(settings)?))
}

share_backup_core::register_provider!(
    Registration::new(
        "gdrive",
        "Random data key kept in the user's own Google Drive (appDataFolder)",
        env!("CARGO_PKG_NAME"),
        build
    )
    .with_settings(SETTINGS)
);

#[doc(hidden)]
pub mod __fuzz {
    //! Fuzzing support only (`fuzz/fuzz_targets/gdrive_header.rs`). Not a
    //! stable API: it may change or disappear in any release.

    use share_backup_core::{KeyHeader, Result};

    use crate::header::DriveHeader;

    /// Wraps `bytes` in a [`KeyHeader`] (which refuses more than
    /// [`KeyHeader::MAX_LEN`] bytes) and parses it as a Drive key header, as
    /// `open_key` and `delete_key` do. Never panics.
    ///
    /// Returns the accepted header encoded again (for a canonical format,
    /// exactly `bytes`), or the error that refused it.
    ///
    /// # Errors
    /// `InvalidInput` when `bytes` is too long for a key header;
    /// `InvalidEnvelope` when the parser refuses it.
    pub fn parse_key_header(bytes: &[u8]) -> Result<Vec<u8>> {
        let header = KeyHeader::new(bytes.to_vec())?;
        let parsed = DriveHeader::parse(&header)?;
        Ok(parsed.encode()?.as_bytes().to_vec())
    }
}
