//! Secret types: the share being backed up and the data key that seals it.
//!
//! Both are `secrecy` boxes: zeroized on drop, never printed by `Debug`, and
//! reachable only through [`ExposeSecret`].

use std::fmt;

use secrecy::{ExposeSecret, SecretBox, SecretSlice};
use zeroize::Zeroize;

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
    /// The share ends up in an allocation of exactly its length. When `bytes`
    /// has spare capacity, the bytes are copied into such an allocation and
    /// the whole of `bytes`, spare capacity included, is zeroized before it
    /// is freed (shrinking the `Vec` in place would let the allocator copy
    /// the share and free the old block unzeroized). Copies left behind by
    /// the caller's own earlier reallocations of `bytes` are out of reach.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when empty or longer than [`Self::MAX_LEN`];
    /// the rejected bytes are zeroized.
    pub fn new(mut bytes: Vec<u8>) -> Result<Self> {
        let len = bytes.len();
        if len == 0 || len > Self::MAX_LEN {
            bytes.zeroize();
            return Err(Self::bad_len(len));
        }
        let exact: Box<[u8]> = if bytes.capacity() == len {
            // `into_boxed_slice` reallocates only when capacity > len.
            bytes.into_boxed_slice()
        } else {
            let exact = Box::<[u8]>::from(bytes.as_slice());
            bytes.zeroize();
            exact
        };
        Ok(BackupShare(SecretSlice::from(exact)))
    }

    /// Copies the share from a slice into an allocation of exactly its
    /// length. The slice is left as it is: the caller zeroizes its own copy
    /// (or uses [`Self::take_from`]).
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(Self::bad_len(bytes.len()));
        }
        Ok(BackupShare(SecretSlice::from(Box::<[u8]>::from(bytes))))
    }

    /// Copies the share out of `bytes` and zeroizes `bytes`, also when the
    /// length is refused.
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn take_from(bytes: &mut [u8]) -> Result<Self> {
        let share = Self::from_slice(bytes);
        bytes.zeroize();
        share
    }

    fn bad_len(len: usize) -> Error {
        Error::new(ErrorKind::InvalidInput, format!("a share must be 1 to {} bytes long, got {len}", Self::MAX_LEN))
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
        BackupShare(SecretSlice::from(Box::<[u8]>::from(self.0.expose_secret())))
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
///
/// A key can be marked [confirmed](Self::confirmed): the provider that gave
/// it back checked it against a check value written when the backup was made
/// (the password provider's key-check value, the Drive provider's key check),
/// so it is the right key for its key header and the user's secret was right.
/// An envelope that then fails to authenticate under it was altered or moved
/// in the store: [`BackupProviderExt::open_envelope`](crate::BackupProviderExt::open_envelope)
/// reports that as [`ErrorKind::Integrity`], never as `WrongSecret`.
pub struct DataKey(SecretBox<[u8; DataKey::LEN]>, bool);

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
        Ok(DataKey(key, false))
    }

    /// A key from an array (for fixed test keys).
    ///
    /// `[u8; 64]` is `Copy`: the caller's array stays where it was, and only
    /// the copy passed in is zeroized here. For key material, use
    /// [`Self::take_from`] (zeroizes the source) or [`Self::from_slice`] on a
    /// `Zeroizing` buffer.
    pub fn from_bytes(mut bytes: [u8; Self::LEN]) -> Self {
        let key = Self::copy_of(&bytes);
        bytes.zeroize();
        key
    }

    /// Copies the key out of `bytes` and zeroizes `bytes` (the whole slice,
    /// also when its length is refused).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when the slice is not exactly 64 bytes.
    pub fn take_from(bytes: &mut [u8]) -> Result<Self> {
        let key = Self::from_slice(bytes);
        bytes.zeroize();
        key
    }

    fn copy_of(bytes: &[u8; Self::LEN]) -> Self {
        let mut key = SecretBox::new(Box::new([0u8; Self::LEN]));
        secrecy::ExposeSecretMut::expose_secret_mut(&mut key).copy_from_slice(bytes);
        DataKey(key, false)
    }

    /// Marks the key as confirmed by its provider: checked against a check
    /// value recorded when the backup was made, so it is the right key for
    /// its header and the secret that derived or fetched it was right.
    /// Only a provider that really made that check may call this.
    ///
    /// ```
    /// use share_backup_core::DataKey;
    /// let key = DataKey::from_bytes([7; 64]);
    /// assert!(!key.is_confirmed());
    /// assert!(key.confirmed().is_confirmed());
    /// ```
    #[must_use]
    pub fn confirmed(mut self) -> Self {
        self.1 = true;
        self
    }

    /// Whether the provider confirmed this key (see [`Self::confirmed`]).
    /// Fresh and copied-in keys are not confirmed.
    pub fn is_confirmed(&self) -> bool {
        self.1
    }

    /// Copies a key from a slice (the caller zeroizes its own copy, or uses
    /// [`Self::take_from`]).
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
        Ok(DataKey(key, false))
    }
}

impl ExposeSecret<[u8; DataKey::LEN]> for DataKey {
    fn expose_secret(&self) -> &[u8; DataKey::LEN] {
        self.0.expose_secret()
    }
}

impl Clone for DataKey {
    fn clone(&self) -> Self {
        let mut key = DataKey::from_slice(self.0.expose_secret()).expect("same length");
        key.1 = self.1;
        key
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
    fn a_vec_with_spare_capacity_gives_exactly_its_bytes() {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(b"share bytes");
        assert!(v.capacity() > v.len());
        let share = BackupShare::new(v).unwrap();
        assert_eq!(share.expose_secret(), b"share bytes");
        assert_eq!(share.len(), 11);
        // The decryption path: aes-siv leaves the buffer 16 bytes longer than
        // the share, holding plain text in that spare capacity.
        let mut v = b"0123456789abcdef-the-share".to_vec();
        v.copy_within(16.., 0);
        v.truncate(10);
        assert_eq!(BackupShare::new(v).unwrap().expose_secret(), b"-the-share");
        assert_eq!(share.clone().expose_secret(), b"share bytes");
    }

    #[test]
    fn take_from_zeroizes_the_source_also_when_refused() {
        let mut buf = *b"client share";
        let share = BackupShare::take_from(&mut buf).unwrap();
        assert_eq!(share.expose_secret(), b"client share");
        assert_eq!(buf, [0; 12]);
        let mut empty: [u8; 0] = [];
        assert_eq!(BackupShare::take_from(&mut empty).unwrap_err().kind(), &ErrorKind::InvalidInput);

        let mut k = [0x5au8; 64];
        let key = DataKey::take_from(&mut k).unwrap();
        assert_eq!(key.expose_secret(), &[0x5a; 64]);
        assert_eq!(k, [0; 64]);
        let mut short = [7u8; 63];
        assert_eq!(DataKey::take_from(&mut short).unwrap_err().kind(), &ErrorKind::InvalidInput);
        assert_eq!(short, [0; 63]);
        assert_eq!(DataKey::from_bytes([0x5a; 64]), key);
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
