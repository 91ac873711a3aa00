//! Method ids: the stable, lower-case name of a provider.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind};

/// The longest method id, in bytes.
pub const MAX_METHOD_LEN: usize = 32;

/// A provider's stable, lower-case name, written into every envelope.
///
/// Grammar: `[a-z0-9][a-z0-9-]{0,31}`. Ids are compared byte for byte; they
/// never change once envelopes carrying them exist.
///
/// ```
/// use share_backup_core::MethodId;
/// let id = MethodId::new("my-vault").unwrap();
/// assert_eq!(id.as_str(), "my-vault");
/// assert_eq!(id.portal_name(), "MY_VAULT");
/// assert_eq!(MethodId::PASSWORD.portal_name(), "PASSWORD");
/// assert!(MethodId::new("My Vault").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MethodId(Cow<'static, str>);

const fn valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > MAX_METHOD_LEN {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let ok = c.is_ascii_lowercase() || c.is_ascii_digit() || (c == b'-' && i > 0);
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

impl MethodId {
    /// The password / PIN / passcode provider (`share-backup-password`).
    pub const PASSWORD: MethodId = MethodId::from_static("password");
    /// The Google Drive provider (`share-backup-gdrive`), the default method.
    pub const GDRIVE: MethodId = MethodId::from_static("gdrive");

    /// Validates `id` and makes a method id of it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when `id` does not match `[a-z0-9][a-z0-9-]{0,31}`.
    pub fn new(id: &str) -> Result<Self, Error> {
        if valid(id) {
            Ok(MethodId(Cow::Owned(id.to_owned())))
        } else {
            Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "invalid method id {:?}: use 1 to {MAX_METHOD_LEN} characters from a-z, 0-9 and '-', not starting with '-'",
                    truncate_for_message(id)
                ),
            ))
        }
    }

    /// A method id from a literal; checked at compile time when used in a
    /// `const`, and panics on an invalid id otherwise.
    pub const fn from_static(id: &'static str) -> Self {
        assert!(valid(id), "invalid method id");
        MethodId(Cow::Borrowed(id))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name Portal's client API uses for this method: upper case, with
    /// `-` written as `_` (`password` → `PASSWORD`, `gdrive` → `GDRIVE`).
    pub fn portal_name(&self) -> String {
        self.0.chars().map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() }).collect()
    }

    /// The method id for one of Portal's wire names (`PASSWORD` → `password`).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when the name does not map to a valid id.
    pub fn from_portal_name(name: &str) -> Result<Self, Error> {
        let lower: String = name.chars().map(|c| if c == '_' { '-' } else { c.to_ascii_lowercase() }).collect();
        if name.chars().any(|c| c.is_ascii_lowercase() || c == '-') {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{:?} is not a Portal backup method name (expected upper case, like GDRIVE)",
                    truncate_for_message(name)
                ),
            ));
        }
        MethodId::new(&lower)
    }
}

pub(crate) fn truncate_for_message(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// Honours width, fill, alignment and precision (`{:<10}`, `{:>8}`), as
/// `str` does: `format!("{:<10}|", MethodId::PASSWORD)` is `"password  |"`.
impl fmt::Display for MethodId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for MethodId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MethodId({})", self.0)
    }
}

impl std::str::FromStr for MethodId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        MethodId::new(s)
    }
}

impl AsRef<str> for MethodId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for MethodId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MethodId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MethodId::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_honours_width_fill_alignment_and_precision() {
        let id = MethodId::PASSWORD;
        assert_eq!(format!("{id:<10}|"), "password  |");
        assert_eq!(format!("{id:>10}|"), "  password|");
        assert_eq!(format!("{id:^12}|"), "  password  |");
        assert_eq!(format!("{id:*<10}"), "password**");
        assert_eq!(format!("{id:.4}"), "pass");
        assert_eq!(format!("{id:3}"), "password", "a width below the length does not cut");
        assert_eq!(id.to_string(), "password");
    }

    #[test]
    fn accepts_the_documented_grammar_and_nothing_else() {
        for ok in ["a", "0", "password", "gdrive", "my-vault-2", &"a".repeat(32)] {
            assert!(MethodId::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "A", "pass word", "ü", "a_b", &"a".repeat(33), "a\n"] {
            let e = MethodId::new(bad).unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn portal_names_round_trip() {
        assert_eq!(MethodId::GDRIVE.portal_name(), "GDRIVE");
        let id = MethodId::from_portal_name("ICLOUD_KEYCHAIN").unwrap();
        assert_eq!(id.as_str(), "icloud-keychain");
        assert_eq!(id.portal_name(), "ICLOUD_KEYCHAIN");
        assert!(MethodId::from_portal_name("gdrive").is_err());
    }

    #[test]
    fn serializes_as_a_plain_string_and_validates_on_the_way_in() {
        let json = serde_json::to_string(&MethodId::PASSWORD).unwrap();
        assert_eq!(json, "\"password\"");
        let back: MethodId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, MethodId::PASSWORD);
        assert!(serde_json::from_str::<MethodId>("\"Bad Id\"").is_err());
    }
}
