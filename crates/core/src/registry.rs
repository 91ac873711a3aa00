//! The link-time registry of providers, on `inventory`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::error::{Error, ErrorKind, Result};
use crate::method::MethodId;
use crate::provider::BackupProvider;
use crate::settings::{SettingSpec, Settings};

/// The function a provider registers to build itself from settings.
pub type BuildFn = fn(&Settings) -> Result<Arc<dyn BackupProvider>>;

/// A provider's entry in the link-time registry.
///
/// Each provider crate submits exactly one, with
/// [`register_provider!`](crate::register_provider) (or `inventory::submit!`):
///
/// ```ignore
/// share_backup_core::register_provider!(
///     Registration::new("my-vault", "Keys in My Vault", env!("CARGO_PKG_NAME"), build)
///         .with_settings(&[SettingSpec::new("dir", "where keys live", "/tmp/keys")])
/// );
/// ```
///
/// [`register_provider!`](crate::register_provider) also records the
/// registering crate's version and module path
/// ([`Registration::origin`]), so that two versions of one crate that
/// register the same id can be told apart in a
/// [`RegistryError::DuplicateRegistration`].
///
/// Remember that rustc drops a dependency nothing names: an application
/// links a provider with `use my_vault_provider as _;`.
#[derive(Clone, Copy)]
pub struct Registration {
    method: &'static str,
    summary: &'static str,
    crate_name: &'static str,
    version: Option<&'static str>,
    module_path: Option<&'static str>,
    settings: &'static [SettingSpec],
    build: BuildFn,
}

impl Registration {
    /// A registration: method id, one-line summary, the registering crate's
    /// name (`env!("CARGO_PKG_NAME")`) and the build function.
    pub const fn new(method: &'static str, summary: &'static str, crate_name: &'static str, build: BuildFn) -> Self {
        Registration { method, summary, crate_name, version: None, module_path: None, settings: &[], build }
    }

    /// Records the registering crate's version (`env!("CARGO_PKG_VERSION")`).
    /// [`register_provider!`](crate::register_provider) does this for you.
    pub const fn with_version(mut self, version: &'static str) -> Self {
        self.version = Some(version);
        self
    }

    /// Records the module that registers it (`module_path!()`).
    /// [`register_provider!`](crate::register_provider) does this for you.
    pub const fn with_module_path(mut self, module_path: &'static str) -> Self {
        self.module_path = Some(module_path);
        self
    }

    /// Fills in the version and module path where they are not set yet
    /// (what [`register_provider!`](crate::register_provider) calls).
    #[doc(hidden)]
    pub const fn __with_caller(mut self, version: &'static str, module_path: &'static str) -> Self {
        if self.version.is_none() {
            self.version = Some(version);
        }
        if self.module_path.is_none() {
            self.module_path = Some(module_path);
        }
        self
    }

    /// Documents the settings the build function accepts.
    pub const fn with_settings(mut self, settings: &'static [SettingSpec]) -> Self {
        self.settings = settings;
        self
    }

    /// The method id as registered (validated when the registry is built).
    pub fn method_str(&self) -> &'static str {
        self.method
    }

    /// The one-line summary.
    pub fn summary(&self) -> &'static str {
        self.summary
    }

    /// The crate that registered it.
    pub fn crate_name(&self) -> &'static str {
        self.crate_name
    }

    /// Where it was registered: crate name, and version and module path
    /// when known.
    pub fn origin(&self) -> RegistrationOrigin {
        RegistrationOrigin { crate_name: self.crate_name, version: self.version, module_path: self.module_path }
    }

    /// The documented settings.
    pub fn settings(&self) -> &'static [SettingSpec] {
        self.settings
    }

    /// Builds the provider from settings, checking that it reports the
    /// registered method id.
    ///
    /// # Errors
    /// The build function's error, or [`ErrorKind::Internal`] when the
    /// provider's `method()` differs from the registered id.
    pub fn build(&self, settings: &Settings) -> Result<Arc<dyn BackupProvider>> {
        let p = (self.build)(settings).map_err(|e| {
            if e.method().is_some() {
                e
            } else if let Ok(m) = MethodId::new(self.method) {
                e.with_method(m)
            } else {
                e
            }
        })?;
        if p.method().as_str() != self.method {
            return Err(Error::internal(format!(
                "crate {} registers method {:?} but its provider reports {:?}",
                self.crate_name,
                self.method,
                p.method().as_str()
            )));
        }
        Ok(p)
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("method", &self.method)
            .field("summary", &self.summary)
            .field("crate_name", &self.crate_name)
            .field("version", &self.version)
            .field("module_path", &self.module_path)
            .field("settings", &self.settings.iter().map(|s| s.key).collect::<Vec<_>>())
            .finish()
    }
}

inventory::collect!(Registration);

/// Where a [`Registration`] comes from: the crate, and where known its
/// version and the module that registered it.
///
/// `Display` prints `name version (module)`, e.g.
/// `share-backup-gdrive 0.1.0 (share_backup_gdrive)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct RegistrationOrigin {
    /// The crate name given to [`Registration::new`].
    pub crate_name: &'static str,
    /// The crate's version (`CARGO_PKG_VERSION`), recorded by
    /// [`register_provider!`](crate::register_provider).
    pub version: Option<&'static str>,
    /// The registering module (`module_path!()`), recorded by
    /// [`register_provider!`](crate::register_provider).
    pub module_path: Option<&'static str>,
}

impl fmt::Display for RegistrationOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.crate_name)?;
        if let Some(v) = self.version {
            write!(f, " {v}")?;
        }
        if let Some(m) = self.module_path {
            write!(f, " ({m})")?;
        }
        Ok(())
    }
}

/// The typed details of a registry error, for programs that act on them
/// (list the available methods in a UI, say which crates collide, ...).
///
/// [`Error::registry_details`] returns it for every error the registry
/// makes; [`ErrorKind`] stays a plain comparable value
/// (`err.kind() == &ErrorKind::UnknownMethod`), and [`RegistryError::kind`]
/// gives the kind each variant maps to.
///
/// ```
/// use share_backup_core::{ErrorKind, MethodId, Registry, RegistryError};
/// let err = Registry::empty().resolve(Some(&MethodId::PASSWORD)).unwrap_err();
/// assert_eq!(err.kind(), &ErrorKind::UnknownMethod);
/// match err.registry_details() {
///     Some(RegistryError::UnknownMethod { requested, available }) => {
///         assert_eq!(requested, &MethodId::PASSWORD);
///         assert!(available.is_empty());
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryError {
    /// No provider with the requested id is available
    /// ([`ErrorKind::UnknownMethod`]).
    UnknownMethod {
        /// The id asked for.
        requested: MethodId,
        /// The ids available, sorted.
        available: Vec<MethodId>,
    },
    /// `resolve(None)` found no provider of the default chain
    /// ([`ErrorKind::NoDefaultProvider`]).
    NoDefaultProvider {
        /// The default chain, in order.
        chain: Vec<MethodId>,
        /// The ids available, sorted.
        available: Vec<MethodId>,
    },
    /// Two registrations share a method id
    /// ([`ErrorKind::DuplicateRegistration`]). `first` sorts before `second`.
    DuplicateRegistration {
        /// The id registered twice.
        method: MethodId,
        /// One registering crate.
        first: RegistrationOrigin,
        /// The other one.
        second: RegistrationOrigin,
    },
    /// A registration's method id does not match the grammar
    /// ([`ErrorKind::InvalidInput`]).
    MalformedMethodId {
        /// The id as registered.
        registered: &'static str,
        /// The registering crate.
        origin: RegistrationOrigin,
    },
}

impl RegistryError {
    /// The [`ErrorKind`] of the [`Error`] this becomes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::UnknownMethod { .. } => ErrorKind::UnknownMethod,
            RegistryError::NoDefaultProvider { .. } => ErrorKind::NoDefaultProvider,
            RegistryError::DuplicateRegistration { .. } => ErrorKind::DuplicateRegistration,
            RegistryError::MalformedMethodId { .. } => ErrorKind::InvalidInput,
        }
    }
}

fn id_list(ids: &[MethodId]) -> String {
    ids.iter().map(MethodId::as_str).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::UnknownMethod { requested, available } => {
                write!(f, "no provider for method {requested} is linked; available: [{}]", id_list(available))
            }
            RegistryError::NoDefaultProvider { chain, available } => write!(
                f,
                "no method was given and no provider of the default chain [{}] is linked; available: [{}]",
                id_list(chain),
                id_list(available)
            ),
            RegistryError::DuplicateRegistration { method, first, second } => {
                write!(f, "method {method} is registered twice: by crate {first} and by crate {second}")
            }
            RegistryError::MalformedMethodId { registered, origin } => write!(
                f,
                "crate {origin} registers a malformed method id {registered:?}: it must match [a-z0-9][a-z0-9-]{{0,31}}"
            ),
        }
    }
}

impl std::error::Error for RegistryError {}

impl From<RegistryError> for Error {
    fn from(details: RegistryError) -> Self {
        Error::new(details.kind(), details.to_string()).with_registry_details(details)
    }
}

/// Every registration linked into this binary, in no particular order,
/// duplicates included (see [`Registry::linked`] for the checked view).
pub fn linked_registrations() -> impl Iterator<Item = &'static Registration> {
    inventory::iter::<Registration>.into_iter()
}

/// The default chain: the methods `resolve(None)` tries, in order.
/// As in Portal's SDK, Google Drive is the default.
pub const DEFAULT_CHAIN: &[MethodId] = &[MethodId::GDRIVE];

/// A summary of one registry entry (for `share-backup providers`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MethodInfo {
    /// The method id.
    pub method: MethodId,
    /// One-line summary.
    pub summary: String,
    /// The crate it came from (`None` for a provider inserted at run time).
    pub crate_name: Option<&'static str>,
    /// The documented settings.
    pub settings: &'static [SettingSpec],
}

enum Entry {
    Linked { reg: &'static Registration, settings: Settings, built: Mutex<Option<Arc<dyn BackupProvider>>> },
    Instance(Arc<dyn BackupProvider>),
}

/// Resolves method ids to providers: the linked registrations, plus any
/// provider instance the application inserts, plus a default chain.
///
/// ```
/// use share_backup_core::{Registry, MethodId, ErrorKind};
/// let reg = Registry::empty();
/// let err = reg.resolve(None).unwrap_err();
/// assert_eq!(err.kind(), &ErrorKind::NoDefaultProvider);
/// assert!(err.to_string().contains("gdrive"));
/// assert_eq!(
///     err.registry_details(),
///     Some(&share_backup_core::RegistryError::NoDefaultProvider {
///         chain: vec![MethodId::GDRIVE],
///         available: vec![],
///     })
/// );
/// ```
pub struct Registry {
    entries: BTreeMap<MethodId, Entry>,
    chain: Vec<MethodId>,
}

impl Registry {
    /// A registry with nothing in it and the [`DEFAULT_CHAIN`].
    pub fn empty() -> Self {
        Registry { entries: BTreeMap::new(), chain: DEFAULT_CHAIN.to_vec() }
    }

    /// The registry of every provider linked into this binary.
    ///
    /// # Errors
    /// [`ErrorKind::DuplicateRegistration`] naming both crates (with their
    /// versions) when two registrations share a method id;
    /// [`ErrorKind::InvalidInput`] naming the crate when a registered id is
    /// malformed. [`Error::registry_details`] gives both as a
    /// [`RegistryError`].
    pub fn linked() -> Result<Self> {
        Self::from_registrations(linked_registrations())
    }

    /// A registry of exactly these registrations (checked as [`Self::linked`]).
    ///
    /// # Errors
    /// As [`Self::linked`].
    pub fn from_registrations(regs: impl IntoIterator<Item = &'static Registration>) -> Result<Self> {
        let mut r = Registry::empty();
        for reg in regs {
            let id = MethodId::new(reg.method)
                .map_err(|_| RegistryError::MalformedMethodId { registered: reg.method, origin: reg.origin() })?;
            if let Some(Entry::Linked { reg: other, .. }) = r.entries.get(&id) {
                let (a, b) = (other.origin(), reg.origin());
                let (first, second) = if a <= b { (a, b) } else { (b, a) };
                return Err(RegistryError::DuplicateRegistration { method: id, first, second }.into());
            }
            r.entries.insert(id, Entry::Linked { reg, settings: Settings::new(), built: Mutex::new(None) });
        }
        Ok(r)
    }

    /// Adds (or replaces) a provider instance built by the application,
    /// e.g. one configured with its typed builder. An explicit instance wins
    /// over a linked registration of the same id: that is a deliberate
    /// choice of the application, not a link-time accident.
    pub fn insert(&mut self, provider: Arc<dyn BackupProvider>) -> &mut Self {
        self.entries.insert(provider.method().clone(), Entry::Instance(provider));
        self
    }

    /// Builder form of [`Self::insert`].
    pub fn with_provider(mut self, provider: Arc<dyn BackupProvider>) -> Self {
        self.insert(provider);
        self
    }

    /// Sets the settings of a linked provider and builds it now, so a bad
    /// setting fails here rather than at the first backup.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownMethod`] if `method` is not linked; the provider's
    /// error for invalid settings.
    pub fn configure(&mut self, method: &MethodId, settings: Settings) -> Result<()> {
        let available = self.method_list();
        match self.entries.get_mut(method) {
            Some(Entry::Linked { reg, settings: s, built }) => {
                let p = reg.build(&settings)?;
                *s = settings;
                *built.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(p);
                Ok(())
            }
            Some(Entry::Instance(_)) => Err(Error::invalid_input(format!(
                "method {method} is a provider instance inserted by the application; configure it with its builder"
            ))),
            None => Err(unknown(method, &available)),
        }
    }

    /// Replaces the default chain.
    pub fn set_default_chain(&mut self, chain: Vec<MethodId>) -> &mut Self {
        self.chain = chain;
        self
    }

    /// The default chain.
    pub fn default_chain(&self) -> &[MethodId] {
        &self.chain
    }

    /// The method ids available, sorted.
    pub fn method_list(&self) -> Vec<MethodId> {
        self.entries.keys().cloned().collect()
    }

    /// Whether `method` is available.
    pub fn contains(&self, method: &MethodId) -> bool {
        self.entries.contains_key(method)
    }

    /// A summary of each entry, sorted by method id.
    pub fn infos(&self) -> Vec<MethodInfo> {
        self.entries
            .iter()
            .map(|(id, e)| match e {
                Entry::Linked { reg, .. } => MethodInfo {
                    method: id.clone(),
                    summary: reg.summary.to_owned(),
                    crate_name: Some(reg.crate_name),
                    settings: reg.settings,
                },
                Entry::Instance(p) => {
                    MethodInfo { method: id.clone(), summary: format!("{p:?}"), crate_name: None, settings: &[] }
                }
            })
            .collect()
    }

    /// The method `resolve(None)` would pick, or the error it would give.
    ///
    /// # Errors
    /// [`ErrorKind::NoDefaultProvider`] naming the chain and what is available
    /// ([`RegistryError::NoDefaultProvider`] through
    /// [`Error::registry_details`]).
    pub fn default_method(&self) -> Result<MethodId> {
        self.chain.iter().find(|m| self.entries.contains_key(*m)).cloned().ok_or_else(|| {
            RegistryError::NoDefaultProvider { chain: self.chain.clone(), available: self.method_list() }.into()
        })
    }

    /// The provider for `method`, or for the default chain when `None`.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownMethod`] listing the available ids;
    /// [`ErrorKind::NoDefaultProvider`] naming the chain and what is linked
    /// (both with a [`RegistryError`] in [`Error::registry_details`]);
    /// the provider's build error for a linked provider whose settings fail.
    pub fn resolve(&self, method: Option<&MethodId>) -> Result<Arc<dyn BackupProvider>> {
        let id = match method {
            Some(m) => m.clone(),
            None => self.default_method()?,
        };
        match self.entries.get(&id) {
            None => Err(unknown(&id, &self.method_list())),
            Some(Entry::Instance(p)) => Ok(p.clone()),
            Some(Entry::Linked { reg, settings, built }) => {
                let mut slot = built.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(p) = &*slot {
                    return Ok(p.clone());
                }
                let p = reg.build(settings)?;
                *slot = Some(p.clone());
                Ok(p)
            }
        }
    }
}

fn unknown(id: &MethodId, available: &[MethodId]) -> Error {
    RegistryError::UnknownMethod { requested: id.clone(), available: available.to_vec() }.into()
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("methods", &self.entries.keys().map(MethodId::as_str).collect::<Vec<_>>())
            .field("default_chain", &self.chain.iter().map(MethodId::as_str).collect::<Vec<_>>())
            .finish()
    }
}

/// Registers a provider with the link-time registry.
///
/// It records the calling crate's version (`CARGO_PKG_VERSION`) and module
/// path in the registration, unless the registration sets them itself.
///
/// ```ignore
/// share_backup_core::register_provider!(
///     share_backup_core::Registration::new("my-vault", "Keys in My Vault", env!("CARGO_PKG_NAME"), build)
/// );
/// ```
#[macro_export]
macro_rules! register_provider {
    ($registration:expr) => {
        $crate::inventory::submit! {
            $crate::Registration::__with_caller($registration, ::core::env!("CARGO_PKG_VERSION"), ::core::module_path!())
        }
    };
}
