#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod fields;
pub mod multipart;
pub mod query;
mod server;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The token every [`FakeDrive::start`] accepts, with every scope, for the
/// account [`DEFAULT_ACCOUNT`].
pub const DEFAULT_TOKEN: &str = "fake-drive-token";
/// The Google account of [`DEFAULT_TOKEN`] and of [`FakeDrive::add_token`].
pub const DEFAULT_ACCOUNT: &str = "default";

/// The id of the user's "My Drive" root folder (alias `root`).
pub const ROOT_ID: &str = "0AFakeRootFolderOfMyDriveUk9PVA";
/// The id of the application data folder (alias `appDataFolder`).
pub const APPDATA_ID: &str = "0AFakeAppDataFolderQVBQREFUQQ";
/// Drive's folder MIME type.
pub const FOLDER_MIME: &str = "application/vnd.google-apps.folder";

/// An OAuth scope a fake token can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// `https://www.googleapis.com/auth/drive`: every file in My Drive (not the appDataFolder).
    Drive,
    /// `https://www.googleapis.com/auth/drive.file`: files this app created or opened.
    File,
    /// `https://www.googleapis.com/auth/drive.appdata`: the application data folder.
    AppData,
}

impl Scope {
    /// Every scope.
    pub const ALL: &'static [Scope] = &[Scope::Drive, Scope::File, Scope::AppData];

    /// The scope's URL.
    pub fn url(&self) -> &'static str {
        match self {
            Scope::Drive => "https://www.googleapis.com/auth/drive",
            Scope::File => "https://www.googleapis.com/auth/drive.file",
            Scope::AppData => "https://www.googleapis.com/auth/drive.appdata",
        }
    }
}

/// A failure injected into the next request(s), answered as Google does.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// 429 `rateLimitExceeded` (domain `usageLimits`).
    TooManyRequests,
    /// 403 `rateLimitExceeded` (domain `usageLimits`).
    RateLimitExceeded,
    /// 403 `userRateLimitExceeded` (domain `usageLimits`).
    UserRateLimitExceeded,
    /// 500 `backendError`.
    InternalError,
    /// 502 with an HTML body, as Google's front end sends.
    BadGateway,
    /// 503 `backendError`.
    ServiceUnavailable,
    /// 504 with an HTML body.
    GatewayTimeout,
    /// 401 `authError` (an expired token), whatever token was sent.
    Unauthorized,
    /// 403 `insufficientPermissions` (the token lacks a scope).
    InsufficientPermissions,
    /// 403 `storageQuotaExceeded`.
    StorageQuotaExceeded,
    /// Any status with Google's JSON error body carrying this `reason`
    /// (domain `usageLimits` for the rate-limit reasons, `global` otherwise),
    /// e.g. 400 `badRequest`, 403 `forbidden` or `domainPolicy`, 404
    /// `notFound`, 409 `conflict`, 412 `conditionNotMet`, 500 `backendError`.
    Status {
        /// The HTTP status (100 to 599; anything else answers 500).
        code: u16,
        /// Google's `reason` in `errors[0]`.
        reason: String,
    },
}

impl Fault {
    /// [`Fault::Status`]: answer `code` with Google's error body for `reason`.
    pub fn status(code: u16, reason: impl Into<String>) -> Fault {
        Fault::Status { code, reason: reason.into() }
    }
}

/// The place of a file in Drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Space {
    /// My Drive (visible to the user).
    Drive,
    /// The hidden application data folder.
    AppDataFolder,
}

impl Space {
    /// The name Drive uses in the `spaces` parameter and field.
    pub fn as_str(&self) -> &'static str {
        match self {
            Space::Drive => "drive",
            Space::AppDataFolder => "appDataFolder",
        }
    }
}

/// A file (or folder) held by the fake.
#[derive(Clone, PartialEq, Eq)]
pub struct FakeFile {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Its parent folder ids (canonical, not aliases).
    pub parents: Vec<String>,
    /// The Google account whose Drive holds it.
    pub account: String,
    /// Its space.
    pub space: Space,
    /// Whether it is in the trash.
    pub trashed: bool,
    /// `appProperties` as given at creation.
    pub app_properties: serde_json::Map<String, serde_json::Value>,
    /// Its content.
    pub content: Vec<u8>,
    /// Creation order (1, 2, ...), also its `createdTime` second.
    pub seq: u64,
    /// Whether the app (a request through the API) created it, as opposed to
    /// the user ([`FakeDrive::add_folder`]). A `drive.file` token sees only
    /// files the app created, as in Drive.
    pub created_by_app: bool,
}

impl FakeFile {
    /// Whether the file is a folder.
    pub fn is_folder(&self) -> bool {
        self.mime_type == FOLDER_MIME
    }
}

impl fmt::Debug for FakeFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeFile")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("name", &self.name)
            .field("mime_type", &self.mime_type)
            .field("parents", &self.parents)
            .field("space", &self.space)
            .field("trashed", &self.trashed)
            .field("content_len", &self.content.len())
            .field("created_by_app", &self.created_by_app)
            .finish()
    }
}

/// One request as the fake saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, `DELETE`, ...
    pub method: String,
    /// The path, e.g. `/drive/v3/files/abc`.
    pub path: String,
    /// The decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The bearer token sent, if any.
    pub bearer: Option<String>,
    /// The status the fake answered.
    pub status: u16,
}

impl RecordedRequest {
    /// The first value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// A short `METHOD path` form, for assertions and messages.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

#[derive(Default)]
struct Inner {
    tokens: HashMap<String, (String, Vec<Scope>)>,
    any_token: Option<Vec<Scope>>,
    files: Vec<FakeFile>,
    faults: VecDeque<(Fault, bool)>,
    /// Refresh tokens the token endpoint accepts, with the scopes of the
    /// access tokens it issues for them.
    refresh_tokens: HashMap<String, Vec<Scope>>,
    issued: u64,
    latency: Duration,
    log: Vec<RecordedRequest>,
    quota_limit: Option<u64>,
    next_seq: u64,
    /// Uploads still to store damaged (last byte flipped).
    pub(crate) damage_uploads: usize,
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake Google Drive v3 server on `127.0.0.1`, port chosen by the OS.
///
/// Dropping the handle stops the server.
pub struct FakeDrive {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl fmt::Debug for FakeDrive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeDrive").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl FakeDrive {
    /// Starts a server that accepts [`DEFAULT_TOKEN`] with every scope.
    ///
    /// Must be called inside a Tokio runtime; the server runs on it.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start() -> std::io::Result<FakeDrive> {
        let shared = Arc::new(Shared { inner: Mutex::new(Inner::default()) });
        shared.lock().tokens.insert(DEFAULT_TOKEN.to_owned(), (DEFAULT_ACCOUNT.to_owned(), Scope::ALL.to_vec()));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = server::router(shared.clone());
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "fake drive server stopped");
            }
        });
        Ok(FakeDrive { shared, addr, shutdown: Some(tx), task })
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`: what google-drive3 calls the root URL (uploads go under it).
    pub fn root_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `http://127.0.0.1:PORT/token`: an OAuth 2 token endpoint (RFC 6749
    /// section 6, `grant_type=refresh_token`) for the refresh tokens given to
    /// [`FakeDrive::add_refresh_token`]; point a client secret's `token_uri`
    /// at it. Its requests are logged; injected faults do not apply to it.
    pub fn token_uri(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// Lets the token endpoint accept `refresh_token`: each refresh issues a
    /// new access token (`fake-access-1`, `fake-access-2`, ...), accepted from
    /// then on for [`DEFAULT_ACCOUNT`] with these scopes.
    pub fn add_refresh_token(&self, refresh_token: &str, scopes: &[Scope]) {
        self.shared.lock().refresh_tokens.insert(refresh_token.to_owned(), scopes.to_vec());
    }

    /// `http://127.0.0.1:PORT/drive/v3/`: what google-drive3 calls the base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/drive/v3/", self.addr)
    }

    /// Accepts `token` from now on, with these scopes (replacing earlier
    /// ones), for the account [`DEFAULT_ACCOUNT`].
    pub fn add_token(&self, token: &str, scopes: &[Scope]) {
        self.add_account_token(DEFAULT_ACCOUNT, token, scopes);
    }

    /// Accepts `token` from now on for `account`'s Drive, with these scopes.
    /// Each account has its own files: a token never sees another account's.
    pub fn add_account_token(&self, account: &str, token: &str, scopes: &[Scope]) {
        self.shared.lock().tokens.insert(token.to_owned(), (account.to_owned(), scopes.to_vec()));
    }

    /// Accepts any bearer token not otherwise known, with these scopes, each
    /// as its own account named after the token (many users in one test,
    /// each with their own Drive). `None` turns it off.
    pub fn accept_any_token(&self, scopes: Option<&[Scope]>) {
        self.shared.lock().any_token = scopes.map(<[Scope]>::to_vec);
    }

    /// Refuses `token` from now on (401), as for an expired or revoked token.
    pub fn revoke_token(&self, token: &str) {
        self.shared.lock().tokens.remove(token);
    }

    /// Answers the next request with `fault`.
    pub fn inject(&self, fault: Fault) {
        self.inject_n(fault, 1);
    }

    /// Answers the next `n` requests with `fault` (after faults queued earlier).
    /// The requests have no effect.
    pub fn inject_n(&self, fault: Fault, n: usize) {
        let mut g = self.shared.lock();
        for _ in 0..n {
            g.faults.push_back((fault.clone(), false));
        }
    }

    /// Carries out the next request, then answers it with `fault` instead of
    /// the real answer: a response lost on the way back (the upload happened,
    /// the client does not know).
    pub fn inject_after_effect(&self, fault: Fault) {
        self.shared.lock().faults.push_back((fault, true));
    }

    /// Drops the faults not yet used.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// How many injected faults are still queued.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    /// Delays every response by `latency` (a simulated round trip).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// Sets the storage limit in bytes (`None`: unlimited), checked on uploads.
    pub fn set_quota_limit(&self, limit: Option<u64>) {
        self.shared.lock().quota_limit = limit;
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().log.clone()
    }

    /// The number of requests so far.
    pub fn request_count(&self) -> usize {
        self.shared.lock().log.len()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }

    /// Every file and folder, in creation order (trashed ones too).
    pub fn files(&self) -> Vec<FakeFile> {
        self.shared.lock().files.clone()
    }

    /// The file with this id.
    pub fn file(&self, id: &str) -> Option<FakeFile> {
        self.shared.lock().files.iter().find(|f| f.id == id).cloned()
    }

    /// Creates a folder at the top of [`DEFAULT_ACCOUNT`]'s My Drive, as the
    /// user would in Drive's web page; returns its id. A `drive.file` token
    /// does not see it (the app did not create it).
    pub fn add_folder(&self, name: &str) -> String {
        self.insert_folder(name, false)
    }

    /// Creates a folder at the top of [`DEFAULT_ACCOUNT`]'s My Drive as the
    /// app would (another process of it, say); returns its id. A `drive.file`
    /// token sees it.
    pub fn add_app_folder(&self, name: &str) -> String {
        self.insert_folder(name, true)
    }

    fn insert_folder(&self, name: &str, created_by_app: bool) -> String {
        let mut g = self.shared.lock();
        g.next_seq += 1;
        let id = server::new_id();
        let seq = g.next_seq;
        g.files.push(FakeFile {
            id: id.clone(),
            name: name.to_owned(),
            mime_type: FOLDER_MIME.to_owned(),
            parents: vec![ROOT_ID.to_owned()],
            account: DEFAULT_ACCOUNT.to_owned(),
            space: Space::Drive,
            trashed: false,
            app_properties: serde_json::Map::new(),
            content: Vec::new(),
            seq,
            created_by_app,
        });
        id
    }

    /// Adds a copy of a file under a new id (same name, content, space and
    /// account), as a retried upload whose first answer was lost leaves
    /// behind. Returns the copy's id.
    pub fn copy_file(&self, id: &str) -> Option<String> {
        let mut g = self.shared.lock();
        let mut copy = g.files.iter().find(|f| f.id == id)?.clone();
        g.next_seq += 1;
        copy.seq = g.next_seq;
        copy.id = server::new_id();
        let new_id = copy.id.clone();
        g.files.push(copy);
        Some(new_id)
    }

    /// Removes a file for good, as a user emptying the trash would; true if it existed.
    pub fn remove_file(&self, id: &str) -> bool {
        let mut g = self.shared.lock();
        let before = g.files.len();
        g.files.retain(|f| f.id != id);
        g.files.len() != before
    }

    /// Moves a file to the trash (or back); true if it exists.
    pub fn set_trashed(&self, id: &str, trashed: bool) -> bool {
        let mut g = self.shared.lock();
        match g.files.iter_mut().find(|f| f.id == id) {
            Some(f) => {
                f.trashed = trashed;
                true
            }
            None => false,
        }
    }

    /// Gives a file a new id, as a user re-uploading it after restoring their
    /// Drive would: the old id is gone, the name and content stay.
    /// Returns the new id.
    pub fn reissue_id(&self, id: &str) -> Option<String> {
        let mut g = self.shared.lock();
        let new_id = server::new_id();
        let f = g.files.iter_mut().find(|f| f.id == id)?;
        f.id = new_id.clone();
        Some(new_id)
    }

    /// The next multipart upload stores its media with the last byte
    /// flipped, as if damaged on the way: the answer's `md5Checksum` is that
    /// of the damaged bytes (what Drive stored), so a client that compares it
    /// with what it sent sees the difference.
    pub fn damage_next_upload(&self) {
        self.shared.lock().damage_uploads += 1;
    }

    /// Replaces a file's content (to simulate damage); true if it exists.
    pub fn set_content(&self, id: &str, content: Vec<u8>) -> bool {
        let mut g = self.shared.lock();
        match g.files.iter_mut().find(|f| f.id == id) {
            Some(f) => {
                f.content = content;
                true
            }
            None => false,
        }
    }
}

impl Drop for FakeDrive {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}
