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
/// Remember that rustc drops a dependency nothing names: an application
/// links a provider with `use my_vault_provider as _;`.
#[derive(Clone, Copy)]
pub struct Registration {
    method: &'static str,
    summary: &'static str,
    crate_name: &'static str,
    settings: &'static [SettingSpec],
    build: BuildFn,
}

impl Registration {
    /// A registration: method id, one-line summary, the registering crate's
    /// name (`env!("CARGO_PKG_NAME")`) and the build function.
    pub const fn new(method: &'static str, summary: &'static str, crate_name: &'static str, build: BuildFn) -> Self {
        Registration { method, summary, crate_name, settings: &[], build }
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
            .field("settings", &self.settings.iter().map(|s| s.key).collect::<Vec<_>>())
            .finish()
    }
}

inventory::collect!(Registration);

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
    /// [`ErrorKind::DuplicateRegistration`] naming both crates when two
    /// registrations share a method id; [`ErrorKind::InvalidInput`] naming
    /// the crate when a registered id is malformed.
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
            let id = MethodId::new(reg.method).map_err(|e| {
                Error::invalid_input(format!(
                    "crate {} registers a malformed method id: {}",
                    reg.crate_name,
                    e.message()
                ))
            })?;
            if let Some(Entry::Linked { reg: other, .. }) = r.entries.get(&id) {
                let mut names = [other.crate_name, reg.crate_name];
                names.sort_unstable();
                return Err(Error::new(
                    ErrorKind::DuplicateRegistration,
                    format!("method {id} is registered twice: by crate {} and by crate {}", names[0], names[1]),
                ));
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
    /// [`ErrorKind::NoDefaultProvider`] naming the chain and what is available.
    pub fn default_method(&self) -> Result<MethodId> {
        self.chain.iter().find(|m| self.entries.contains_key(*m)).cloned().ok_or_else(|| {
            let chain: Vec<&str> = self.chain.iter().map(MethodId::as_str).collect();
            let avail = self.method_list();
            Error::new(
                ErrorKind::NoDefaultProvider,
                format!(
                    "no method was given and no provider of the default chain [{}] is linked; available: [{}]",
                    chain.join(", "),
                    avail.iter().map(MethodId::as_str).collect::<Vec<_>>().join(", ")
                ),
            )
        })
    }

    /// The provider for `method`, or for the default chain when `None`.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownMethod`] listing the available ids;
    /// [`ErrorKind::NoDefaultProvider`] naming the chain and what is linked;
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
    Error::new(
        ErrorKind::UnknownMethod,
        format!(
            "no provider for method {id} is linked; available: [{}]",
            available.iter().map(MethodId::as_str).collect::<Vec<_>>().join(", ")
        ),
    )
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
/// ```ignore
/// share_backup_core::register_provider!(
///     share_backup_core::Registration::new("my-vault", "Keys in My Vault", env!("CARGO_PKG_NAME"), build)
/// );
/// ```
#[macro_export]
macro_rules! register_provider {
    ($registration:expr) => {
        $crate::inventory::submit! { $registration }
    };
}
