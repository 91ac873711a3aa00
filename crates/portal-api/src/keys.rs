//! Where the notifier finds each user's Portal client API key.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use share_backup_core::{Error, ErrorKind, ExposeSecret, Result, SecretString, UserId};

/// Finds the Portal client API key of a user's wallet client.
///
/// Portal's client API acts for one client (`/clients/me`), so a server that
/// notifies for many users needs each user's key; an app on the device has
/// one key and uses [`StaticApiKey`].
///
/// ```
/// use share_backup_core::{async_trait, Error, Result, SecretString, UserId};
/// use share_backup_portal_api::ClientApiKeys;
///
/// /// Looks keys up in the integrator's own user database.
/// #[derive(Debug)]
/// struct FromDatabase;
///
/// #[async_trait]
/// impl ClientApiKeys for FromDatabase {
///     async fn client_api_key(&self, user: &UserId) -> Result<SecretString> {
///         // A real lookup goes here.
///         Ok(SecretString::from(format!("key-of-{}", user.as_str())))
///     }
/// }
/// ```
#[async_trait]
pub trait ClientApiKeys: fmt::Debug + Send + Sync + 'static {
    /// The client API key for `user`'s wallet client.
    ///
    /// # Errors
    /// Typically [`ErrorKind::Unauthenticated`] when the user has no key.
    async fn client_api_key(&self, user: &UserId) -> Result<SecretString>;
}

/// One client API key for every user (an app on the user's device).
pub struct StaticApiKey(SecretString);

impl StaticApiKey {
    /// Wraps the key.
    pub fn new(key: SecretString) -> Self {
        StaticApiKey(key)
    }
}

impl fmt::Debug for StaticApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticApiKey([REDACTED])")
    }
}

#[async_trait]
impl ClientApiKeys for StaticApiKey {
    async fn client_api_key(&self, _user: &UserId) -> Result<SecretString> {
        Ok(self.0.clone())
    }
}

/// A fixed table of keys per user (tests, small deployments).
#[async_trait]
impl ClientApiKeys for HashMap<UserId, SecretString> {
    async fn client_api_key(&self, user: &UserId) -> Result<SecretString> {
        self.get(user).cloned().ok_or_else(|| {
            Error::new(ErrorKind::Unauthenticated, "no Portal client API key is known for this user")
                .with_hint("register the user's client API key, then retry")
                .with_retryable(false)
        })
    }
}

/// Checks a key before it is put in a header: not empty, printable ASCII.
pub(crate) fn check_key(key: &SecretString) -> Result<()> {
    let k = key.expose_secret();
    if k.is_empty() || !k.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(Error::new(
            ErrorKind::Unauthenticated,
            "the Portal client API key is empty or holds characters a header cannot carry",
        )
        .with_hint("pass the client API key exactly as Portal issued it")
        .with_retryable(false));
    }
    Ok(())
}
