#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod db;
mod limit;
mod process;
mod tls;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use share_backup_realm_protocol::messages::codes;
use share_backup_realm_protocol::{
    Claims, DeleteRequest, ErrorBody, Recover1Request, Recover1Response, Recover2Request, Recover2Response,
    RegisterRequest, RegisterResponse, TokenVerifier, parse_verifying_key, realm_evaluate, valid_reg_id,
};
use tokio::net::TcpListener;

pub use db::{AdoptError, Db, Guess, Inserted, LEGACY_ISSUER, NewRegistration, Phase1Row, RegKey, Unlock, unix_now};
pub use limit::RateLimiter;
pub use process::{RealmProcess, realm_binary};
pub use tls::{DEFAULT_MAX_HANDSHAKES, HANDSHAKE_TIMEOUT, TlsConfig, TlsListener};

/// The realm's configuration (flags, or `SHARE_BACKUP_REALM_*` variables).
#[derive(Clone, clap::Parser)]
#[command(
    name = "share-backup-realm",
    version,
    about = "Guarded-PIN realm: counts PIN guesses and erases after the limit"
)]
pub struct Config {
    /// This realm's id: the `aud` its tokens must name and part of every unlock tag.
    #[arg(long, env = "SHARE_BACKUP_REALM_ID")]
    pub realm_id: String,
    /// Address to listen on. Plain HTTP only on a loopback address, unless
    /// `--tls-cert`/`--tls-key` are given (HTTPS) or `--plain-http-behind-proxy`.
    #[arg(long, env = "SHARE_BACKUP_REALM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// PEM certificate chain (leaf first): serve HTTPS. Needs `--tls-key`.
    #[arg(long, env = "SHARE_BACKUP_REALM_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of `--tls-cert` (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "SHARE_BACKUP_REALM_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// TLS handshakes in progress at once; connections beyond are closed
    /// at once (silent clients cannot exhaust file descriptors).
    #[arg(long, env = "SHARE_BACKUP_REALM_TLS_MAX_HANDSHAKES", default_value_t = DEFAULT_MAX_HANDSHAKES)]
    pub tls_max_handshakes: usize,
    /// Give the registrations stored before migration 0003 (which name no
    /// issuer) to this issuer, one of the `--integrator-key` issuers: the
    /// integrator that registered them. Without it the realm refuses to
    /// start while such rows exist.
    #[arg(long, env = "SHARE_BACKUP_REALM_ADOPT_LEGACY_ROWS_AS")]
    pub adopt_legacy_rows_as: Option<String>,
    /// Serve plain HTTP on a non-loopback address, because a TLS-terminating
    /// reverse proxy fronts the realm. Without it (and without TLS) the
    /// realm refuses to listen anywhere but loopback.
    #[arg(long, env = "SHARE_BACKUP_REALM_PLAIN_HTTP_BEHIND_PROXY")]
    pub plain_http_behind_proxy: bool,
    /// `sqlite:PATH` (created if missing) or `postgres://user:pass@host/db`.
    #[arg(long, env = "SHARE_BACKUP_REALM_DATABASE_URL", default_value = "sqlite:share-backup-realm.sqlite3")]
    pub database_url: String,
    /// Database connections in the pool.
    #[arg(long, env = "SHARE_BACKUP_REALM_MAX_CONNECTIONS", default_value_t = 8)]
    pub max_connections: u32,
    /// Trusted integrator keys, `ISSUER=ED25519_PUBLIC_KEY` (hex or base64url), comma-separated or repeated.
    #[arg(long = "integrator-key", env = "SHARE_BACKUP_REALM_INTEGRATOR_KEYS", value_delimiter = ',', required = true)]
    pub integrator_keys: Vec<String>,
    /// Longest token lifetime accepted (exp - iat), in seconds.
    #[arg(long, env = "SHARE_BACKUP_REALM_MAX_TOKEN_LIFETIME", default_value_t = 600)]
    pub max_token_lifetime_secs: u64,
    /// Requests one token may make per minute (counted in the database: shared by every process of this realm).
    #[arg(long, env = "SHARE_BACKUP_REALM_RATE_LIMIT", default_value_t = 30)]
    pub rate_limit_per_minute: u32,
    /// Seconds after the last counted guess during which a registration with
    /// no guess left may still be unlocked by a correct phase-2 tag; then the
    /// realm erases it by itself (a background sweep) and keeps a tombstone.
    /// At most 3600: a longer window would leave exhausted parts undeleted
    /// for that long.
    #[arg(long, env = "SHARE_BACKUP_REALM_PHASE2_WINDOW", default_value_t = DEFAULT_PHASE2_WINDOW_SECS,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub phase2_window_secs: u64,
}

/// The default phase-2 window (`--phase2-window-secs`).
pub const DEFAULT_PHASE2_WINDOW_SECS: u64 = 60;

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("realm_id", &self.realm_id)
            .field("listen", &self.listen)
            .field("tls_cert", &self.tls_cert)
            .field("tls", &self.tls_cert.is_some())
            .field("plain_http_behind_proxy", &self.plain_http_behind_proxy)
            .field("adopt_legacy_rows_as", &self.adopt_legacy_rows_as)
            .field("database_url", &redact_url(&self.database_url))
            .field("max_connections", &self.max_connections)
            .field("integrator_keys", &self.integrator_keys.len())
            .field("max_token_lifetime_secs", &self.max_token_lifetime_secs)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("phase2_window_secs", &self.phase2_window_secs)
            .finish()
    }
}

/// The URL with any password replaced by `***`: the one of `user:pass@`
/// and the values of the query parameters `password` and `sslpassword`.
pub fn redact_url(url: &str) -> String {
    // The userinfo: from after "://" to the LAST '@' (a password may hold
    // raw '?', '/', '#' or '@'; an '@' in the query only over-redacts, which
    // is harmless in a log line).
    let after = url.find("://").map_or(0, |s| s + 3);
    let base = match url[after..].rfind('@').map(|at| after + at) {
        Some(at) => match url[after..at].find(':') {
            Some(c) => format!("{}:***{}", &url[..after + c], &url[at..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    };
    match base.split_once('?') {
        None => base,
        Some((path, q)) => {
            let pairs: Vec<String> = q
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if is_password_param(name) => format!("{name}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
    }
}

/// Query parameters that carry a password (libpq's `password` and
/// `sslpassword`, in any case, possibly percent-encoded).
fn is_password_param(name: &str) -> bool {
    percent_decode(name).to_ascii_lowercase().contains("password")
}

/// `%XX` escapes decoded (bytes that do not form UTF-8 become U+FFFD).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, ..) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Config {
    /// The TLS configuration (`--tls-cert`/`--tls-key`), or `None` for plain
    /// HTTP, which is allowed only on a loopback address or with
    /// `--plain-http-behind-proxy`.
    ///
    /// # Errors
    /// Unreadable or mismatched PEM files; plain HTTP on a non-loopback
    /// address without `--plain-http-behind-proxy`.
    pub fn tls(&self) -> Result<Option<TlsConfig>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                TlsConfig::from_pem_files(cert, key).map(|t| Some(t.with_max_handshakes(self.tls_max_handshakes)))
            }
            (None, None) if self.listen.ip().is_loopback() || self.plain_http_behind_proxy => Ok(None),
            (None, None) => Err(format!(
                "refusing to serve plain HTTP on {}: give --tls-cert and --tls-key, or --plain-http-behind-proxy \
                 when a TLS-terminating reverse proxy fronts this realm (tokens and PIN guesses must not cross a network in clear)",
                self.listen
            )),
            _ => Err("--tls-cert and --tls-key go together".into()),
        }
    }

    /// The token verifier of this configuration.
    ///
    /// # Errors
    /// A key entry that is not `ISSUER=KEY` with a valid Ed25519 key.
    pub fn verifier(&self) -> Result<TokenVerifier, String> {
        let mut v = TokenVerifier::new(self.realm_id.clone(), self.max_token_lifetime_secs);
        for entry in &self.integrator_keys {
            let (iss, key) =
                entry.split_once('=').ok_or_else(|| "--integrator-key takes ISSUER=ED25519_PUBLIC_KEY".to_string())?;
            if iss.trim().is_empty() {
                return Err("--integrator-key needs a non-empty ISSUER before the '='".to_string());
            }
            let key = parse_verifying_key(key)
                .map_err(|_| format!("--integrator-key for {iss:?}: not an Ed25519 public key (64 hex digits)"))?;
            v = v.with_issuer(iss.trim(), key);
        }
        if let Some(owner) = &self.adopt_legacy_rows_as {
            if !self.issuers().contains(owner) {
                return Err(format!(
                    "--adopt-legacy-rows-as {owner:?} is not one of the trusted issuers ({}): name the \
                     integrator whose --integrator-key signed the old registrations' tokens",
                    self.issuers().join(", ")
                ));
            }
        }
        Ok(v)
    }

    /// The issuers of `--integrator-key` (sorted, without duplicates).
    pub fn issuers(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.integrator_keys.iter().filter_map(|e| e.split_once('=')).map(|(i, _)| i.trim().to_string()).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    db: Db,
    verifier: Arc<TokenVerifier>,
    limiter: Arc<RateLimiter>,
    phase2_window_secs: u64,
}

impl AppState {
    /// A state over `db`, verifying tokens with `verifier`, each token
    /// allowed `per_minute` requests.
    /// The phase-2 window is [`DEFAULT_PHASE2_WINDOW_SECS`].
    pub fn new(db: Db, verifier: TokenVerifier, per_minute: u32) -> Self {
        AppState {
            db,
            verifier: Arc::new(verifier),
            limiter: Arc::new(RateLimiter::new(per_minute)),
            phase2_window_secs: DEFAULT_PHASE2_WINDOW_SECS,
        }
    }

    /// This state with a phase-2 window of `secs` (see `--phase2-window-secs`).
    #[must_use]
    pub fn with_phase2_window_secs(mut self, secs: u64) -> Self {
        self.phase2_window_secs = secs;
        self
    }

    /// The phase-2 window in seconds.
    pub fn phase2_window_secs(&self) -> u64 {
        self.phase2_window_secs
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// An error answer: status, code, message, guesses left.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError { status, body: ErrorBody { error: code.into(), message: message.into(), guesses_left: None } }
    }
    fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, codes::INVALID_INPUT, message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        // sqlx errors name tables and constraints, never bound values.
        tracing::error!(error = %e, "database error");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, codes::UNAVAILABLE, "the realm's database failed; retry later")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// `Json` whose rejections are this realm's JSON errors (never echoing the body).
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::invalid("send the request as JSON (Content-Type: application/json)"))
            }
            Err(_) => Err(ApiError::invalid("the request body is not a valid request of this endpoint (see SPEC.md)")),
        }
    }
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Claims, ApiError> {
    let unauth = |m: String| ApiError::new(StatusCode::UNAUTHORIZED, codes::UNAUTHENTICATED, m);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauth("send the integrator's token as Authorization: Bearer".into()))?;
    let now = u64::try_from(unix_now()).unwrap_or(0);
    let claims = state.verifier.verify(token, now).map_err(|e| unauth(e.to_string()))?;
    if !state.limiter.allow(&state.db, state.verifier.realm_id(), token.as_bytes(), now).await? {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED,
            "too many requests with this token; wait a minute",
        ));
    }
    Ok(claims)
}

fn check_reg_id(reg_id: &str) -> Result<(), ApiError> {
    if valid_reg_id(reg_id) { Ok(()) } else { Err(ApiError::invalid("reg_id must be 32 lower-case hex digits")) }
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, "no such registration for this user at this realm")
}

fn locked_out() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        codes::LOCKED_OUT,
        "this registration was erased after too many wrong guesses; it cannot be recovered",
    )
}

fn exhausted() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        codes::EXHAUSTED,
        "no guess left: this registration is erased when its phase-2 window ends",
    )
}

fn reg_key<'a>(state: &'a AppState, claims: &'a Claims, reg_id: &'a str) -> RegKey<'a> {
    RegKey { realm: state.verifier.realm_id(), issuer: &claims.iss, user: &claims.sub, reg_id }
}

async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Json<RegisterResponse>, ApiError> {
    let claims = authenticate(&state, &headers).await?;
    check_reg_id(&req.reg_id)?;
    if share_backup_realm_protocol::oprf::decode_scalar(&req.oprf_key.0).is_err()
        || req.masked_unlock_share.0.len() != 32
        || req.unlock_tag.0.len() != 32
        || req.encrypted_share.0.is_empty()
        || req.encrypted_share.0.len() > 1024
        || req.share_index == 0
        || req.max_guesses == 0
        || req.max_guesses > 1000
    {
        return Err(ApiError::invalid(
            "a registration needs a canonical OPRF key, 32-byte mask and tag, a share of at most 1 KiB, index >= 1 and 1-1000 guesses",
        ));
    }
    let new = NewRegistration {
        key: reg_key(&state, &claims, &req.reg_id),
        share_index: req.share_index,
        oprf_key: &req.oprf_key.0,
        masked_unlock_share: &req.masked_unlock_share.0,
        unlock_tag: &req.unlock_tag.0,
        encrypted_share: &req.encrypted_share.0,
        max_guesses: req.max_guesses,
    };
    let created = match state.db.insert(&new).await? {
        Inserted::Created => true,
        Inserted::Existed => false,
        Inserted::Conflict => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                codes::CONFLICT,
                "another registration with this reg_id exists",
            ));
        }
        Inserted::LockedOut => {
            tracing::warn!(op = "register", iss = %claims.iss, user = %claims.sub, reg_id = %req.reg_id, "reg_id was locked out");
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                codes::CONFLICT,
                "a registration with this reg_id was erased after too many wrong guesses; register under a new reg_id",
            ));
        }
    };
    tracing::info!(op = "register", iss = %claims.iss, user = %claims.sub, reg_id = %req.reg_id, created, max_guesses = req.max_guesses);
    Ok(Json(RegisterResponse { created }))
}

async fn recover1(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<Recover1Request>,
) -> Result<Json<Recover1Response>, ApiError> {
    let claims = authenticate(&state, &headers).await?;
    check_reg_id(&req.reg_id)?;
    if share_backup_realm_protocol::oprf::decode_element(&req.blinded.0).is_err() {
        return Err(ApiError::invalid("blinded must be a non-identity ristretto255 element"));
    }
    let key = reg_key(&state, &claims, &req.reg_id);
    match state.db.guess(&key, unix_now(), state.phase2_window_secs).await? {
        Guess::Counted(row) => {
            let evaluated = realm_evaluate(&row.oprf_key, &req.blinded.0).map_err(|_| {
                tracing::error!(reg_id = %req.reg_id, "stored OPRF key is malformed");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, codes::UNAVAILABLE, "the stored registration is damaged")
            })?;
            tracing::info!(op = "recover1", iss = %claims.iss, user = %claims.sub, reg_id = %req.reg_id, guesses_left = row.guesses_left);
            Ok(Json(Recover1Response {
                share_index: row.share_index,
                evaluated: evaluated.to_vec().into(),
                masked_unlock_share: row.masked_unlock_share.into(),
                guesses_left: row.guesses_left,
            }))
        }
        Guess::Exhausted => {
            tracing::warn!(op = "recover1", iss = %claims.iss, user = %claims.sub, reg_id = %req.reg_id, "no guess left; erased when the phase-2 window ends");
            Err(exhausted())
        }
        Guess::LockedOut => {
            tracing::warn!(op = "recover1", iss = %claims.iss, user = %claims.sub, reg_id = %req.reg_id, "locked out; erased");
            Err(locked_out())
        }
        Guess::NotFound => Err(not_found()),
    }
}

async fn recover2(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<Recover2Request>,
) -> Result<Json<Recover2Response>, ApiError> {
    let claims = authenticate(&state, &headers).await?;
    check_reg_id(&req.reg_id)?;
    let key = reg_key(&state, &claims, &req.reg_id);
    match state.db.unlock(&key, &req.unlock_tag.0, unix_now(), state.phase2_window_secs).await? {
        Unlock::Released(share) => {
            tracing::info!(op = "recover2", iss = %claims.iss, user = %claims.sub, reg_id = %req.reg_id, "unlocked; guesses reset");
            Ok(Json(Recover2Response { encrypted_share: share.into() }))
        }
        Unlock::BadTag(left) => {
            tracing::info!(op = "recover2", iss = %claims.iss, user = %claims.sub, reg_id = %req.reg_id, guesses_left = left, "bad unlock tag");
            let mut e = ApiError::new(StatusCode::FORBIDDEN, codes::BAD_UNLOCK_TAG, "wrong unlock tag (wrong PIN)");
            e.body.guesses_left = Some(left);
            Err(e)
        }
        Unlock::LockedOut => {
            tracing::warn!(op = "recover2", iss = %claims.iss, user = %claims.sub, reg_id = %req.reg_id, "locked out; erased");
            Err(locked_out())
        }
        Unlock::NotFound => Err(not_found()),
    }
}

#[derive(Serialize)]
struct Deleted {
    deleted: bool,
}

async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<DeleteRequest>,
) -> Result<Json<Deleted>, ApiError> {
    let claims = authenticate(&state, &headers).await?;
    check_reg_id(&req.reg_id)?;
    let deleted = state.db.delete(&reg_key(&state, &claims, &req.reg_id), unix_now()).await?;
    tracing::info!(op = "delete", iss = %claims.iss, user = %claims.sub, reg_id = %req.reg_id, deleted);
    Ok(Json(Deleted { deleted }))
}

#[derive(Serialize)]
struct Health {
    realm_id: String,
    database: &'static str,
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health { realm_id: state.verifier.realm_id().to_string(), database: state.db.backend() })
}

async fn fallback() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, "no such endpoint (see SPEC.md)")
}

/// The realm's HTTP API (pure: no I/O until served).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/register", post(register))
        .route("/v1/recover1", post(recover1))
        .route("/v1/recover2", post(recover2))
        .route("/v1/delete", post(delete))
        .route("/v1/health", get(health))
        .fallback(fallback)
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes, erasing in the
/// background (every few seconds, see [`sweep_interval`]) the registrations
/// whose phase-2 window ended with no guess left.
///
/// # Errors
/// The listener failed.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_on(listener, state, shutdown).await
}

/// Serves on any listener (plain TCP or [`TlsListener`]), with the
/// background sweep of exhausted registrations running beside it.
async fn serve_on<L>(
    listener: L,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: fmt::Debug,
{
    let sweeper = tokio::spawn(sweep_forever(state.clone()));
    let served = axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await;
    sweeper.abort();
    served
}

/// How often [`serve`] sweeps: the phase-2 window, at least 1 s and at most 5 s.
pub fn sweep_interval(phase2_window_secs: u64) -> std::time::Duration {
    std::time::Duration::from_secs(phase2_window_secs.clamp(1, 5))
}

async fn sweep_forever(state: AppState) {
    let mut tick = tokio::time::interval(sweep_interval(state.phase2_window_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.db.sweep_exhausted(state.verifier.realm_id(), unix_now(), state.phase2_window_secs).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                op = "sweep",
                erased = n,
                "erased registrations with no guess left after their phase-2 window"
            ),
            Err(e) => tracing::error!(error = %e, "the erasure sweep failed; it runs again shortly"),
        }
    }
}

/// Serves `state` over HTTPS on `listener` with `tls` until `shutdown`
/// completes (handshakes in their own tasks, see [`TlsListener`]), sweeping
/// exhausted registrations as [`serve`] does.
///
/// # Errors
/// The listener has no local address, or serving failed.
pub async fn serve_tls(
    listener: TcpListener,
    tls: &TlsConfig,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_on(TlsListener::new(listener, tls)?, state, shutdown).await
}

/// A realm served in this process on its own thread and runtime: for
/// examples, tests and benchmarks (`127.0.0.1:0`, an SQLite file).
pub struct LocalRealm {
    url: String,
    id: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for LocalRealm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalRealm").field("id", &self.id).field("url", &self.url).finish()
    }
}

impl LocalRealm {
    /// Starts realm `id` over `database_url`, trusting `issuer`'s `key`,
    /// each token allowed `rate_limit_per_minute` requests (0: unlimited),
    /// with the default phase-2 window. See [`LocalRealm::builder`] for more
    /// issuers or another window.
    ///
    /// # Errors
    /// The database or the listener failed.
    pub fn start(
        id: &str,
        database_url: &str,
        issuer: &str,
        key: share_backup_realm_protocol::VerifyingKey,
        rate_limit_per_minute: u32,
    ) -> Result<LocalRealm, String> {
        LocalRealm::builder(id, database_url).issuer(issuer, key).rate_limit_per_minute(rate_limit_per_minute).start()
    }

    /// A realm `id` over `database_url` to configure, then [`start`](LocalRealmBuilder::start).
    pub fn builder(id: &str, database_url: &str) -> LocalRealmBuilder {
        LocalRealmBuilder {
            id: id.to_string(),
            database_url: database_url.to_string(),
            issuers: vec![],
            rate_limit_per_minute: 0,
            phase2_window_secs: DEFAULT_PHASE2_WINDOW_SECS,
        }
    }

    /// The base URL (`http://127.0.0.1:PORT/`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The realm id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The settings of a [`LocalRealm`]: its trusted issuers, rate limit and
/// phase-2 window.
pub struct LocalRealmBuilder {
    id: String,
    database_url: String,
    issuers: Vec<(String, share_backup_realm_protocol::VerifyingKey)>,
    rate_limit_per_minute: u32,
    phase2_window_secs: u64,
}

impl fmt::Debug for LocalRealmBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalRealmBuilder")
            .field("id", &self.id)
            .field("database_url", &redact_url(&self.database_url))
            .field("issuers", &self.issuers.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>())
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("phase2_window_secs", &self.phase2_window_secs)
            .finish()
    }
}

impl LocalRealmBuilder {
    /// Trusts `key` for tokens of `issuer` (repeat for several integrators).
    #[must_use]
    pub fn issuer(mut self, issuer: &str, key: share_backup_realm_protocol::VerifyingKey) -> Self {
        self.issuers.push((issuer.to_string(), key));
        self
    }

    /// Requests each token may make per minute (0, the default: unlimited).
    #[must_use]
    pub fn rate_limit_per_minute(mut self, n: u32) -> Self {
        self.rate_limit_per_minute = n;
        self
    }

    /// The phase-2 window (`--phase2-window-secs`; default 60).
    #[must_use]
    pub fn phase2_window_secs(mut self, secs: u64) -> Self {
        self.phase2_window_secs = secs;
        self
    }

    /// Starts the realm on `127.0.0.1:0` on its own thread.
    ///
    /// # Errors
    /// No issuer or an empty issuer name, the database failed (or holds rows
    /// from before migration 0003 that cannot be adopted), or the listener failed.
    pub fn start(self) -> Result<LocalRealm, String> {
        if self.issuers.is_empty() || self.issuers.iter().any(|(i, _)| i.is_empty()) {
            return Err("a local realm needs at least one issuer, each with a non-empty name".into());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut verifier = TokenVerifier::new(self.id.as_str(), 600);
        for (issuer, key) in &self.issuers {
            verifier = verifier.with_issuer(issuer.as_str(), *key);
        }
        let LocalRealmBuilder { id, database_url: url, rate_limit_per_minute, phase2_window_secs, .. } = self;
        let realm = id.clone();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                let db = match Db::connect(&url, 4).await {
                    Ok(db) => db,
                    Err(e) => return drop(tx.send(Err(format!("database: {e}")))),
                };
                if let Err(e) = db.adopt_legacy_rows(&realm, None).await {
                    return drop(tx.send(Err(e.to_string())));
                }
                let listener = match TcpListener::bind("127.0.0.1:0").await {
                    Ok(l) => l,
                    Err(e) => return drop(tx.send(Err(format!("listen: {e}")))),
                };
                let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
                let _ = tx.send(Ok(format!("http://{addr}/")));
                let state =
                    AppState::new(db, verifier, rate_limit_per_minute).with_phase2_window_secs(phase2_window_secs);
                let _ = serve(listener, state, async {
                    let _ = stopped.await;
                })
                .await;
            });
        });
        let url = rx.recv().map_err(|_| "the realm thread died".to_string())??;
        Ok(LocalRealm { url, id, stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for LocalRealm {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_passwords_in_the_authority_and_in_query_parameters() {
        let cases = [
            ("postgres://realm:s3cret@db/realm", "postgres://realm:***@db/realm"),
            ("postgres://db/realm?password=s3cret", "postgres://db/realm?password=***"),
            (
                "postgres://realm@db/realm?sslmode=require&sslpassword=s3cret&application_name=r",
                "postgres://realm@db/realm?sslmode=require&sslpassword=***&application_name=r",
            ),
            ("postgresql://u:s3cret@h:5432/d?PASSWORD=s3cret", "postgresql://u:***@h:5432/d?PASSWORD=***"),
            ("postgres://h/d?ssl%5Fpassword=s3cret", "postgres://h/d?ssl%5Fpassword=***"),
            ("postgres://h/d?pass%77ord=s3cret", "postgres://h/d?pass%77ord=***"),
            ("postgres://u:pa?s3cret@h/db", "postgres://u:***@h/db"),
            ("postgres://u:p/s3cret#x@h/db?password=s3cret", "postgres://u:***@h/db?password=***"),
            ("postgres://realm@db/realm?sslmode=disable", "postgres://realm@db/realm?sslmode=disable"),
            ("sqlite:/var/lib/realm.sqlite3", "sqlite:/var/lib/realm.sqlite3"),
        ];
        for (url, redacted) in cases {
            assert_eq!(redact_url(url), redacted);
            assert!(!redact_url(url).contains("s3cret"), "{url}");
        }
    }

    #[test]
    fn an_empty_issuer_name_is_refused() {
        use clap::Parser;
        let key = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";
        let c = Config::try_parse_from(["r", "--realm-id=r", &format!("--integrator-key==={key}")]).unwrap();
        assert!(c.verifier().unwrap_err().contains("non-empty ISSUER"));
        let c = Config::try_parse_from(["r", "--realm-id=r", &format!("--integrator-key=b={key},a={key}")]).unwrap();
        assert_eq!(c.issuers(), ["a", "b"]);
        assert_eq!(c.phase2_window_secs, DEFAULT_PHASE2_WINDOW_SECS);
    }
}
