//! The envelope test vectors of SPEC.md, read from `testdata/envelope-v1.json`.
//!
//! Regenerate (only when the format deliberately changes, which needs a new
//! version): `SB_REGEN_VECTORS=1 cargo test -p share-backup-core --test vectors`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use share_backup_core::{
    Aead, BackupId, BackupShare, Binding, ClientId, CustodianId, DataKey, Envelope, ExposeSecret, KeyHeader, MethodId,
    UserId,
};

#[derive(Serialize, Deserialize)]
struct Valid {
    name: String,
    key: String,
    user: String,
    custodian: Option<String>,
    client: Option<String>,
    method: String,
    backup_id: String,
    key_header: String,
    share: String,
    envelope: String,
}

#[derive(Serialize, Deserialize)]
struct Invalid {
    name: String,
    envelope: String,
    error: String,
}

#[derive(Serialize, Deserialize)]
struct Vectors {
    valid: Vec<Valid>,
    invalid: Vec<Invalid>,
}

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/envelope-v1.json")
}

struct Ids {
    user: UserId,
    custodian: Option<CustodianId>,
    client: Option<ClientId>,
}

impl Ids {
    fn of(v: &Valid) -> Self {
        Ids {
            user: UserId::new(&v.user).unwrap(),
            custodian: v.custodian.as_ref().map(|c| CustodianId::new(c).unwrap()),
            client: v.client.as_ref().map(|c| ClientId::new(c).unwrap()),
        }
    }
    fn binding(&self) -> Binding<'_> {
        Binding { user: &self.user, custodian: self.custodian.as_ref(), client: self.client.as_ref() }
    }
}

fn seal(v: &Valid) -> Envelope {
    let ids = Ids::of(v);
    let key = DataKey::from_slice(&hex::decode(&v.key).unwrap()).unwrap();
    let mut id = [0u8; 16];
    hex::decode_to_slice(&v.backup_id, &mut id).unwrap();
    Envelope::seal(
        MethodId::new(&v.method).unwrap(),
        BackupId::from_bytes(id),
        Aead::Aes256Siv,
        KeyHeader::new(hex::decode(&v.key_header).unwrap()).unwrap(),
        &key,
        &BackupShare::new(hex::decode(&v.share).unwrap()).unwrap(),
        &ids.binding(),
    )
    .unwrap()
}

fn generate() -> Vectors {
    let mk = |name: &str,
              key: u8,
              user: &str,
              cust: Option<&str>,
              client: Option<&str>,
              method: &str,
              kh: &[u8],
              share: &[u8]| {
        let key: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(key).wrapping_add(key)).collect();
        let backup_id: Vec<u8> = (0..16u8).map(|i| i ^ key[0]).collect();
        let mut v = Valid {
            name: name.into(),
            key: hex::encode(&key),
            user: user.into(),
            custodian: cust.map(Into::into),
            client: client.map(Into::into),
            method: method.into(),
            backup_id: hex::encode(backup_id),
            key_header: hex::encode(kh),
            share: hex::encode(share),
            envelope: String::new(),
        };
        v.envelope = seal(&v).encode();
        v
    };
    let valid = vec![
        mk("one-byte share, password, no custodian", 3, "alice", None, None, "password", &[1, 2, 3], &[0x42]),
        mk(
            "32-byte share, gdrive, all ids",
            7,
            "user-7f3a",
            Some("custodian-1"),
            Some("client-9"),
            "gdrive",
            b"\x01file-id-123",
            &[0xab; 32],
        ),
        mk(
            "third-party method, empty key header, unicode user",
            11,
            "zoë@例え.jp",
            None,
            Some("c"),
            "my-vault-2",
            &[],
            b"a longer share of some text bytes",
        ),
    ];
    let first = &valid[0].envelope;
    let (_, rest) = first.split_at(4);
    let (h, b) = rest.split_once('.').unwrap();
    let mut flipped_body = b.as_bytes().to_vec();
    flipped_body[3] = if flipped_body[3] == b'A' { b'B' } else { b'A' };
    let flipped_body = String::from_utf8(flipped_body).unwrap();
    let other = &valid[1].envelope[4..];
    let (_h2, b2) = other.split_once('.').unwrap();
    let bad = |name: &str, env: String, error: &str| Invalid { name: name.into(), envelope: env, error: error.into() };
    let invalid = vec![
        bad("empty string", String::new(), "invalid_envelope"),
        bad("prefix only", "sb1.".into(), "invalid_envelope"),
        bad("unknown version 2", format!("sb2.{h}.{b}"), "invalid_envelope"),
        bad("upper-case prefix", format!("SB1.{h}.{b}"), "invalid_envelope"),
        bad("missing body", format!("sb1.{h}"), "invalid_envelope"),
        bad("extra part", format!("sb1.{h}.{b}.AA"), "invalid_envelope"),
        bad("padding", format!("sb1.{h}=.{b}"), "invalid_envelope"),
        bad("trailing newline", format!("{first}\n"), "invalid_envelope"),
        bad(
            "standard alphabet",
            format!("sb1.{h}.{}", b.replace('-', "+").replace('_', "/") + "+"),
            "invalid_envelope",
        ),
        bad("header and body swapped", format!("sb1.{b}.{h}"), "invalid_envelope"),
        bad("truncated body", format!("sb1.{h}.{}", &b[..b.len() - 2]), "invalid_envelope"),
        bad("body from another envelope", format!("sb1.{h}.{b2}"), "integrity"),
        bad("one body character changed", format!("sb1.{h}.{flipped_body}"), "integrity"),
    ];
    Vectors { valid, invalid }
}

#[test]
fn valid_vectors_seal_byte_for_byte_and_open() {
    if std::env::var_os("SB_REGEN_VECTORS").is_some() {
        std::fs::write(path(), serde_json::to_string_pretty(&generate()).unwrap() + "\n").unwrap();
    }
    let vectors: Vectors = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    assert!(vectors.valid.len() >= 3);
    for v in &vectors.valid {
        let sealed = seal(v);
        assert_eq!(sealed.encode(), v.envelope, "vector {:?} seals differently", v.name);
        let parsed = Envelope::parse(&v.envelope).unwrap();
        assert_eq!(parsed.method().as_str(), v.method);
        assert_eq!(parsed.backup_id().to_hex(), v.backup_id);
        assert_eq!(hex::encode(parsed.key_header().as_bytes()), v.key_header);
        let key = DataKey::from_slice(&hex::decode(&v.key).unwrap()).unwrap();
        let ids = Ids::of(v);
        let share = parsed.open(&key, &ids.binding()).unwrap();
        assert_eq!(hex::encode(share.expose_secret()), v.share, "vector {:?}", v.name);
    }
}

#[test]
fn invalid_vectors_are_refused_with_the_documented_kind() {
    let vectors: Vectors = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    let v0 = &vectors.valid[0];
    let key = DataKey::from_slice(&hex::decode(&v0.key).unwrap()).unwrap();
    let ids = Ids::of(v0);
    assert!(vectors.invalid.len() >= 10);
    for bad in &vectors.invalid {
        let kind = match Envelope::parse(&bad.envelope) {
            Err(e) => e.kind().name(),
            Ok(env) => match env.open(&key, &ids.binding()) {
                Err(e) => e.kind().name(),
                Ok(_) => panic!("invalid vector {:?} opened", bad.name),
            },
        };
        assert_eq!(kind, bad.error, "invalid vector {:?}", bad.name);
    }
}

#[test]
fn spec_constants_match_the_code() {
    let spec = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("SPEC.md")).unwrap();
    let grouped = |n: usize| {
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    };
    for (name, value) in [
        ("MAX_ENVELOPE_LEN", share_backup_core::MAX_ENVELOPE_LEN),
        ("MAX_BODY_LEN", share_backup_core::MAX_BODY_LEN),
        ("MAX_HEADER_LEN", share_backup_core::MAX_HEADER_LEN),
    ] {
        assert!(
            spec.contains(&value.to_string()) || spec.contains(&grouped(value)),
            "SPEC.md does not state {name} = {value}"
        );
    }
}
