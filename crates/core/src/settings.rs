//! Provider settings as a string map, so a config file, environment
//! variables or the CLI can set up any linked provider by name.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A provider's settings: `key = value` strings (not secrets: secrets go in
/// the per-call [`Configs`](crate::Configs)).
///
/// Providers read them with [`Settings::parse`] and refuse keys they do not
/// know with [`Settings::deny_unknown`], so a typo is an error, not a default.
/// `Debug` prints the keys only.
///
/// ```
/// use share_backup_core::Settings;
/// let s = Settings::from_pairs([("policy", "pin"), ("time_cost", "3")]);
/// assert_eq!(s.parse::<u32>("time_cost").unwrap(), Some(3));
/// assert!(s.deny_unknown(&["policy"]).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Settings(BTreeMap<String, String>);

impl Settings {
    /// No settings: every provider must build from this with its defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Settings from pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Settings(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// Sets a value; returns the previous one.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.0.insert(key.into(), value.into())
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The value of `key` parsed as `T`, `None` when absent.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the
    /// key and the value when it does not parse.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>>
    where
        T::Err: fmt::Display,
    {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<T>()
                .map(Some)
                .map_err(|e| Error::invalid_input(format!("setting {key} = {v:?} is invalid: {e}"))),
        }
    }

    /// Parses a boolean setting (`true`/`false`, `yes`/`no`, `1`/`0`).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for other values.
    pub fn parse_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.0.get(key).map(String::as_str) {
            None => Ok(None),
            Some("true" | "yes" | "1") => Ok(Some(true)),
            Some("false" | "no" | "0") => Ok(Some(false)),
            Some(v) => Err(Error::invalid_input(format!("setting {key} = {v:?} is not a boolean (true or false)"))),
        }
    }

    /// Fails when a key is not one of `known`, naming the known keys.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
    pub fn deny_unknown(&self, known: &[&str]) -> Result<()> {
        let unknown: Vec<&str> = self.0.keys().map(String::as_str).filter(|k| !known.contains(k)).collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_input(format!(
                "unknown setting(s) {}; known: {}",
                unknown.join(", "),
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            )))
        }
    }

    /// Iterates over `(key, value)` in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of settings.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Settings").field(&self.0.keys().collect::<Vec<_>>()).finish()
    }
}

/// Documentation of one setting a provider accepts, shown by
/// `share-backup providers` and checked by the conformance suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingSpec {
    /// The key.
    pub key: &'static str,
    /// What it does, one line.
    pub doc: &'static str,
    /// A valid example value; the suite builds the provider with each.
    pub example: &'static str,
}

impl SettingSpec {
    /// A setting's documentation.
    pub const fn new(key: &'static str, doc: &'static str, example: &'static str) -> Self {
        SettingSpec { key, doc, example }
    }
}
