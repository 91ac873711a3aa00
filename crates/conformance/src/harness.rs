//! What the suite needs to know about a provider beyond the trait: how to
//! make the per-call configs of a user, a wrong secret, which cases to skip.

use std::any::{Any, type_name};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use share_backup_core::{ClientId, Configs, CustodianId, UserId};

type ConfigsFn = dyn Fn(&UserId) -> Configs + Send + Sync;
type SecretsFn = dyn Fn(&UserId) -> Vec<String> + Send + Sync;
type ConfigDebugFn = dyn Fn(&Configs) -> Option<(&'static str, String)> + Send + Sync;

/// How to drive a provider through the suite.
///
/// The suite makes up its own user ids (a fresh, random set per case, so
/// that runs against a persistent backend do not collide) and asks the
/// harness for each user's per-call [`Configs`]: the password, the access
/// token, whatever the provider reads from its context. Give every user a
/// **different** secret or credential, as real users have: the
/// `key_scoped_to_user` case checks that user B's credentials never open
/// user A's key.
///
/// Cheap to clone.
///
/// ```
/// use share_backup_conformance::Harness;
/// use share_backup_core::{Configs, UserId};
///
/// struct Pin(String);
/// impl std::fmt::Debug for Pin {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("Pin(..)") // never the PIN itself
///     }
/// }
///
/// let harness = Harness::new()
///     .with_configs(|user: &UserId| Configs::new().with(Pin(format!("pin-for-{user}"))))
///     .with_config_type::<Pin>()
///     .with_wrong_secret(|_user: &UserId| Configs::new().with(Pin("not-the-pin".into())))
///     .with_secrets(|user: &UserId| vec![format!("pin-for-{user}")])
///     .skip("cancellation", "the backend cannot be interrupted in tests");
/// assert!(harness.skip_reason("cancellation").is_some());
/// ```
#[derive(Clone)]
pub struct Harness {
    configs: Arc<ConfigsFn>,
    wrong_secret: Option<Arc<ConfigsFn>>,
    secrets: Option<Arc<SecretsFn>>,
    config_types: Vec<Arc<ConfigDebugFn>>,
    debug_values: Vec<(String, Arc<dyn fmt::Debug + Send + Sync>)>,
    provider_secrets: Vec<(String, Arc<[u8]>)>,
    custodian: Option<CustodianId>,
    client: Option<ClientId>,
    skips: BTreeMap<String, String>,
    timeout: Duration,
    tamper_samples: usize,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// A harness that passes no per-call configs, no custodian and no client.
    pub fn new() -> Self {
        Harness {
            configs: Arc::new(|_| Configs::new()),
            wrong_secret: None,
            secrets: None,
            config_types: Vec::new(),
            debug_values: Vec::new(),
            provider_secrets: Vec::new(),
            custodian: None,
            client: None,
            skips: BTreeMap::new(),
            timeout: Duration::from_secs(120),
            tamper_samples: 64,
        }
    }

    /// The per-call configs of a user: what a real caller would pass for
    /// that user's backup and recovery. Must be deterministic per user (the
    /// same user gets the same secret on every call).
    pub fn with_configs(mut self, f: impl Fn(&UserId) -> Configs + Send + Sync + 'static) -> Self {
        self.configs = Arc::new(f);
        self
    }

    /// Configs carrying a **wrong** secret for a user. Required when the
    /// provider's capabilities say `needs_user_secret`: recovery with them
    /// must fail with `ErrorKind::WrongSecret`.
    pub fn with_wrong_secret(mut self, f: impl Fn(&UserId) -> Configs + Send + Sync + 'static) -> Self {
        self.wrong_secret = Some(Arc::new(f));
        self
    }

    /// The secret strings inside a user's configs (passwords, tokens): the
    /// suite checks that none of them shows in any `Debug`, `Display`,
    /// error, key header or tracing event. Choose distinctive values (not
    /// `1234`), so that a chance match cannot happen.
    pub fn with_secrets(mut self, f: impl Fn(&UserId) -> Vec<String> + Send + Sync + 'static) -> Self {
        self.secrets = Some(Arc::new(f));
        self
    }

    /// Declares a per-call config type the harness passes (`PasswordConfig`,
    /// a token type), so that `no_secret_in_debug` can format the `Debug`
    /// (`{:?}` and `{:#?}`) of each such value in the configs it builds and
    /// check that no secret shows. [`Configs`] is a type map that cannot
    /// format its values, so the suite needs the type: declare every type
    /// you put into [`Self::with_configs`], or the case fails and says which
    /// values it could not reach.
    pub fn with_config_type<T: Any + fmt::Debug + Send + Sync>(mut self) -> Self {
        self.config_types
            .push(Arc::new(|c: &Configs| c.get::<T>().map(|v| (type_name::<T>(), format!("{v:?} {v:#?}")))));
        self
    }

    /// Another value whose `Debug` must show no secret: a provider builder,
    /// a settings struct, a credential source. `no_secret_in_debug` formats
    /// it (`{:?}` and `{:#?}`) and looks for the share, the data key and
    /// every string of [`Self::with_secrets`] (return a builder's own secret,
    /// e.g. an OAuth client secret, from that closure too).
    pub fn with_debug_value(mut self, what: impl Into<String>, value: impl fmt::Debug + Send + Sync + 'static) -> Self {
        self.debug_values.push((what.into(), Arc::new(value)));
        self
    }

    /// A provider-wide secret the provider holds (a master key that wraps
    /// every user's data key, an API key of the provider's service), named
    /// for the report (`"the master key"`). `no_secret_in_debug` looks for
    /// it, as for the share and the data key (whole and in 12-byte windows;
    /// in clear, hex, base64 and as a byte list), in every `Debug`, error,
    /// key header and tracing event, from every thread. Give the same bytes
    /// the provider was built with: the harness never prints them.
    ///
    /// ```
    /// use share_backup_conformance::Harness;
    /// let master_key = [0x42u8; 32]; // in a test: the key you built the provider with
    /// let harness = Harness::new().with_provider_secret("the master key", master_key);
    /// assert!(!format!("{harness:?}").contains("42, 42"));
    /// ```
    pub fn with_provider_secret(mut self, what: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.provider_secrets.push((what.into(), Arc::from(secret.as_ref())));
        self
    }

    /// Binds every envelope to this custodian id too.
    pub fn with_custodian(mut self, id: CustodianId) -> Self {
        self.custodian = Some(id);
        self
    }

    /// Binds every envelope to this client id too.
    pub fn with_client(mut self, id: ClientId) -> Self {
        self.client = Some(id);
        self
    }

    /// Skips a case (by its name, e.g. `"cancellation"`), with the reason
    /// the report shows. Use it sparingly and say why: a skipped case is a
    /// contract point nobody checked.
    pub fn skip(mut self, case: impl Into<String>, reason: impl Into<String>) -> Self {
        self.skips.insert(case.into(), reason.into());
        self
    }

    /// How long one case may run before it fails as hung (default 120 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Up to how many positions of an envelope's body the tamper case changes
    /// (default 64). A body of at most this many characters (of the envelope
    /// string) and bytes (decoded) is changed at every position, as is the
    /// 32-byte share's body the case uses (48 bytes, 64 characters); a longer
    /// body at its first and last 8 and this many evenly spread positions. The
    /// header is always changed at every character and every byte.
    pub fn with_tamper_samples(mut self, n: usize) -> Self {
        self.tamper_samples = n.max(1);
        self
    }

    /// The per-call configs of `user`.
    pub fn configs(&self, user: &UserId) -> Configs {
        (self.configs)(user)
    }

    /// Wrong-secret configs of `user`, if the harness has them.
    pub fn wrong_secret(&self, user: &UserId) -> Option<Configs> {
        self.wrong_secret.as_ref().map(|f| f(user))
    }

    /// Whether the harness can make wrong-secret configs.
    pub fn has_wrong_secret(&self) -> bool {
        self.wrong_secret.is_some()
    }

    /// The secret strings of `user`'s configs.
    pub fn secrets(&self, user: &UserId) -> Vec<String> {
        self.secrets.as_ref().map(|f| f(user)).unwrap_or_default()
    }

    /// `(type name, Debug)` of each value in `configs` whose type was
    /// declared with [`Self::with_config_type`].
    pub fn config_debugs(&self, configs: &Configs) -> Vec<(&'static str, String)> {
        self.config_types.iter().filter_map(|f| f(configs)).collect()
    }

    /// `(what, Debug)` of each value given to [`Self::with_debug_value`].
    pub fn debug_values(&self) -> Vec<(String, String)> {
        self.debug_values.iter().map(|(w, v)| (w.clone(), format!("{v:?} {v:#?}"))).collect()
    }

    /// `(what, bytes)` of each [`Self::with_provider_secret`].
    pub fn provider_secrets(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.provider_secrets.iter().map(|(w, b)| (w.as_str(), &b[..]))
    }

    /// The custodian id, if any.
    pub fn custodian(&self) -> Option<&CustodianId> {
        self.custodian.as_ref()
    }

    /// The client id, if any.
    pub fn client(&self) -> Option<&ClientId> {
        self.client.as_ref()
    }

    /// Why `case` is skipped, if it is.
    pub fn skip_reason(&self, case: &str) -> Option<&str> {
        self.skips.get(case).map(String::as_str)
    }

    /// The per-case timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Body positions the tamper case changes.
    pub fn tamper_samples(&self) -> usize {
        self.tamper_samples
    }
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("wrong_secret", &self.wrong_secret.is_some())
            .field("secrets", &self.secrets.is_some())
            .field("config_types", &self.config_types.len())
            .field("debug_values", &self.debug_values.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>())
            .field("provider_secrets", &self.provider_secrets.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>())
            .field("custodian", &self.custodian)
            .field("client", &self.client)
            .field("skips", &self.skips)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
