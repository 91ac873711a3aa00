//! The key header of a Drive backup: where the key file is.
//!
//! Format v2, written by this version (all lengths are single bytes):
//!
//! ```text
//! 0x02                      version
//! location                  0 = appDataFolder, 1 = a visible folder in My Drive
//! id_len (1..=128)  id      the Drive file id, [A-Za-z0-9_-]
//! name_len (1..=64) name    the key file's name, [a-z0-9.-]
//! check (16 bytes)          SHA-256("share-backup gdrive key check v1\0" || key)[..16]
//! ```
//!
//! Format v1 (still read) is the same with version 0x01 and no key check.
//! Nothing may follow. The header is authenticated as part of the envelope,
//! and holds no secret and no user identity (the name is a hash). The key
//! check tells, on recovery, whether the key file in Drive still holds the
//! backup's key (a 512-bit random key: its truncated hash reveals nothing
//! usable); a key that matches is confirmed, one that does not means the file
//! in Drive was replaced.

use sha2::{Digest, Sha256};
use share_backup_core::{BackupId, Binding, Error, KeyHeader, Result};

const VERSION_V1: u8 = 1;
const VERSION: u8 = 2;
/// Length of the key check in v2 headers.
pub(crate) const CHECK_LEN: usize = 16;
const MAX_ID: usize = 128;
const MAX_NAME: usize = 64;

/// Where a key file lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    /// The hidden application data folder (scope `drive.appdata`).
    AppData,
    /// A visible folder in My Drive (scope `drive.file`).
    Folder,
}

/// A parsed key header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DriveHeader {
    pub location: Location,
    pub file_id: String,
    pub name: String,
    /// The key check (v2 headers); `None` for a v1 header.
    pub check: Option<[u8; CHECK_LEN]>,
}

/// The key check of a v2 header.
pub(crate) fn key_check(key: &[u8]) -> [u8; CHECK_LEN] {
    let mut h = Sha256::new();
    h.update(b"share-backup gdrive key check v1\0");
    h.update(key);
    let d = h.finalize();
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(&d[..CHECK_LEN]);
    out
}

fn valid_id(id: &str) -> bool {
    (1..=MAX_ID).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

impl DriveHeader {
    pub fn encode(&self) -> Result<KeyHeader> {
        if !valid_id(&self.file_id) {
            return Err(Error::new(
                share_backup_core::ErrorKind::Unavailable,
                "Google Drive returned a file id this provider does not accept (empty, too long or odd characters)",
            )
            .with_retryable(false));
        }
        debug_assert!(valid_name(&self.name));
        let mut b = Vec::with_capacity(4 + self.file_id.len() + self.name.len() + CHECK_LEN);
        b.push(if self.check.is_some() { VERSION } else { VERSION_V1 });
        b.push(match self.location {
            Location::AppData => 0,
            Location::Folder => 1,
        });
        b.push(self.file_id.len() as u8);
        b.extend_from_slice(self.file_id.as_bytes());
        b.push(self.name.len() as u8);
        b.extend_from_slice(self.name.as_bytes());
        if let Some(c) = &self.check {
            b.extend_from_slice(c);
        }
        KeyHeader::new(b)
    }

    /// Parses a header strictly; never panics.
    pub fn parse(h: &KeyHeader) -> Result<Self> {
        let bad = |what: &str| Error::invalid_envelope(format!("the Google Drive key header is malformed: {what}"));
        let b = h.as_bytes();
        let (&version, rest) = b.split_first().ok_or_else(|| bad("it is empty"))?;
        if version != VERSION && version != VERSION_V1 {
            return Err(bad(&format!("version {version} is not one this provider reads (1 or 2)")));
        }
        let (&loc, rest) = rest.split_first().ok_or_else(|| bad("no location"))?;
        let location = match loc {
            0 => Location::AppData,
            1 => Location::Folder,
            other => return Err(bad(&format!("unknown location {other}"))),
        };
        let (id, rest) = take(rest).ok_or_else(|| bad("truncated file id"))?;
        let (name, rest) = take(rest).ok_or_else(|| bad("truncated file name"))?;
        let (check, rest) = if version == VERSION {
            if rest.len() < CHECK_LEN {
                return Err(bad("truncated key check"));
            }
            let (c, rest) = rest.split_at(CHECK_LEN);
            let mut check = [0u8; CHECK_LEN];
            check.copy_from_slice(c);
            (Some(check), rest)
        } else {
            (None, rest)
        };
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let file_id = String::from_utf8(id.to_vec()).ok().filter(|s| valid_id(s)).ok_or_else(|| bad("bad file id"))?;
        let name =
            String::from_utf8(name.to_vec()).ok().filter(|s| valid_name(s)).ok_or_else(|| bad("bad file name"))?;
        Ok(DriveHeader { location, file_id, name, check })
    }
}

fn take(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = b.split_first()?;
    let len = usize::from(len);
    if len == 0 || rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// The key file's name: `sb-` + 32 hex digits of SHA-256 over the binding
/// (user, custodian, client) and the backup id, + `.key`. It names the file
/// uniquely per backup without writing the user's identity into their Drive.
pub(crate) fn file_name(binding: &Binding<'_>, backup_id: &BackupId) -> String {
    let mut h = Sha256::new();
    h.update(b"share-backup gdrive key file name v1\0");
    let b = binding.to_bytes();
    h.update((b.len() as u32).to_be_bytes());
    h.update(&b);
    h.update(backup_id.as_bytes());
    let digest = h.finalize();
    format!("sb-{}.key", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use share_backup_core::{CustodianId, UserId};

    fn sample() -> DriveHeader {
        DriveHeader {
            location: Location::Folder,
            file_id: "1AbC-d_9".into(),
            name: "sb-00ff.key".into(),
            check: Some(key_check(&[7; 64])),
        }
    }

    #[test]
    fn round_trips() {
        let h = sample();
        assert_eq!(DriveHeader::parse(&h.encode().unwrap()).unwrap(), h);
        let a = DriveHeader { location: Location::AppData, ..sample() };
        assert_eq!(DriveHeader::parse(&a.encode().unwrap()).unwrap(), a);
    }

    #[test]
    fn refuses_every_truncation_and_extension() {
        let bytes = sample().encode().unwrap().as_bytes().to_vec();
        for i in 0..bytes.len() {
            assert!(DriveHeader::parse(&KeyHeader::new(bytes[..i].to_vec()).unwrap()).is_err(), "prefix {i}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(DriveHeader::parse(&KeyHeader::new(longer).unwrap()).is_err());
    }

    #[test]
    fn refuses_bad_fields() {
        let good = DriveHeader { check: None, ..sample() }.encode().unwrap().as_bytes().to_vec();
        let mut v2 = good.clone();
        v2[0] = 3;
        // A v1 body labelled v2 lacks its key check.
        let mut no_check = good.clone();
        no_check[0] = 2;
        let mut loc = good.clone();
        loc[1] = 7;
        let mut id = good.clone();
        id[3] = b'/';
        let mut name = good.clone();
        let last = name.len() - 1;
        name[last] = b'Y';
        for bad in [v2, loc, id, name, no_check] {
            let e = DriveHeader::parse(&KeyHeader::new(bad).unwrap()).unwrap_err();
            assert_eq!(e.kind(), &share_backup_core::ErrorKind::InvalidEnvelope);
        }
    }

    #[test]
    fn parsing_any_two_byte_prefix_never_panics() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let _ = DriveHeader::parse(&KeyHeader::new(vec![1, a, b, b'x', 1, b'y']).unwrap());
            }
        }
    }

    #[test]
    fn the_fuzzing_entry_point_accepts_valid_headers_and_refuses_garbage() {
        use crate::__fuzz::parse_key_header;
        use share_backup_core::ErrorKind;
        let longest = DriveHeader {
            location: Location::AppData,
            file_id: "a".repeat(MAX_ID),
            name: "b".repeat(MAX_NAME),
            check: None,
        };
        let v1 = DriveHeader { check: None, ..sample() };
        for h in [sample(), DriveHeader { location: Location::AppData, ..sample() }, longest, v1] {
            let bytes = h.encode().unwrap().as_bytes().to_vec();
            assert_eq!(parse_key_header(&bytes).unwrap(), bytes);
        }
        let mut id_too_long = vec![1, 0, 129];
        id_too_long.extend_from_slice(&[b'a'; 129]);
        id_too_long.extend_from_slice(&[1, b'x']);
        let garbage: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![1],
            vec![1, 0],
            vec![1, 0, 0],
            vec![1, 0, 1, b'a'],
            vec![1, 0, 1, b'a', 0],
            vec![1, 0, 1, b'a', 1, b'B'],
            vec![1, 0, 2, 0xc3, 0x28, 1, b'a'],
            vec![1, 2, 1, b'a', 1, b'b'],
            vec![1, 0, 255, b'a', 1, b'b'],
            id_too_long,
            vec![0xff; 64],
            b"sb1.not-a-key-header".to_vec(),
            vec![0; KeyHeader::MAX_LEN],
        ];
        for g in &garbage {
            let e = parse_key_header(g).unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::InvalidEnvelope, "{g:?}");
        }
        let e = parse_key_header(&vec![1; KeyHeader::MAX_LEN + 1]).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    }

    #[test]
    fn file_name_hides_the_user_and_differs_per_backup_and_user() {
        let u = UserId::new("alice@example.com").unwrap();
        let c = CustodianId::new("acme").unwrap();
        let b1 = BackupId::from_bytes([1; 16]);
        let b2 = BackupId::from_bytes([2; 16]);
        let n1 = file_name(&Binding { user: &u, custodian: Some(&c), client: None }, &b1);
        let n2 = file_name(&Binding { user: &u, custodian: Some(&c), client: None }, &b2);
        let n3 = file_name(&Binding { user: &u, custodian: None, client: None }, &b1);
        assert!(valid_name(&n1), "{n1}");
        assert!(!n1.contains("alice") && !n1.contains("acme"));
        assert_ne!(n1, n2);
        assert_ne!(n1, n3);
        assert_eq!(n1.len(), 3 + 32 + 4);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn parsing_arbitrary_bytes_never_panics_and_accepts_only_canonical_headers(
            bytes in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            let h = KeyHeader::new(bytes.clone()).unwrap();
            if let Ok(parsed) = DriveHeader::parse(&h) {
                let again = parsed.encode().unwrap();
                prop_assert_eq!(again.as_bytes(), &bytes[..]);
            }
        }

        #[test]
        fn valid_headers_round_trip(id in "[A-Za-z0-9_-]{1,128}", name in "[a-z0-9.-]{1,64}", folder in any::<bool>(), check in proptest::option::of(any::<[u8; 16]>())) {
            let h = DriveHeader { location: if folder { Location::Folder } else { Location::AppData }, file_id: id, name, check };
            prop_assert_eq!(DriveHeader::parse(&h.encode().unwrap()).unwrap(), h);
        }
    }
}
