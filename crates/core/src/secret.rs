//! Secret types: the share being backed up and the data key that seals it.
//!
//! Both are `secrecy` boxes: zeroized on drop, never printed by `Debug`, and
//! reachable only through [`ExposeSecret`].

use std::fmt;

use secrecy::{ExposeSecret, SecretBox, SecretSlice};

use crate::error::{Error, ErrorKind, Result};

/// The secret bytes being backed up: the client key share of an MPC wallet,
/// 1 byte to 1 MiB.
///
/// ```
/// use share_backup_core::{BackupShare, ExposeSecret};
/// let share = BackupShare::new(b"client key share".to_vec()).unwrap();
/// assert_eq!(share.len(), 16);
/// assert_eq!(format!("{share:?}"), "BackupShare([REDACTED])");
/// assert_eq!(share.expose_secret(), b"client key share");
/// ```
pub struct BackupShare(SecretSlice<u8>);

impl BackupShare {
    /// The largest share, in bytes (1 MiB).
    pub const MAX_LEN: usize = 1 << 20;

    /// Takes ownership of the share's bytes.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when empty or longer than [`Self::MAX_LEN`];
    /// the rejected bytes are zeroized.
    pub fn new(bytes: Vec<u8>) -> Result<Self> {
        let len = bytes.len();
        let secret = SecretSlice::from(bytes);
        if len == 0 || len > Self::MAX_LEN {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("a share must be 1 to {} bytes long, got {len}", Self::MAX_LEN),
            ));
        }
        Ok(BackupShare(secret))
    }

    /// Copies the share from a slice (the caller zeroizes its own copy).
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        Self::new(bytes.to_vec())
    }

    /// The length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.expose_secret().len()
    }

    /// Always false: a share has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl ExposeSecret<[u8]> for BackupShare {
    fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl Clone for BackupShare {
    fn clone(&self) -> Self {
        BackupShare(SecretSlice::from(self.0.expose_secret().to_vec()))
    }
}

impl fmt::Debug for BackupShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupShare([REDACTED])")
    }
}

/// The 512-bit AES-256-SIV key that seals one share.
///
/// Providers keep custody of it (derive it or store it); the framework does
/// the encryption.
pub struct DataKey(SecretBox<[u8; DataKey::LEN]>);

impl DataKey {
    /// Key length in bytes.
    pub const LEN: usize = 64;

    /// A fresh key from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`] if the OS has no randomness to give.
    pub fn generate() -> Result<Self> {
        let mut key = SecretBox::new(Box::new([0u8; Self::LEN]));
        fill_random(secrecy::ExposeSecretMut::expose_secret_mut(&mut key))?;
        Ok(DataKey(key))
    }

    /// A key from bytes the provider derived or fetched (moves them into the box).
    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        let mut key = SecretBox::new(Box::new([0u8; Self::LEN]));
        *secrecy::ExposeSecretMut::expose_secret_mut(&mut key) = bytes;
        DataKey(key)
    }

    /// A key from a slice.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when the slice is not exactly 64 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != Self::LEN {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("a data key is {} bytes, got {}", Self::LEN, bytes.len()),
            ));
        }
        let mut key = SecretBox::new(Box::new([0u8; Self::LEN]));
        secrecy::ExposeSecretMut::expose_secret_mut(&mut key).copy_from_slice(bytes);
        Ok(DataKey(key))
    }
}

impl ExposeSecret<[u8; DataKey::LEN]> for DataKey {
    fn expose_secret(&self) -> &[u8; DataKey::LEN] {
        self.0.expose_secret()
    }
}

impl Clone for DataKey {
    fn clone(&self) -> Self {
        DataKey::from_slice(self.0.expose_secret()).expect("same length")
    }
}

impl PartialEq for DataKey {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        let a = self.0.expose_secret();
        let b = other.0.expose_secret();
        a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Errors
/// [`ErrorKind::Internal`] if the OS has no randomness to give.
pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| {
        Error::new(ErrorKind::Internal, "the operating system's random number generator failed")
            .with_source(std::io::Error::other(e.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_length_is_bounded_on_both_sides() {
        assert_eq!(BackupShare::new(vec![]).unwrap_err().kind(), &ErrorKind::InvalidInput);
        assert!(BackupShare::new(vec![7; BackupShare::MAX_LEN]).is_ok());
        assert_eq!(BackupShare::new(vec![7; BackupShare::MAX_LEN + 1]).unwrap_err().kind(), &ErrorKind::InvalidInput);
    }

    #[test]
    fn debug_never_shows_the_bytes() {
        let share = BackupShare::new(b"sekrit-share".to_vec()).unwrap();
        let key = DataKey::from_bytes([0x5a; 64]);
        assert!(!format!("{share:?}").contains("sekrit"));
        assert!(!format!("{key:?}").contains("90"));
        assert!(!format!("{key:?}").contains("ZZ"));
        assert!(!format!("{key:?}").contains("5a"));
    }

    #[test]
    fn generated_keys_differ_and_compare_by_value() {
        let a = DataKey::generate().unwrap();
        let b = DataKey::generate().unwrap();
        assert!(a != b);
        assert!(a == a.clone());
        assert_eq!(DataKey::from_slice(&[0; 63]).unwrap_err().kind(), &ErrorKind::InvalidInput);
    }
}
