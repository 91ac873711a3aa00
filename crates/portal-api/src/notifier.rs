//! [`PortalNotifier`]: tells Portal's client API that a backup share is stored.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use serde::Serialize;
use share_backup_core::{
    BackupId, Error, ErrorKind, ExposeSecret, MethodId, Result, RetryPolicy, SecretString, UserId,
};
use share_backup_orchestrator::Notifier;
use tracing::Instrument;
use url::Url;

use crate::keys::{ClientApiKeys, StaticApiKey, check_key};

/// Portal's production API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.portalhq.io";
/// The client API version in the path (`/api/v1/...`).
pub const DEFAULT_API_VERSION: &str = "v1";
/// The API version of the multi-backup path (`/api/v2/...`), which Portal's
/// current SDKs call with `isMultiBackupEnabled` in the body.
pub const MULTI_BACKUP_API_VERSION: &str = "v2";
/// The endpoint, relative to `{base}/api/{version}/`.
pub const STORED_CLIENT_BACKUP_SHARE_PATH: &str = "clients/me/wallet/stored-client-backup-share";

/// The longest `Retry-After` the notifier honours; longer waits are cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// How much of an error response body is kept (for the log and the error).
const MAX_BODY_IN_ERROR: usize = 512;

/// Installs aws-lc-rs as rustls' process-wide crypto provider, once, unless
/// one is installed already (with both `ring` and `aws-lc-rs` in a binary,
/// rustls cannot choose and the first TLS connection would panic).
pub fn install_default_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
    });
}

/// The notifier's default [`RetryPolicy`]: 4 retries, 100 ms doubling up to
/// 5 s, with full jitter (`backon`). What is retried: 5xx, 429, timeouts and
/// connection failures, waiting as long as a `Retry-After` asks (up to
/// 30 s); 401, 403 and other 4xx answers are final.
pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy::new(4, Duration::from_millis(100), Duration::from_secs(5));

/// What Portal (or the way to it) answered, carried as the `source` of the
/// core [`Error`]. Never holds the API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    /// Portal answered with a non-success status.
    #[error("Portal answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the response body (the key, if echoed, is redacted).
        body: String,
    },
    /// The request did not get an answer (connection, TLS, timeout).
    #[error("request to Portal failed: {0}")]
    Transport(#[source] reqwest::Error),
}

/// The JSON body of `PUT .../stored-client-backup-share`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredClientBackupShare<'a> {
    backup_method: &'a str,
    success: bool,
    /// Sent only when configured (Portal's SDKs leave it out when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    is_multi_backup_enabled: Option<bool>,
}

/// A [`Notifier`] that speaks Portal's client API:
///
/// ```text
/// PUT {base}/api/{version}/clients/me/wallet/stored-client-backup-share
/// Authorization: Bearer <client API key>
/// Content-Type: application/json
///
/// {"backupMethod":"PASSWORD","success":true}
/// ```
///
/// Any 2xx (Portal sends 204) is success. The client API key is a
/// [`SecretString`]: it goes into the `Authorization` header (marked
/// sensitive) and nowhere else, not into `Debug`, logs or errors.
#[derive(Clone)]
pub struct PortalNotifier {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    endpoint: Url,
    multi_backup: Option<bool>,
    keys: Arc<dyn ClientApiKeys>,
    retry: RetryPolicy,
    timeout: Duration,
}

impl fmt::Debug for PortalNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortalNotifier")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("multi_backup", &self.inner.multi_backup)
            .field("keys", &self.inner.keys)
            .field("retry", &self.inner.retry)
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}

/// Builds a [`PortalNotifier`].
///
/// ```
/// use std::time::Duration;
/// use share_backup_core::SecretString;
/// use share_backup_portal_api::{DEFAULT_RETRY, PortalNotifier};
///
/// let notifier = PortalNotifier::builder()
///     .api_key(SecretString::from("client-api-key"))
///     .timeout(Duration::from_secs(10))
///     .retry(DEFAULT_RETRY.with_max_retries(3))
///     .build()
///     .unwrap();
/// assert_eq!(
///     notifier.endpoint().as_str(),
///     "https://api.portalhq.io/api/v1/clients/me/wallet/stored-client-backup-share"
/// );
/// assert!(!format!("{notifier:?}").contains("client-api-key"));
/// ```
#[must_use]
pub struct PortalNotifierBuilder {
    base_url: String,
    api_version: String,
    keys: Option<Arc<dyn ClientApiKeys>>,
    retry: RetryPolicy,
    timeout: Duration,
    connect_timeout: Duration,
    allow_insecure_http: bool,
    client: Option<reqwest::ClientBuilder>,
    multi_backup: Option<bool>,
}

impl fmt::Debug for PortalNotifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortalNotifierBuilder")
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("multi_backup", &self.multi_backup)
            .field("keys", &self.keys)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for PortalNotifierBuilder {
    fn default() -> Self {
        PortalNotifierBuilder {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            keys: None,
            retry: DEFAULT_RETRY,
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            allow_insecure_http: false,
            client: None,
            multi_backup: None,
        }
    }
}

impl PortalNotifierBuilder {
    /// The API base URL ([`DEFAULT_BASE_URL`]); may carry a path prefix
    /// (`https://gateway.example/portal`). Plain `http` is accepted for
    /// loopback addresses only, unless [`Self::allow_insecure_http`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The API version path segment ([`DEFAULT_API_VERSION`]).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Portal's multi-backup path, as its current SDKs call it when a wallet
    /// is backed up with several methods: `PUT
    /// {base}/api/v2/clients/me/wallet/stored-client-backup-share` with
    /// `"isMultiBackupEnabled": enabled` in the body next to `backupMethod`
    /// and `success`. Sets the API version to [`MULTI_BACKUP_API_VERSION`]
    /// (call [`Self::api_version`] afterwards for another one).
    pub fn multi_backup(mut self, enabled: bool) -> Self {
        self.multi_backup = Some(enabled);
        self.api_version = MULTI_BACKUP_API_VERSION.to_owned();
        self
    }

    /// One client API key for every user (an app on the device).
    pub fn api_key(mut self, key: SecretString) -> Self {
        self.keys = Some(Arc::new(StaticApiKey::new(key)));
        self
    }

    /// Looks each user's client API key up (a server notifying for many users).
    pub fn api_keys(mut self, keys: Arc<dyn ClientApiKeys>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// How failures are retried ([`DEFAULT_RETRY`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The deadline of one attempt, answer included (default 15 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The deadline to connect (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Allows plain `http` to a non-loopback host. The API key then travels
    /// in clear: only for a trusted network.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Builds the HTTP client from this builder (proxies, custom roots).
    /// Its redirect policy is replaced by "never follow" (a redirect would
    /// replay the client API key to another URL), and the connect timeout by
    /// [`Self::connect_timeout`]; the per-request timeout still applies.
    pub fn client_builder(mut self, client: reqwest::ClientBuilder) -> Self {
        self.client = Some(client);
        self
    }

    /// The notifier.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a bad base URL or version, or when no
    /// key source was given.
    pub fn build(self) -> Result<PortalNotifier> {
        let keys = self
            .keys
            .ok_or_else(|| Error::invalid_input("no Portal client API key: call api_key(...) or api_keys(...)"))?;
        let endpoint = endpoint(&self.base_url, &self.api_version, self.allow_insecure_http)?;
        install_default_crypto_provider();
        let client = self
            .client
            .unwrap_or_default()
            .connect_timeout(self.connect_timeout)
            // A redirect would replay the key somewhere else: refuse, also
            // on a caller-supplied client builder.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal("could not build the HTTP client").with_source(e))?;
        Ok(PortalNotifier {
            inner: Arc::new(Inner {
                client,
                endpoint,
                multi_backup: self.multi_backup,
                keys,
                retry: self.retry,
                timeout: self.timeout,
            }),
        })
    }
}

/// A loopback IP literal (127.0.0.0/8 or `[::1]`), as the Drive provider
/// accepts: not the name `localhost`, which a resolver (or a hosts file)
/// may send elsewhere.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(_)) => false,
        Some(url::Host::Ipv4(a)) => IpAddr::V4(a).is_loopback(),
        Some(url::Host::Ipv6(a)) => IpAddr::V6(a).is_loopback(),
        None => false,
    }
}

/// `{base}/api/{version}/clients/me/wallet/stored-client-backup-share`.
fn endpoint(base: &str, version: &str, allow_http: bool) -> Result<Url> {
    let mut url = Url::parse(base)
        .map_err(|e| Error::invalid_input(format!("invalid Portal base URL {base:?}")).with_source(e))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http || is_loopback(&url) => {}
        "http" => {
            return Err(Error::invalid_input(format!(
                "refusing plain http to {base:?}: the client API key would travel in clear"
            ))
            .with_hint(
                "use https; plain http only to a loopback IP literal (127.0.0.1, [::1]), not a host name such as \
                 localhost; or allow_insecure_http(true) on a trusted network",
            ));
        }
        other => return Err(Error::invalid_input(format!("unsupported scheme {other:?} in the Portal base URL"))),
    }
    if url.cannot_be_a_base() || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(Error::invalid_input(format!(
            "the Portal base URL {base:?} must be scheme://host[:port][/path], without query, fragment or user"
        )));
    }
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
        return Err(Error::invalid_input(format!("invalid Portal API version {version:?} (like v1)")));
    }
    {
        let mut segs = url.path_segments_mut().map_err(|()| Error::invalid_input("invalid Portal base URL"))?;
        segs.pop_if_empty().push("api").push(version);
        segs.extend(STORED_CLIENT_BACKUP_SHARE_PATH.split('/'));
    }
    Ok(url)
}

/// One failed attempt: the error to return, and whether to try again.
struct Failure {
    error: Error,
    retry: bool,
    retry_after: Option<Duration>,
}

/// Replaces the key in the whole body, then keeps its start: truncating
/// first could cut the key and leave its prefix unredacted.
fn redact(body: &str, key: &str) -> String {
    let whole = if key.is_empty() { body.to_owned() } else { body.replace(key, "[REDACTED]") };
    whole.chars().take(MAX_BODY_IN_ERROR).collect()
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<u64>().ok().map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
}

fn status_failure(status: StatusCode, body: String, after: Option<Duration>) -> Failure {
    let code = status.as_u16();
    let (kind, message, retry, hint): (ErrorKind, String, bool, Option<&'static str>) = match code {
        401 => (
            ErrorKind::Unauthenticated,
            "Portal rejected the client API key (401)".to_owned(),
            false,
            Some("check the client API key (expired, revoked or from another environment), then retry"),
        ),
        403 => (
            ErrorKind::PermissionDenied,
            "Portal refused the request for this client (403)".to_owned(),
            false,
            Some("use a client API key of the user's own client, with access to its wallet"),
        ),
        404 => (
            ErrorKind::NotFound,
            "Portal has no such endpoint or client (404)".to_owned(),
            false,
            Some("check the base URL and API version, and that the client exists"),
        ),
        429 => (ErrorKind::RateLimited, "Portal asked us to slow down (429)".to_owned(), true, None),
        500..=599 => (ErrorKind::Unavailable, format!("Portal failed to record the backup ({code})"), true, None),
        _ => (
            ErrorKind::InvalidInput,
            format!("Portal refused the notification ({code})"),
            false,
            Some("this request shape is not what this Portal API version accepts; check the API version"),
        ),
    };
    let mut error = Error::new(kind, message).with_source(PortalError::Status { status: code, body });
    if let Some(h) = hint {
        error = error.with_hint(h);
    }
    Failure { error, retry, retry_after: after }
}

fn transport_failure(e: reqwest::Error) -> Failure {
    let (message, retry) = if e.is_timeout() {
        ("Portal did not answer in time", true)
    } else if e.is_connect() {
        ("could not connect to Portal", true)
    } else if e.is_builder() {
        ("could not build the request to Portal", false)
    } else {
        ("the request to Portal failed", true)
    };
    let kind = if e.is_builder() { ErrorKind::Internal } else { ErrorKind::Unavailable };
    // reqwest's error shows the URL (no secret in it) and never the headers.
    Failure { error: Error::new(kind, message).with_source(PortalError::Transport(e)), retry, retry_after: None }
}

impl PortalNotifier {
    /// A builder with Portal's production base URL.
    pub fn builder() -> PortalNotifierBuilder {
        PortalNotifierBuilder::default()
    }

    /// The full URL notifications go to.
    pub fn endpoint(&self) -> &Url {
        &self.inner.endpoint
    }

    async fn attempt(&self, key: &SecretString, body: &[u8]) -> std::result::Result<(), Failure> {
        // The bearer string is wiped once the header value is made.
        let bearer = zeroize::Zeroizing::new(format!("Bearer {}", key.expose_secret()));
        let mut auth = HeaderValue::from_str(&bearer).map_err(|_| Failure {
            error: Error::new(ErrorKind::Unauthenticated, "the client API key cannot be sent in a header"),
            retry: false,
            retry_after: None,
        })?;
        auth.set_sensitive(true);
        let resp = self
            .inner
            .client
            .put(self.inner.endpoint.clone())
            .timeout(self.inner.timeout)
            .header(AUTHORIZATION, auth)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("share-backup-portal-api/", env!("CARGO_PKG_VERSION")))
            .body(body.to_vec())
            .send()
            .await
            .map_err(transport_failure)?;
        let status = resp.status();
        if status.is_success() {
            tracing::debug!(status = status.as_u16(), "Portal acknowledged");
            return Ok(());
        }
        let after = retry_after(resp.headers());
        let text = resp.text().await.unwrap_or_default();
        let body = redact(&text, key.expose_secret());
        tracing::debug!(status = status.as_u16(), "Portal refused the notification");
        Err(status_failure(status, body, after))
    }
}

#[async_trait]
impl Notifier for PortalNotifier {
    async fn stored_client_backup_share(
        &self,
        user: &UserId,
        method: &MethodId,
        backup_id: BackupId,
        success: bool,
    ) -> Result<()> {
        let portal_method = method.portal_name();
        let span = tracing::info_span!(
            "portal_notify",
            method = %method,
            backup_method = %portal_method,
            %backup_id,
            success,
        );
        async {
            let key = self.inner.keys.client_api_key(user).await.map_err(|e| e.with_method(method.clone()))?;
            check_key(&key).map_err(|e| e.with_method(method.clone()))?;
            let body = serde_json::to_vec(&StoredClientBackupShare {
                backup_method: &portal_method,
                success,
                is_multi_backup_enabled: self.inner.multi_backup,
            })
            .map_err(|e| Error::internal("could not encode the notification").with_source(e))?;
            let started = Instant::now();
            let policy = self.inner.retry;
            let backoff = ExponentialBuilder::default()
                .with_jitter()
                .with_min_delay(policy.min_delay())
                .with_max_delay(policy.max_delay())
                .with_max_times(policy.max_retries() as usize)
                .with_total_delay(policy.max_total_delay());
            let result = (|| self.attempt(&key, &body))
                .retry(backoff)
                .sleep(tokio::time::sleep)
                .when(|f: &Failure| f.retry)
                .adjust(|f: &Failure, next: Option<Duration>| next.map(|d| f.retry_after.unwrap_or(d)))
                .notify(|f: &Failure, delay| {
                    tracing::warn!(error = %f.error, ?delay, "Portal notification failed; retrying");
                })
                .await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            match result {
                Ok(()) => {
                    tracing::info!(elapsed_ms, "stored-client-backup-share sent");
                    Ok(())
                }
                Err(f) => {
                    tracing::warn!(elapsed_ms, error = %f.error, "stored-client-backup-share failed");
                    Err(f.error.with_method(method.clone()))
                }
            }
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_joins_base_path_version_and_route() {
        let u = endpoint("https://api.portalhq.io", "v1", false).unwrap();
        assert_eq!(u.as_str(), "https://api.portalhq.io/api/v1/clients/me/wallet/stored-client-backup-share");
        let u = endpoint("https://gw.example/portal/", "v2", false).unwrap();
        assert_eq!(u.as_str(), "https://gw.example/portal/api/v2/clients/me/wallet/stored-client-backup-share");
        assert!(endpoint("http://127.0.0.1:8080", "v1", false).is_ok());
        assert!(endpoint("http://[::1]:8080", "v1", false).is_ok());
        assert!(endpoint("http://127.8.9.10", "v1", false).is_ok());
    }

    #[test]
    fn plain_http_to_another_host_is_refused_unless_allowed() {
        // Loopback only as an IP literal: a name can resolve anywhere.
        for name in ["http://localhost", "http://LOCALHOST:8080", "http://localhost.", "http://127.0.0.1.nip.io"] {
            assert_eq!(endpoint(name, "v1", false).unwrap_err().kind(), &ErrorKind::InvalidInput, "{name}");
        }
        assert!(endpoint("http://[::ffff:127.0.0.1]", "v1", false).is_err());
        let e = endpoint("http://api.example.com", "v1", false).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
        assert!(endpoint("http://api.example.com", "v1", true).is_ok());
        for bad in ["ftp://x", "https://x/?q=1", "https://u:p@x", "not a url"] {
            assert_eq!(endpoint(bad, "v1", false).unwrap_err().kind(), &ErrorKind::InvalidInput, "{bad}");
        }
        assert!(endpoint("https://x", "v1/../admin", false).is_err());
        assert!(endpoint("https://x", "", false).is_err());
    }

    #[test]
    fn the_body_is_portals_json_shape() {
        let b = StoredClientBackupShare { backup_method: "GDRIVE", success: false, is_multi_backup_enabled: None };
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"backupMethod":"GDRIVE","success":false}"#);
        let b =
            StoredClientBackupShare { backup_method: "PASSWORD", success: true, is_multi_backup_enabled: Some(true) };
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"backupMethod":"PASSWORD","success":true,"isMultiBackupEnabled":true}"#
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn an_echoed_key_is_redacted_from_error_bodies() {
        assert_eq!(redact("bad token sk_live_123", "sk_live_123"), "bad token [REDACTED]");
        assert_eq!(redact(&"x".repeat(2000), "k").len(), MAX_BODY_IN_ERROR);
    }

    #[test]
    fn a_key_straddling_the_truncation_point_is_redacted_not_cut() {
        let key = "sk_live_0123456789abcdef";
        let body = format!("{}{key} trailing", "x".repeat(MAX_BODY_IN_ERROR - 8));
        let shown = redact(&body, key);
        assert!(!shown.contains("sk_live"), "a prefix of the key survived: {shown}");
        assert!(shown.ends_with("[REDACTE"), "{shown}");
    }
}
