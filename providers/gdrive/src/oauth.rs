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
