//! Who a backup is for, which backup it is, and the per-call configuration.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind, Result};
use crate::method::truncate_for_message;
use crate::progress::{ProgressSink, Status};
use crate::secret::fill_random;

/// The longest user, custodian or client id, in bytes.
pub const MAX_ID_LEN: usize = 256;

fn check_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("invalid {what} {:?}: use 1 to {MAX_ID_LEN} bytes of printable text", truncate_for_message(id)),
        ));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident, $what:literal) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates and wraps the id: 1 to 256 bytes, no control characters.
            ///
            /// # Errors
            /// [`ErrorKind::InvalidInput`] otherwise.
            pub fn new(id: impl AsRef<str>) -> Result<Self> {
                let id = id.as_ref();
                check_id($what, id)?;
                Ok($name(Arc::from(id)))
            }

            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                $name::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// The integrator's id for the end user whose share is backed up.
    /// Not secret, but providers must not write it in clear where the user's
    /// identity would leak (e.g. a Drive file name): hash it.
    UserId,
    "user id"
);
id_type!(
    /// The id of the custodian (the integrator's organisation), where given.
    CustodianId,
    "custodian id"
);
id_type!(
    /// The id of the client (the wallet) at the custodian, where given.
    ClientId,
    "client id"
);

/// A fresh random id per backup: 16 bytes, written as 32 lower-case hex digits.
///
/// It names the envelope version in the store and the provider's key object.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupId([u8; 16]);

impl BackupId {
    /// Length in bytes.
    pub const LEN: usize = 16;

    /// A fresh random id.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`] if the OS has no randomness to give.
    pub fn generate() -> Result<Self> {
        let mut b = [0u8; 16];
        fill_random(&mut b)?;
        Ok(BackupId(b))
    }

    /// The id with these bytes (test vectors, parsing).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        BackupId(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The 32 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::str::FromStr for BackupId {
    type Err = Error;
    /// Parses exactly 32 lower-case hex digits.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid_input(format!(
                "invalid backup id {:?}: expected 32 lower-case hex digits",
                truncate_for_message(s)
            ))
        };
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(bad());
        }
        let mut b = [0u8; 16];
        hex::decode_to_slice(s, &mut b).map_err(|_| bad())?;
        Ok(BackupId(b))
    }
}

impl fmt::Display for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackupId({})", self.to_hex())
    }
}

impl Serialize for BackupId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for BackupId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Per-call configuration for providers, as a type map (like
/// `http::Extensions`): each provider defines its own config type (the
/// password, an access token) and reads it back by type.
///
/// `Debug` prints the type names only, never a value.
///
/// ```
/// use share_backup_core::Configs;
/// #[derive(Debug, PartialEq)]
/// struct Token(&'static str);
/// let mut c = Configs::new();
/// c.insert(Token("t0k3n"));
/// assert_eq!(c.get::<Token>(), Some(&Token("t0k3n")));
/// assert!(!format!("{c:?}").contains("t0k3n"));
/// ```
#[derive(Clone, Default)]
pub struct Configs {
    map: HashMap<TypeId, (&'static str, Arc<dyn Any + Send + Sync>)>,
}

impl Configs {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a config, replacing one of the same type (returned as true).
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) -> bool {
        self.map.insert(TypeId::of::<T>(), (type_name::<T>(), Arc::new(value))).is_some()
    }

    /// Builder form of [`Self::insert`].
    pub fn with<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.insert(value);
        self
    }

    /// The config of type `T`, if given.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.map.get(&TypeId::of::<T>()).and_then(|(_, v)| v.downcast_ref::<T>())
    }

    /// Removes the config of type `T`; true if there was one.
    pub fn remove<T: Any + Send + Sync>(&mut self) -> bool {
        self.map.remove(&TypeId::of::<T>()).is_some()
    }

    /// Number of configs.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no config is set.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl fmt::Debug for Configs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.map.values().map(|(n, _)| *n).collect();
        names.sort_unstable();
        f.debug_tuple("Configs").field(&names).finish()
    }
}

/// Everything a provider call needs to know about the operation: the user,
/// the backup id, the optional custodian and client ids, the per-call
/// configs and the progress sink.
///
/// The user, custodian and client ids are bound into the envelope's
/// associated data ([`Context::binding`]).
#[derive(Clone, Debug)]
pub struct Context {
    user: UserId,
    backup_id: BackupId,
    custodian: Option<CustodianId>,
    client: Option<ClientId>,
    configs: Configs,
    progress: ProgressSink,
}

impl Context {
    /// A context for `user` and `backup_id`, with no configs and no progress.
    pub fn new(user: UserId, backup_id: BackupId) -> Self {
        Context {
            user,
            backup_id,
            custodian: None,
            client: None,
            configs: Configs::new(),
            progress: ProgressSink::none(),
        }
    }

    /// Sets the custodian id.
    pub fn with_custodian(mut self, id: CustodianId) -> Self {
        self.custodian = Some(id);
        self
    }

    /// Sets the client id.
    pub fn with_client(mut self, id: ClientId) -> Self {
        self.client = Some(id);
        self
    }

    /// Sets the per-call configs.
    pub fn with_configs(mut self, configs: Configs) -> Self {
        self.configs = configs;
        self
    }

    /// Sets the progress sink.
    pub fn with_progress(mut self, progress: ProgressSink) -> Self {
        self.progress = progress;
        self
    }

    /// Same context, another backup id (the orchestrator uses it to open an
    /// older version).
    pub fn with_backup_id(mut self, backup_id: BackupId) -> Self {
        self.backup_id = backup_id;
        self
    }

    /// The user.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// The backup id.
    pub fn backup_id(&self) -> BackupId {
        self.backup_id
    }

    /// The custodian id, if given.
    pub fn custodian(&self) -> Option<&CustodianId> {
        self.custodian.as_ref()
    }

    /// The client id, if given.
    pub fn client(&self) -> Option<&ClientId> {
        self.client.as_ref()
    }

    /// The per-call configs.
    pub fn configs(&self) -> &Configs {
        &self.configs
    }

    /// The config of type `T`, if given.
    pub fn config<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.configs.get::<T>()
    }

    /// The config of type `T`, or an [`ErrorKind::InvalidInput`] error
    /// telling the caller to pass it.
    ///
    /// # Errors
    /// When the config is missing.
    pub fn require_config<T: Any + Send + Sync>(&self) -> Result<&T> {
        self.configs.get::<T>().ok_or_else(|| {
            Error::invalid_input(format!("missing per-call config {}", type_name::<T>()))
                .with_hint(format!("insert a {} into the configs of this call", short_type_name::<T>()))
        })
    }

    /// The progress sink.
    pub fn progress(&self) -> &ProgressSink {
        &self.progress
    }

    /// Reports a step to the progress sink.
    pub fn report(&self, status: Status) {
        self.progress.report(status);
    }

    /// The ids bound into the envelope's associated data.
    pub fn binding(&self) -> Binding<'_> {
        Binding { user: &self.user, custodian: self.custodian.as_ref(), client: self.client.as_ref() }
    }
}

fn short_type_name<T>() -> &'static str {
    let n = type_name::<T>();
    n.rsplit("::").next().unwrap_or(n)
}

/// The identity an envelope is bound to: user, custodian and client ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The user.
    pub user: &'a UserId,
    /// The custodian, if any.
    pub custodian: Option<&'a CustodianId>,
    /// The client, if any.
    pub client: Option<&'a ClientId>,
}

impl Binding<'_> {
    /// The canonical bytes of the binding (see SPEC.md, "Associated data").
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.user.as_str().len());
        let mut put = |v: Option<&str>| match v {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                out.extend_from_slice(&(s.len() as u16).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        };
        put(Some(self.user.as_str()));
        put(self.custodian.map(CustodianId::as_str));
        put(self.client.map(ClientId::as_str));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert!(UserId::new("alice@example.com").is_ok());
        assert!(UserId::new("").is_err());
        assert!(UserId::new("a\u{0}b").is_err());
        assert!(UserId::new("x".repeat(257)).is_err());
        assert!(UserId::new("x".repeat(256)).is_ok());
    }

    #[test]
    fn backup_ids_parse_strictly() {
        let id = BackupId::generate().unwrap();
        assert_eq!(id.to_string().parse::<BackupId>().unwrap(), id);
        for bad in ["", "00", &"A".repeat(32), &"0".repeat(33), &"g".repeat(32)] {
            assert!(bad.parse::<BackupId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_config_error_names_the_type() {
        #[derive(Debug)]
        struct PasswordConfig;
        let ctx = Context::new(UserId::new("u").unwrap(), BackupId::from_bytes([0; 16]));
        let e = ctx.require_config::<PasswordConfig>().unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
        assert!(e.to_string().contains("PasswordConfig"), "{e}");
    }

    #[test]
    fn binding_bytes_distinguish_absent_from_empty_fields() {
        let u = UserId::new("u").unwrap();
        let c = CustodianId::new("c").unwrap();
        let a = Binding { user: &u, custodian: None, client: None }.to_bytes();
        let b = Binding { user: &u, custodian: Some(&c), client: None }.to_bytes();
        assert_eq!(a, vec![1, 0, 1, b'u', 0, 0]);
        assert_eq!(b, vec![1, 0, 1, b'u', 1, 0, 1, b'c', 0]);
    }
}
