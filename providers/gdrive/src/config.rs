//! Access tokens: the per-call config and the token-source trait.

use std::fmt;
use std::sync::Arc;

use share_backup_core::{Error, ErrorKind, ExposeSecret, Result, SecretString, async_trait};

/// Where the provider gets Google OAuth access tokens.
///
/// A mobile app that signed the user in passes a [`StaticToken`] per call
/// (through [`DriveConfig::access_token`]); a desktop or server program can
/// use a yup-oauth2 authenticator (feature `oauth`: `OAuthTokenSource`, `InstalledAppTokenSource`),
/// or its own implementation.
///
/// Implementations must never log or print the tokens.
#[async_trait]
pub trait TokenSource: fmt::Debug + Send + Sync + 'static {
    /// An access token valid for `scopes` (full scope URLs).
    ///
    /// # Errors
    /// `Unauthenticated` when no token can be had.
    async fn token(&self, scopes: &[&str]) -> Result<SecretString>;

    /// A fresh token after Google refused the last one (401). Called at most
    /// once per operation. The default cannot refresh and says so.
    ///
    /// # Errors
    /// `Unauthenticated` when no fresh token can be had.
    async fn refresh(&self, scopes: &[&str]) -> Result<SecretString> {
        let _ = scopes;
        Err(Error::new(
            ErrorKind::Unauthenticated,
            "Google refused the access token and this token source cannot refresh it",
        )
        .with_hint("sign the user in to Google again and pass the fresh access token"))
    }
}

/// One access token, as obtained by the app (Google Sign-In on the device).
/// It cannot be refreshed: a refusal is `Unauthenticated`.
#[derive(Clone)]
pub struct StaticToken(SecretString);

impl StaticToken {
    /// Wraps the token.
    pub fn new(token: impl Into<SecretString>) -> Self {
        StaticToken(token.into())
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken([REDACTED])")
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self, _scopes: &[&str]) -> Result<SecretString> {
        if self.0.expose_secret().trim().is_empty() {
            return Err(Error::new(ErrorKind::Unauthenticated, "the Google access token is empty")
                .with_hint("pass the access token the app got when the user signed in to Google"));
        }
        Ok(self.0.clone())
    }
}

/// The per-call config of the Google Drive provider: how to authenticate
/// this call as the user. Insert it into the call's
/// [`Configs`](share_backup_core::Configs).
///
/// ```
/// use share_backup_core::Configs;
/// use share_backup_gdrive::DriveConfig;
/// let configs = Configs::new().with(DriveConfig::access_token("ya29.a0-token"));
/// assert!(!format!("{configs:?} {:?}", configs.get::<DriveConfig>()).contains("ya29"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct DriveConfig {
    source: Arc<dyn TokenSource>,
}

impl DriveConfig {
    /// The user's OAuth access token, with scope `drive.appdata` (or
    /// `drive.file` for a visible folder).
    pub fn access_token(token: impl Into<SecretString>) -> Self {
        DriveConfig { source: Arc::new(StaticToken::new(token)) }
    }

    /// Tokens from a source that can refresh them.
    pub fn from_source(source: Arc<dyn TokenSource>) -> Self {
        DriveConfig { source }
    }

    pub(crate) fn source(&self) -> &Arc<dyn TokenSource> {
        &self.source
    }
}

impl fmt::Debug for DriveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriveConfig").field("source", &self.source).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_tokens_are_redacted_and_cannot_refresh() {
        let t = StaticToken::new("ya29.secret-value");
        assert_eq!(format!("{t:?}"), "StaticToken([REDACTED])");
        assert_eq!(t.token(&[]).await.unwrap().expose_secret(), "ya29.secret-value");
        let e = t.refresh(&[]).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
        assert!(!format!("{e:?} {e}").contains("secret-value"));
        assert_eq!(StaticToken::new("  ").token(&[]).await.unwrap_err().kind(), &ErrorKind::Unauthenticated);
    }
}
