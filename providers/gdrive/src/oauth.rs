//! A [`TokenSource`] on a yup-oauth2 authenticator (feature `oauth`), for
//! desktop and server programs that run the OAuth flow themselves.

use std::fmt;

use hyper_util::client::legacy::connect::Connect;
use share_backup_core::{Error, ErrorKind, Result, SecretString, async_trait};
use yup_oauth2::authenticator::Authenticator;

use crate::config::TokenSource;

/// Tokens from a yup-oauth2 [`Authenticator`] (installed-app flow, service
/// account, authorized user, ...). A 401 makes the provider ask it for a
/// freshly refreshed token once.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use share_backup_gdrive::{DriveProvider, OAuthTokenSource};
/// share_backup_gdrive::install_crypto_provider();
/// let secret = yup_oauth2::read_application_secret("client_secret.json").await?;
/// let auth = yup_oauth2::InstalledFlowAuthenticator::builder(
///     secret,
///     yup_oauth2::InstalledFlowReturnMethod::HTTPRedirect,
/// )
/// .persist_tokens_to_disk("tokens.json")
/// .build()
/// .await?;
/// let provider = DriveProvider::builder().token_source(Arc::new(OAuthTokenSource::new(auth))).build()?;
/// # Ok(()) }
/// ```
pub struct OAuthTokenSource<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    auth: Authenticator<C>,
}

impl<C> OAuthTokenSource<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// Wraps an authenticator.
    pub fn new(auth: Authenticator<C>) -> Self {
        OAuthTokenSource { auth }
    }
}

impl<C> fmt::Debug for OAuthTokenSource<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OAuthTokenSource([REDACTED])")
    }
}

fn convert(r: std::result::Result<yup_oauth2::AccessToken, yup_oauth2::Error>) -> Result<SecretString> {
    let t = r.map_err(|e| {
        Error::new(ErrorKind::Unauthenticated, "the OAuth flow could not produce a Google access token")
            .with_hint("check the OAuth client secret and that the user granted access, then retry")
            .with_source(std::io::Error::other(e.to_string()))
    })?;
    t.token()
        .map(|s| SecretString::from(s.to_owned()))
        .ok_or_else(|| Error::new(ErrorKind::Unauthenticated, "the OAuth flow produced no access token"))
}

#[async_trait]
impl<C> TokenSource for OAuthTokenSource<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    async fn token(&self, scopes: &[&str]) -> Result<SecretString> {
        convert(self.auth.token(scopes).await)
    }

    async fn refresh(&self, scopes: &[&str]) -> Result<SecretString> {
        convert(self.auth.force_refreshed_token(scopes).await)
    }
}

/// The installed-application OAuth flow (a desktop program or a CLI), set up
/// lazily from files: the OAuth client secret downloaded from Google Cloud
/// Console, and optionally a file that keeps the user's tokens between runs.
///
/// Nothing is read until the first token is needed, so building a provider
/// from settings never blocks or fails on the files; the first call does,
/// with `Unauthenticated` naming the problem. The first call without cached
/// tokens prints a consent URL and waits for the browser's redirect on a
/// loopback port (yup-oauth2's `HTTPRedirect`).
pub struct InstalledAppTokenSource {
    secret_path: std::path::PathBuf,
    token_cache: Option<std::path::PathBuf>,
    client_id: Option<String>,
    auth: tokio::sync::OnceCell<yup_oauth2::authenticator::DefaultAuthenticator>,
}

impl InstalledAppTokenSource {
    /// The flow for the client secret at `secret_path`, keeping tokens in
    /// `token_cache` when given (make that file readable by the user only).
    pub fn new(secret_path: impl Into<std::path::PathBuf>, token_cache: Option<std::path::PathBuf>) -> Self {
        InstalledAppTokenSource {
            secret_path: secret_path.into(),
            token_cache,
            client_id: None,
            auth: tokio::sync::OnceCell::new(),
        }
    }

    /// Refuses (at the first token) a client secret file of another OAuth
    /// client than `client_id` (the provider's `client_id` setting), so that
    /// a desktop build does not sign users in to the wrong Cloud project.
    pub fn expect_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    async fn auth(&self) -> Result<&yup_oauth2::authenticator::DefaultAuthenticator> {
        self.auth
            .get_or_try_init(|| async {
                crate::install_crypto_provider();
                let secret = yup_oauth2::read_application_secret(&self.secret_path).await.map_err(|e| {
                    Error::new(
                        ErrorKind::Unauthenticated,
                        format!("could not read the OAuth client secret {}", self.secret_path.display()),
                    )
                    .with_hint("download the OAuth client (desktop app) JSON from Google Cloud Console and set oauth_client_secret to its path")
                    .with_source(e)
                })?;
                if let Some(expected) = &self.client_id
                    && &secret.client_id != expected
                {
                    // Client ids are not secret; the client secret is never shown.
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!(
                            "the OAuth client secret {} is for client {}, but the client_id setting is {expected}",
                            self.secret_path.display(),
                            secret.client_id
                        ),
                    )
                    .with_hint("download the client secret JSON of the configured OAuth client, or fix the client_id setting"));
                }
                let mut b = yup_oauth2::InstalledFlowAuthenticator::builder(
                    secret,
                    yup_oauth2::InstalledFlowReturnMethod::HTTPRedirect,
                );
                if let Some(cache) = &self.token_cache {
                    b = b.persist_tokens_to_disk(cache.clone());
                }
                b.build().await.map_err(|e| {
                    Error::new(ErrorKind::Unauthenticated, "could not set up the OAuth installed-app flow").with_source(e)
                })
            })
            .await
    }
}

impl fmt::Debug for InstalledAppTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstalledAppTokenSource")
            .field("secret_path", &self.secret_path)
            .field("token_cache", &self.token_cache)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenSource for InstalledAppTokenSource {
    async fn token(&self, scopes: &[&str]) -> Result<SecretString> {
        convert(self.auth().await?.token(scopes).await)
    }

    async fn refresh(&self, scopes: &[&str]) -> Result<SecretString> {
        convert(self.auth().await?.force_refreshed_token(scopes).await)
    }
}
