//! The key header format and the key wrapping (SPEC.md is the reference).

use aes_siv::aead::KeyInit;
use aes_siv::siv::Aes256Siv;
use hkdf::Hkdf;
use secrecy::ExposeSecret;
use sha2_v011::Sha256;
use share_backup_core::{BackupId, Binding, DataKey, Error, ErrorKind, KeyHeader, Result};
use zeroize::Zeroizing;

use crate::webauthn::{CredentialId, MAX_CREDENTIAL_ID_LEN, PrfInput, PrfOutput};

/// The first byte of every key header this version writes.
pub const HEADER_VERSION: u8 = 1;
/// The most credentials one backup enrols.
pub const MAX_CREDENTIALS: usize = 16;
/// The longest relying-party id, in bytes (a DNS name).
pub const MAX_RP_ID_LEN: usize = 253;
/// Length of a wrapped data key: the 16-byte SIV tag and the 64-byte key.
pub const WRAPPED_LEN: usize = 16 + DataKey::LEN;
/// HKDF-Extract salt of the wrapping key.
pub const HKDF_SALT: &[u8] = b"share-backup/passkey/v1";
/// First part of HKDF-Expand's info; the rest binds the backup (SPEC.md).
pub const HKDF_INFO_LABEL: &[u8] = b"share-backup/passkey/v1 wrapping key";
/// The associated data of the wrapping (AES-256-SIV).
pub const WRAP_AD: &[u8] = b"share-backup/passkey/v1 data key";

/// One enrolled credential: its id, the PRF input of this backup, and the
/// data key wrapped under the key derived from its PRF output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The credential id.
    pub credential_id: CredentialId,
    /// The WebAuthn-level PRF input (random per backup and credential).
    pub input: PrfInput,
    /// AES-256-SIV(wrapping key, AD = [`WRAP_AD`], data key): tag || cipher text.
    pub wrapped: [u8; WRAPPED_LEN],
}

/// The parsed key header of a passkey backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyHeader {
    /// The relying-party id the credentials belong to.
    pub rp_id: String,
    /// The enrolled credentials, in the order they were enrolled.
    pub entries: Vec<Entry>,
}

fn bad(msg: &str) -> Error {
    Error::invalid_envelope(format!("not a passkey v1 key header: {msg}"))
}

/// Checks a relying-party id: 1 to 253 bytes of lower-case letters, digits,
/// `-` and `.`, not starting or ending with `.` (a domain, or `localhost`).
///
/// # Errors
/// `InvalidInput` otherwise.
pub fn check_rp_id(rp_id: &str) -> Result<()> {
    let ok = !rp_id.is_empty()
        && rp_id.len() <= MAX_RP_ID_LEN
        && rp_id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !rp_id.starts_with('.')
        && !rp_id.ends_with('.')
        && !rp_id.contains("..");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "relying-party id {:?} is not a lower-case domain name",
            rp_id.chars().take(64).collect::<String>()
        ))
        .with_hint("set rp_id to the domain your passkeys are registered for, e.g. wallet.example.com"))
    }
}

impl PasskeyHeader {
    /// The header's bytes (SPEC.md, "Key header").
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = vec![HEADER_VERSION, self.rp_id.len() as u8];
        v.extend_from_slice(self.rp_id.as_bytes());
        v.push(self.entries.len() as u8);
        for e in &self.entries {
            let id = e.credential_id.as_bytes();
            v.extend_from_slice(&(id.len() as u16).to_be_bytes());
            v.extend_from_slice(id);
            v.extend_from_slice(e.input.as_bytes());
            v.extend_from_slice(&e.wrapped);
        }
        v
    }

    /// Parses a header strictly: known version, valid relying-party id,
    /// 1 to 16 entries with distinct credential ids, no trailing bytes.
    ///
    /// # Errors
    /// `InvalidEnvelope` for anything else.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader(bytes);
        match r.u8()? {
            HEADER_VERSION => {}
            v => {
                return Err(Error::invalid_envelope(format!("passkey key header version {v} is not known"))
                    .with_hint("upgrade share-backup to read this backup"));
            }
        }
        let rp_len = r.u8()? as usize;
        let rp_id = std::str::from_utf8(r.take(rp_len)?).map_err(|_| bad("relying-party id is not text"))?.to_owned();
        check_rp_id(&rp_id).map_err(|_| bad("invalid relying-party id"))?;
        let n = r.u8()? as usize;
        if n == 0 || n > MAX_CREDENTIALS {
            return Err(bad("1 to 16 credentials"));
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(n);
        for _ in 0..n {
            let id_len = u16::from_be_bytes(r.array()?) as usize;
            if id_len == 0 || id_len > MAX_CREDENTIAL_ID_LEN {
                return Err(bad("credential id length"));
            }
            let credential_id = CredentialId::new(r.take(id_len)?.to_vec())?;
            if entries.iter().any(|e| e.credential_id == credential_id) {
                return Err(bad("a credential is enrolled twice"));
            }
            let input = PrfInput::from_bytes(r.array()?);
            let wrapped = r.array()?;
            entries.push(Entry { credential_id, input, wrapped });
        }
        if !r.0.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(PasskeyHeader { rp_id, entries })
    }

    /// Wraps into a core [`KeyHeader`].
    ///
    /// # Errors
    /// `InvalidInput` when longer than [`KeyHeader::MAX_LEN`] (too many or too long credential ids).
    pub fn to_key_header(&self) -> Result<KeyHeader> {
        KeyHeader::new(self.to_bytes()).map_err(|e| {
            Error::invalid_input(format!("{}: enrol fewer credentials", e.message()))
                .with_hint("a backup holds at most 4096 header bytes; enrol fewer passkeys or ones with shorter ids")
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(bad("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("length taken"))
    }
}

/// HKDF-Expand's info for one credential of one backup (SPEC.md).
pub fn hkdf_info(
    rp_id: &str,
    credential_id: &CredentialId,
    input: &PrfInput,
    backup_id: &BackupId,
    binding: &Binding<'_>,
) -> Vec<u8> {
    let mut info = Vec::with_capacity(128);
    info.extend_from_slice(HKDF_INFO_LABEL);
    info.push(0);
    info.push(rp_id.len() as u8);
    info.extend_from_slice(rp_id.as_bytes());
    let id = credential_id.as_bytes();
    info.extend_from_slice(&(id.len() as u16).to_be_bytes());
    info.extend_from_slice(id);
    info.extend_from_slice(input.as_bytes());
    info.extend_from_slice(backup_id.as_bytes());
    info.extend_from_slice(&binding.to_bytes());
    info
}

fn wrapping_key(output: &PrfOutput, info: &[u8]) -> Zeroizing<[u8; 64]> {
    let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), output.expose_secret());
    let mut okm = Zeroizing::new([0u8; 64]);
    hk.expand(info, &mut okm[..]).expect("64 bytes is a valid HKDF-SHA-256 length");
    okm
}

/// The wrapping key's bytes (test vectors only).
#[doc(hidden)]
pub fn wrapping_key_bytes(output: &PrfOutput, info: &[u8]) -> [u8; 64] {
    *wrapping_key(output, info)
}

/// Wraps `key` under the key derived from `output` and `info`.
///
/// # Errors
/// `Internal` if the cipher refuses (it cannot for 64 bytes).
pub fn wrap(key: &DataKey, output: &PrfOutput, info: &[u8]) -> Result<[u8; WRAPPED_LEN]> {
    let kek = wrapping_key(output, info);
    let mut siv = Aes256Siv::new((&*kek).into());
    let ct = siv.encrypt([WRAP_AD], key.expose_secret()).map_err(|_| Error::internal("key wrapping failed"))?;
    let ct = Zeroizing::new(ct);
    ct.as_slice().try_into().map_err(|_| Error::internal("a wrapped key has an unexpected length"))
}

/// Unwraps an entry's key with `output`.
///
/// # Errors
/// `WrongSecret` when it does not authenticate (another credential's
/// output, another user or backup, or a changed header).
pub fn unwrap(wrapped: &[u8; WRAPPED_LEN], output: &PrfOutput, info: &[u8]) -> Result<DataKey> {
    let kek = wrapping_key(output, info);
    let mut siv = Aes256Siv::new((&*kek).into());
    let mut pt = Zeroizing::new(siv.decrypt([WRAP_AD], wrapped).map_err(|_| {
        Error::new(ErrorKind::WrongSecret, "the passkey's PRF output does not open this backup").with_hint(
            "use a passkey enrolled in this backup, for the same user; without one the backup cannot be recovered",
        )
    })?);
    DataKey::take_from(&mut pt[..])
}
