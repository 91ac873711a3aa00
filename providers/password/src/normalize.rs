//! RFC 8265 OpaqueString: the same password typed on two devices gives the
//! same bytes.

use std::fmt;

use precis_core::profile::Profile;
use precis_profiles::OpaqueString;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

/// Why a text cannot be a password at all (before any policy): it is empty,
/// or has characters RFC 8265's OpaqueString profile disallows (control
/// characters such as a tab or a newline, unassigned code points, ...).
///
/// Carries no part of the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NormalizeError {
    /// Empty, or empty after normalization.
    #[error("the password is empty")]
    Empty,
    /// Longer than any password can be: more than
    /// [`MAX_PASSWORD_INPUT_BYTES`] bytes before normalization (checked
    /// first, so an overlong text costs no normalization work).
    #[error("the password is longer than any password can be")]
    TooLong,
    /// Has a character no password may contain.
    #[error(
        "the password contains a character that cannot be part of a password (a control character such as a tab or \
         a line break, or an unassigned code point)"
    )]
    DisallowedCharacter,
}

/// The longest text, in UTF-8 bytes, that is normalized at all: 16 KiB.
/// A policy allows at most [`MAX_PASSWORD_CHARS`](crate::MAX_PASSWORD_CHARS)
/// (1024) characters after normalization; NFC composes at most 3 code points
/// into one and a code point is at most 4 bytes, so no longer text can be a
/// password a backup was made with.
pub const MAX_PASSWORD_INPUT_BYTES: usize = 16 * 1024;

/// A password after RFC 8265 OpaqueString enforcement: non-ASCII spaces
/// mapped to U+0020, Unicode NFC, disallowed code points refused. Secret:
/// zeroized on drop, never printed.
///
/// ```
/// use share_backup_password::NormalizedPassword;
/// use secrecy::ExposeSecret;
/// let composed = NormalizedPassword::new("caf\u{e9}").unwrap();
/// let decomposed = NormalizedPassword::new("cafe\u{301}").unwrap();
/// assert_eq!(composed.expose_secret(), decomposed.expose_secret());
/// assert!(NormalizedPassword::new("tab\there").is_err());
/// assert_eq!(format!("{composed:?}"), "NormalizedPassword([REDACTED])");
/// ```
pub struct NormalizedPassword(SecretString);

impl NormalizedPassword {
    /// Normalizes `password` (OpaqueString enforcement).
    ///
    /// # Errors
    /// [`NormalizeError`] for an empty text, one longer than
    /// [`MAX_PASSWORD_INPUT_BYTES`] (refused before any normalization), or a
    /// disallowed character.
    pub fn new(password: &str) -> Result<Self, NormalizeError> {
        if password.is_empty() {
            return Err(NormalizeError::Empty);
        }
        if password.len() > MAX_PASSWORD_INPUT_BYTES {
            return Err(NormalizeError::TooLong);
        }
        match OpaqueString::new().enforce(password) {
            Ok(s) => {
                let mut owned = s.into_owned();
                let out = NormalizedPassword(SecretString::from(owned.as_str()));
                owned.zeroize();
                Ok(out)
            }
            // Never forward precis' error: its Display names the code point.
            Err(precis_core::Error::Invalid) => Err(NormalizeError::Empty),
            Err(_) => Err(NormalizeError::DisallowedCharacter),
        }
    }

    /// Length in Unicode scalar values (what the policy counts as characters).
    pub fn char_count(&self) -> usize {
        self.0.expose_secret().chars().count()
    }

    pub(crate) fn for_calibration() -> Self {
        NormalizedPassword(SecretString::from("calibration password"))
    }
}

impl ExposeSecret<str> for NormalizedPassword {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for NormalizedPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NormalizedPassword([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_and_decomposed_forms_normalize_to_the_same_bytes() {
        // "Ångström" composed (U+00C5, U+00F6) and decomposed (A + U+030A, o + U+0308).
        let a = NormalizedPassword::new("\u{c5}ngstr\u{f6}m").unwrap();
        let b = NormalizedPassword::new("A\u{30a}ngstro\u{308}m").unwrap();
        assert_eq!(a.expose_secret(), b.expose_secret());
        assert_eq!(a.expose_secret(), "\u{c5}ngstr\u{f6}m");
        assert_eq!(b.char_count(), 8);
    }

    #[test]
    fn non_ascii_spaces_map_to_ascii_space() {
        let a = NormalizedPassword::new("correct\u{a0}horse\u{3000}battery").unwrap();
        assert_eq!(a.expose_secret(), "correct horse battery");
    }

    #[test]
    fn case_and_width_are_preserved() {
        let a = NormalizedPassword::new("PassWord").unwrap();
        assert_eq!(a.expose_secret(), "PassWord");
        // Full-width letters are not folded by OpaqueString.
        let b = NormalizedPassword::new("\u{ff21}").unwrap();
        assert_eq!(b.expose_secret(), "\u{ff21}");
    }

    #[test]
    fn empty_and_control_characters_are_refused_without_echoing_them() {
        assert_eq!(NormalizedPassword::new("").unwrap_err(), NormalizeError::Empty);
        for bad in ["line\nbreak", "nul\u{0}", "bell\u{7}", "tab\t"] {
            let e = NormalizedPassword::new(bad).unwrap_err();
            assert_eq!(e, NormalizeError::DisallowedCharacter, "{bad:?}");
            assert!(!e.to_string().contains(bad));
        }
    }
}
