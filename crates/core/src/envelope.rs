//! Envelope v1: the printable, self-describing cipher text the integrator
//! stores. The byte-by-byte format is in the crate's `SPEC.md`.

use std::fmt;

use aes_siv::aead::KeyInit;
use aes_siv::siv::Aes256Siv;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::context::{BackupId, Binding};
use crate::error::{Error, ErrorKind, Result};
use crate::method::{MAX_METHOD_LEN, MethodId};
use crate::provider::KeyHeader;
use crate::secret::{BackupShare, DataKey};

/// The text every v1 envelope starts with.
pub const PREFIX_V1: &str = "sb1.";
/// The format version byte of v1 headers.
pub const VERSION_V1: u8 = 1;
/// The first associated-data component of every v1 envelope.
pub const AAD_DOMAIN_V1: &[u8] = b"share-backup envelope v1";
/// Length of the AES-SIV synthetic IV (the tag), in bytes.
pub const TAG_LEN: usize = 16;
/// Largest header in bytes: version, AEAD, method, backup id, key header.
pub const MAX_HEADER_LEN: usize = 1 + 1 + 1 + MAX_METHOD_LEN + BackupId::LEN + 2 + KeyHeader::MAX_LEN;
/// Largest body in bytes: the tag and the largest share.
pub const MAX_BODY_LEN: usize = TAG_LEN + BackupShare::MAX_LEN;
/// Largest envelope string in bytes; longer input is refused before decoding.
pub const MAX_ENVELOPE_LEN: usize = PREFIX_V1.len() + b64_len(MAX_HEADER_LEN) + 1 + b64_len(MAX_BODY_LEN);

const fn b64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

/// The authenticated-encryption algorithm of an envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Aead {
    /// AES-256-SIV (RFC 5297, CMAC), 512-bit key, id 1.
    Aes256Siv,
}

impl Aead {
    /// The id byte in the header.
    pub fn id(&self) -> u8 {
        match self {
            Aead::Aes256Siv => 1,
        }
    }

    /// The algorithm for an id byte.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidEnvelope`] for an unknown id.
    pub fn from_id(id: u8) -> Result<Self> {
        match id {
            1 => Ok(Aead::Aes256Siv),
            other => Err(Error::invalid_envelope(format!("unknown AEAD id {other}"))),
        }
    }
}

/// A parsed (or freshly sealed) envelope.
///
/// Parsing is strict and canonical: for every accepted string `s`,
/// `Envelope::parse(s)?.to_string() == s`. It never panics.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    method: MethodId,
    backup_id: BackupId,
    aead: Aead,
    key_header: KeyHeader,
    header_bytes: Vec<u8>,
    body: Vec<u8>,
}

fn encode_header(method: &MethodId, backup_id: &BackupId, aead: Aead, key_header: &KeyHeader) -> Vec<u8> {
    let m = method.as_str().as_bytes();
    let k = key_header.as_bytes();
    let mut h = Vec::with_capacity(3 + m.len() + BackupId::LEN + 2 + k.len());
    h.push(VERSION_V1);
    h.push(aead.id());
    h.push(m.len() as u8);
    h.extend_from_slice(m);
    h.extend_from_slice(backup_id.as_bytes());
    h.extend_from_slice(&(k.len() as u16).to_be_bytes());
    h.extend_from_slice(k);
    h
}

fn siv(key: &DataKey) -> Aes256Siv {
    Aes256Siv::new(key.expose_secret().into())
}

fn bad(msg: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::invalid_envelope(msg)
}

impl Envelope {
    /// Seals `share` under `key` into a v1 envelope bound to `binding`.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`] if the cipher fails (it does not for valid inputs).
    pub fn seal(
        method: MethodId,
        backup_id: BackupId,
        aead: Aead,
        key_header: KeyHeader,
        key: &DataKey,
        share: &BackupShare,
        binding: &Binding<'_>,
    ) -> Result<Self> {
        let header_bytes = encode_header(&method, &backup_id, aead, &key_header);
        let ad = binding.to_bytes();
        let body = match aead {
            Aead::Aes256Siv => siv(key)
                .encrypt([AAD_DOMAIN_V1, &header_bytes, &ad], share.expose_secret())
                .map_err(|_| Error::internal("AES-SIV refused to seal the share"))?,
        };
        Ok(Envelope { method, backup_id, aead, key_header, header_bytes, body })
    }

    /// Opens the envelope with `key` for `binding`.
    ///
    /// # Errors
    /// [`ErrorKind::Integrity`] when the key is wrong, the envelope was
    /// altered, or it is bound to another user, custodian or client.
    pub fn open(&self, key: &DataKey, binding: &Binding<'_>) -> Result<BackupShare> {
        let ad = binding.to_bytes();
        // Decrypt in a buffer that is zeroized, spare capacity included, when
        // it drops: AES-SIV leaves plain text past the share's end.
        let mut buf = Zeroizing::new(self.body.clone());
        match self.aead {
            Aead::Aes256Siv => siv(key).decrypt_in_place([AAD_DOMAIN_V1, &self.header_bytes, &ad], &mut *buf),
        }
        .map_err(|_| {
            Error::new(ErrorKind::Integrity, "the envelope does not authenticate with this key for this user")
                .with_method(self.method.clone())
        })?;
        BackupShare::from_slice(&buf)
    }

    /// Parses an envelope string strictly.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidEnvelope`] for anything but a canonical v1 envelope
    /// (the message says which rule was broken).
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() > MAX_ENVELOPE_LEN {
            return Err(bad(format!(
                "envelope is {} bytes, more than the {MAX_ENVELOPE_LEN} a v1 envelope can be",
                s.len()
            )));
        }
        let Some(rest) = s.strip_prefix(PREFIX_V1) else {
            if let Some(v) = s.strip_prefix("sb") {
                let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
                if !digits.is_empty() && v[digits.len()..].starts_with('.') {
                    return Err(bad(format!(
                        "envelope version {digits} is not supported (this build reads version 1)"
                    ))
                    .with_hint("upgrade share-backup to read this envelope"));
                }
            }
            return Err(bad("not a share-backup envelope: it must start with \"sb1.\""));
        };
        let mut parts = rest.split('.');
        let (Some(h64), Some(b64), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("an envelope has exactly three dot-separated parts: sb1, header, body"));
        };
        if h64.len() > b64_len(MAX_HEADER_LEN) {
            return Err(bad("envelope header is too long"));
        }
        if b64.len() > b64_len(MAX_BODY_LEN) {
            return Err(bad("envelope body is too long"));
        }
        let header_bytes =
            URL_SAFE_NO_PAD.decode(h64).map_err(|_| bad("envelope header is not canonical unpadded base64url"))?;
        let body = URL_SAFE_NO_PAD.decode(b64).map_err(|_| bad("envelope body is not canonical unpadded base64url"))?;
        if body.len() <= TAG_LEN {
            return Err(bad(format!(
                "envelope body is {} bytes; it must hold a {TAG_LEN}-byte tag and at least one byte",
                body.len()
            )));
        }
        if body.len() > MAX_BODY_LEN {
            return Err(bad("envelope body is too long"));
        }
        let (method, backup_id, aead, key_header) = parse_header(&header_bytes)?;
        Ok(Envelope { method, backup_id, aead, key_header, header_bytes, body })
    }

    /// The method that sealed it.
    pub fn method(&self) -> &MethodId {
        &self.method
    }

    /// The backup id.
    pub fn backup_id(&self) -> BackupId {
        self.backup_id
    }

    /// The AEAD.
    pub fn aead(&self) -> Aead {
        self.aead
    }

    /// The provider's key header.
    pub fn key_header(&self) -> &KeyHeader {
        &self.key_header
    }

    /// The encoded header bytes (the second associated-data component).
    pub fn header_bytes(&self) -> &[u8] {
        &self.header_bytes
    }

    /// The sealed body: tag, then cipher text.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Length of the sealed share in bytes.
    pub fn share_len(&self) -> usize {
        self.body.len() - TAG_LEN
    }

    /// The printable string to store (same as `to_string()`).
    pub fn encode(&self) -> String {
        let mut s =
            String::with_capacity(PREFIX_V1.len() + b64_len(self.header_bytes.len()) + 1 + b64_len(self.body.len()));
        s.push_str(PREFIX_V1);
        URL_SAFE_NO_PAD.encode_string(&self.header_bytes, &mut s);
        s.push('.');
        URL_SAFE_NO_PAD.encode_string(&self.body, &mut s);
        s
    }
}

fn parse_header(h: &[u8]) -> Result<(MethodId, BackupId, Aead, KeyHeader)> {
    let mut r = Reader(h);
    let version = r.u8("version")?;
    if version != VERSION_V1 {
        return Err(bad(format!("header version byte is {version}, but the text says version 1")));
    }
    let aead = Aead::from_id(r.u8("AEAD id")?)?;
    let mlen = r.u8("method length")? as usize;
    if mlen == 0 || mlen > MAX_METHOD_LEN {
        return Err(bad(format!("method length {mlen} is outside 1..={MAX_METHOD_LEN}")));
    }
    let m = r.take(mlen, "method")?;
    let m = std::str::from_utf8(m).map_err(|_| bad("method id is not ASCII"))?;
    let method = MethodId::new(m).map_err(|_| bad("method id in the header is malformed"))?;
    let mut id = [0u8; 16];
    id.copy_from_slice(r.take(BackupId::LEN, "backup id")?);
    let klen = u16::from_be_bytes([r.u8("key header length")?, r.u8("key header length")?]) as usize;
    if klen > KeyHeader::MAX_LEN {
        return Err(bad(format!("key header length {klen} exceeds {}", KeyHeader::MAX_LEN)));
    }
    let k = r.take(klen, "key header")?.to_vec();
    if !r.0.is_empty() {
        return Err(bad(format!("{} unexpected bytes after the key header", r.0.len())));
    }
    Ok((method, BackupId::from_bytes(id), aead, KeyHeader::new(k)?))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(bad(format!("header ends inside the {what}")));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
}

impl fmt::Display for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl std::str::FromStr for Envelope {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Envelope::parse(s)
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("method", &self.method.as_str())
            .field("backup_id", &self.backup_id)
            .field("aead", &self.aead)
            .field("key_header", &self.key_header)
            .field("share_len", &self.share_len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::UserId;

    fn fixture() -> (Envelope, DataKey, UserId) {
        let key = DataKey::from_bytes([7; 64]);
        let user = UserId::new("alice").unwrap();
        let share = BackupShare::new(b"hello share".to_vec()).unwrap();
        let b = Binding { user: &user, custodian: None, client: None };
        let env = Envelope::seal(
            MethodId::PASSWORD,
            BackupId::from_bytes([1; 16]),
            Aead::Aes256Siv,
            KeyHeader::new(vec![9, 9]).unwrap(),
            &key,
            &share,
            &b,
        )
        .unwrap();
        (env, key, user)
    }

    #[test]
    fn seals_and_opens_and_round_trips_through_text() {
        let (env, key, user) = fixture();
        let s = env.encode();
        assert!(s.starts_with("sb1."));
        let parsed = Envelope::parse(&s).unwrap();
        assert_eq!(parsed, env);
        let b = Binding { user: &user, custodian: None, client: None };
        assert_eq!(parsed.open(&key, &b).unwrap().expose_secret(), b"hello share");
    }

    #[test]
    fn another_user_cannot_open_it() {
        let (env, key, _) = fixture();
        let bob = UserId::new("bob").unwrap();
        let e = env.open(&key, &Binding { user: &bob, custodian: None, client: None }).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Integrity);
    }

    /// AES-SIV's key schedule (the CTR key, the CMAC key schedule and
    /// subkeys, the AES round keys) is wiped when the cipher drops: `siv()`
    /// builds one per seal and open, and it must not outlive the data key.
    #[test]
    fn the_aes_siv_key_schedule_is_zeroized_on_drop() {
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<Aes256Siv>();
        zeroized_on_drop::<aes::Aes256>();
        zeroized_on_drop::<cmac::block_api::CmacCore<aes::Aes256>>();
    }

    #[test]
    fn a_newer_version_is_refused_with_an_upgrade_hint() {
        let e = Envelope::parse("sb2.AAAA.AAAA").unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidEnvelope);
        assert!(e.to_string().contains("version 2"), "{e}");
        assert!(e.hint().contains("upgrade"));
    }

    #[test]
    fn oversize_input_is_refused_before_decoding() {
        let s = format!("sb1.{}", "A".repeat(MAX_ENVELOPE_LEN));
        assert_eq!(Envelope::parse(&s).unwrap_err().kind(), &ErrorKind::InvalidEnvelope);
    }

    #[test]
    fn one_byte_share_seals() {
        let key = DataKey::generate().unwrap();
        let user = UserId::new("u").unwrap();
        let b = Binding { user: &user, custodian: None, client: None };
        let share = BackupShare::new(vec![42]).unwrap();
        let env = Envelope::seal(
            MethodId::GDRIVE,
            BackupId::from_bytes([0; 16]),
            Aead::Aes256Siv,
            KeyHeader::new(vec![]).unwrap(),
            &key,
            &share,
            &b,
        )
        .unwrap();
        assert_eq!(env.share_len(), 1);
        assert_eq!(env.open(&key, &b).unwrap().expose_secret(), &[42]);
    }
}
