//! The envelope test vectors of SPEC.md, read from `testdata/envelope-v1.json`.
//!
//! Regenerate (only when the format deliberately changes, which needs a new
//! version, or when vectors are added):
//! `SB_REGEN_VECTORS=1 cargo test -p share-backup-core --test vectors`.
//! The valid vectors must come out byte for byte the same.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use share_backup_core::{
    Aead, BackupId, BackupShare, Binding, ClientId, CustodianId, DataKey, Envelope, ExposeSecret, KeyHeader,
    MAX_BODY_LEN, MAX_ENVELOPE_LEN, MAX_HEADER_LEN, MethodId, UserId,
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
    /// The envelope string; with `fill`, the string with the fill inserted.
    envelope: String,
    /// For vectors too long to write out: insert `count` copies of `char`
    /// at byte offset `at` of `envelope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fill: Option<Fill>,
    /// The error kind (`ErrorKind::name`).
    error: String,
    /// A phrase of this implementation's error message that names the rule
    /// broken (informative: other implementations check `error` only).
    message_contains: String,
}

#[derive(Serialize, Deserialize)]
struct Fill {
    at: usize,
    char: char,
    count: usize,
}

impl Invalid {
    fn text(&self) -> String {
        match &self.fill {
            None => self.envelope.clone(),
            Some(f) => {
                let mut s = self.envelope.clone();
                s.insert_str(f.at, &f.char.to_string().repeat(f.count));
                s
            }
        }
    }
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

    // Headers built field by field from the first valid vector's.
    let v0 = &valid[0];
    let id0 = hex::decode(&v0.backup_id).unwrap();
    let kh0 = hex::decode(&v0.key_header).unwrap();
    let header = |version: u8, aead: u8, method: &[u8], id: &[u8], kh: &[u8], klen: u16, extra: &[u8]| {
        let mut x = vec![version, aead, method.len() as u8];
        x.extend_from_slice(method);
        x.extend_from_slice(id);
        x.extend_from_slice(&klen.to_be_bytes());
        x.extend_from_slice(kh);
        x.extend_from_slice(extra);
        URL_SAFE_NO_PAD.encode(x)
    };
    let std_header =
        |version: u8, aead: u8, method: &[u8]| header(version, aead, method, &id0, &kh0, kh0.len() as u16, &[]);
    assert_eq!(std_header(1, 1, b"password"), h, "the header builder reproduces vector 0");
    let with_header = |hh: String| format!("sb1.{hh}.{b}");
    // Set a low bit the last character does not use (only canonical
    // encodings are accepted).
    let dirty_last = |part: &str| {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = part.as_bytes()[part.len() - 1];
        let i = alphabet.iter().position(|c| *c == last).unwrap();
        assert_eq!(i & 1, 0, "the last character has a zero low bit");
        let mut p = part[..part.len() - 1].to_string();
        p.push(alphabet[i | 1] as char);
        assert!(URL_SAFE_NO_PAD.decode(&p).is_err());
        p
    };
    assert!(h.len() % 4 != 0 && b.len() % 4 != 0, "both parts end in a partial group");
    let tag_only = URL_SAFE_NO_PAD.encode(&URL_SAFE_NO_PAD.decode(b).unwrap()[..16]);
    let b64_len = |n: usize| (n * 4).div_ceil(3);

    let bad = |name: &str, env: String, error: &str, rule: &str| Invalid {
        name: name.into(),
        envelope: env,
        fill: None,
        error: error.into(),
        message_contains: rule.into(),
    };
    let filled = |name: &str, env: String, at: usize, count: usize, rule: &str| Invalid {
        name: name.into(),
        envelope: env,
        fill: Some(Fill { at, char: 'A', count }),
        error: "invalid_envelope".into(),
        message_contains: rule.into(),
    };
    const IE: &str = "invalid_envelope";
    const TAG: &str = "does not authenticate";
    let invalid = vec![
        // Text layer.
        bad("empty string", String::new(), IE, "must start with \"sb1.\""),
        bad("prefix only", "sb1.".into(), IE, "exactly three dot-separated parts"),
        bad("prefix without its dot", "sb1".into(), IE, "must start with \"sb1.\""),
        bad("unknown version 2", format!("sb2.{h}.{b}"), IE, "envelope version 2 is not supported"),
        bad("unknown version 10", format!("sb10.{h}.{b}"), IE, "envelope version 10 is not supported"),
        bad("upper-case prefix", format!("SB1.{h}.{b}"), IE, "must start with \"sb1.\""),
        bad("missing body", format!("sb1.{h}"), IE, "exactly three dot-separated parts"),
        bad("extra part", format!("sb1.{h}.{b}.AA"), IE, "exactly three dot-separated parts"),
        bad("padding", format!("sb1.{h}=.{b}"), IE, "header is not canonical"),
        bad("trailing newline", format!("{first}\n"), IE, "body is not canonical"),
        bad("space inside the header", format!("sb1.{} {}.{b}", &h[..8], &h[8..]), IE, "header is not canonical"),
        bad(
            "character outside base64url in the header",
            format!("sb1.!{}.{b}", &h[1..]),
            IE,
            "header is not canonical",
        ),
        bad(
            "standard alphabet",
            format!("sb1.{h}.{}", b.replace('-', "+").replace('_', "/") + "+"),
            IE,
            "body is not canonical",
        ),
        bad(
            "non-zero trailing bits in the header",
            format!("sb1.{}.{b}", dirty_last(h)),
            IE,
            "header is not canonical",
        ),
        bad("non-zero trailing bits in the body", format!("sb1.{h}.{}", dirty_last(b)), IE, "body is not canonical"),
        bad("header and body swapped", format!("sb1.{b}.{h}"), IE, "header version byte is"),
        bad("truncated body", format!("sb1.{h}.{}", &b[..b.len() - 2]), IE, "body is not canonical"),
        bad("body is only the 16-byte tag", format!("sb1.{h}.{tag_only}"), IE, "16-byte tag and at least one byte"),
        // Size bounds, checked before decoding.
        filled(
            "header part one character over its bound",
            format!("sb1..{b}"),
            4,
            b64_len(MAX_HEADER_LEN) + 1,
            "envelope header is too long",
        ),
        filled(
            "body part one character over its bound",
            format!("sb1.{h}."),
            5 + h.len(),
            b64_len(MAX_BODY_LEN) + 1,
            "envelope body is too long",
        ),
        filled(
            "string one byte over MAX_ENVELOPE_LEN",
            "sb1.".into(),
            4,
            MAX_ENVELOPE_LEN - 3,
            &format!("more than the {MAX_ENVELOPE_LEN}"),
        ),
        // Header fields.
        bad("empty header", format!("sb1..{b}"), IE, "header ends inside the version"),
        bad("header version byte 2", with_header(std_header(2, 1, b"password")), IE, "header version byte is 2"),
        bad("header version byte 0", with_header(std_header(0, 1, b"password")), IE, "header version byte is 0"),
        bad("unknown AEAD id 2", with_header(std_header(1, 2, b"password")), IE, "unknown AEAD id 2"),
        bad("AEAD id 0", with_header(std_header(1, 0, b"password")), IE, "unknown AEAD id 0"),
        bad("method length 0", with_header(std_header(1, 1, b"")), IE, "method length 0 is outside 1..=32"),
        bad("method length 33", with_header(std_header(1, 1, &[b'a'; 33])), IE, "method length 33 is outside 1..=32"),
        bad(
            "method id not in the grammar",
            with_header(std_header(1, 1, b"Password")),
            IE,
            "method id in the header is malformed",
        ),
        bad("method id not ASCII", with_header(std_header(1, 1, &[0xff, 0xfe])), IE, "method id is not ASCII"),
        bad(
            "header ends inside the backup id",
            with_header(URL_SAFE_NO_PAD.encode([&[1u8, 1, 8][..], b"password", &id0[..5]].concat())),
            IE,
            "header ends inside the backup id",
        ),
        bad(
            "key header length 4097",
            with_header(header(1, 1, b"password", &id0, &[7; 4097], 4097, &[])),
            IE,
            "key header length 4097 exceeds 4096",
        ),
        bad(
            "key header length 65535",
            with_header(header(1, 1, b"password", &id0, &kh0, 0xffff, &[])),
            IE,
            "key header length 65535 exceeds 4096",
        ),
        bad(
            "key header length past the end of the header",
            with_header(header(1, 1, b"password", &id0, &kh0, kh0.len() as u16 + 1, &[])),
            IE,
            "header ends inside the key header",
        ),
        bad(
            "one extra byte after the key header",
            with_header(header(1, 1, b"password", &id0, &kh0, kh0.len() as u16, &[0])),
            IE,
            "1 unexpected bytes after the key header",
        ),
        // Well-formed, but does not authenticate.
        bad("body from another envelope", format!("sb1.{h}.{b2}"), "integrity", TAG),
        bad("one body character changed", format!("sb1.{h}.{flipped_body}"), "integrity", TAG),
        bad("method relabelled", with_header(std_header(1, 1, b"gdrive")), "integrity", TAG),
        bad(
            "backup id changed",
            with_header(header(1, 1, b"password", &[0; 16], &kh0, kh0.len() as u16, &[])),
            "integrity",
            TAG,
        ),
        bad("key header changed", with_header(header(1, 1, b"password", &id0, &[1, 2, 4], 3, &[])), "integrity", TAG),
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
    assert!(vectors.invalid.len() >= 40);
    let mut names = std::collections::BTreeSet::new();
    for bad in &vectors.invalid {
        assert!(names.insert(&bad.name), "two vectors named {:?}", bad.name);
        let text = bad.text();
        let err = match Envelope::parse(&text) {
            Err(e) => e,
            Ok(env) => match env.open(&key, &ids.binding()) {
                Err(e) => e,
                Ok(_) => panic!("invalid vector {:?} opened", bad.name),
            },
        };
        assert_eq!(err.kind().name(), bad.error, "invalid vector {:?}: {err}", bad.name);
        assert!(
            err.message().contains(&bad.message_contains),
            "invalid vector {:?} is refused for another reason: {err}",
            bad.name
        );
    }
}

#[test]
fn spec_lists_every_invalid_vector() {
    let spec = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("SPEC.md")).unwrap();
    let vectors: Vectors = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    for bad in &vectors.invalid {
        let row = format!("| {} | `{}` |", bad.name, bad.error);
        assert!(spec.contains(&row), "SPEC.md lacks the row {row:?}");
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
