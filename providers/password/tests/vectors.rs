//! Test vectors in `testdata/vectors.json` pin the derived keys and a full
//! envelope for fixed inputs. The Balloon part is cross-checked against
//! balloon-hash 0.4.0, the stable release, so the pinned bytes are not only
//! "what this code does today".
//!
//! Regenerate (only for a deliberate format change, with a new algorithm or
//! header version id): `SB_REGENERATE_VECTORS=1 cargo test -p share-backup-password --test vectors`.

use serde::{Deserialize, Serialize};
use share_backup_core::{
    Aead, BackupId, BackupProviderExt, BackupShare, Binding, ClientId, Configs, Context, CustodianId, Envelope,
    ExposeSecret, KeyHeader, UserId,
};
use share_backup_password::{KdfParams, METHOD, PasswordConfig, PasswordHeader, PasswordProvider, balloon_sha256};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vectors.json");

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Vectors {
    about: String,
    kdf: Vec<KdfVector>,
    envelopes: Vec<EnvelopeVector>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct KdfVector {
    comment: String,
    /// As typed; `password_alt` (if any) is another spelling that must give the same key.
    password: String,
    password_alt: Option<String>,
    salt_hex: String,
    space_cost: u32,
    time_cost: u32,
    parallelism: u8,
    /// Balloon-M-SHA-256 of the normalized password.
    balloon_hex: String,
    /// The key header bytes (with the key-check value).
    header_hex: String,
    /// The 64-byte AES-256-SIV data key.
    data_key_hex: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct EnvelopeVector {
    comment: String,
    user: String,
    custodian: Option<String>,
    client: Option<String>,
    password: String,
    backup_id_hex: String,
    share_hex: String,
    envelope: String,
}

/// (comment, password, alternate spelling, salt, costs)
type KdfInput = (&'static str, &'static str, Option<&'static str>, Vec<u8>, KdfParams);

fn kdf_inputs() -> Vec<KdfInput> {
    vec![
        (
            "ASCII password, 16-byte zero salt, tiny costs",
            "password",
            None,
            vec![0; 16],
            KdfParams::new(16, 1, 1).unwrap(),
        ),
        (
            "passphrase, 32-byte counting salt",
            "correct horse battery staple",
            None,
            (0..32).collect(),
            KdfParams::new(1024, 3, 1).unwrap(),
        ),
        (
            "composed and decomposed spellings of one password; non-ASCII space mapped to U+0020",
            "\u{c5}ngstr\u{f6}m\u{a0}caf\u{e9}",
            Some("A\u{30a}ngstro\u{308}m cafe\u{301}"),
            vec![0xa5; 32],
            KdfParams::new(512, 2, 1).unwrap(),
        ),
        (
            "four Balloon-M threads, 64-byte salt",
            "violet tractor under the bridge",
            None,
            (0..64).map(|i| 255 - i).collect(),
            KdfParams::new(256, 2, 4).unwrap(),
        ),
        ("six-digit PIN", "280417", None, vec![0x11; 32], KdfParams::new(4096, 3, 1).unwrap()),
        ("emoji passphrase", "\u{1f512} lock \u{1f511} key", None, vec![0x3c; 24], KdfParams::new(128, 1, 2).unwrap()),
        // calibrate produces space costs that are not powers of two: they
        // exercise the general index reduction (mod space_cost) of Balloon.
        (
            "non-power-of-two space cost 1000, two threads",
            "correct horse battery staple",
            None,
            vec![0x42; 32],
            KdfParams::new(1000, 3, 2).unwrap(),
        ),
        (
            "non-power-of-two space cost 131071 (2^17 - 1), two threads",
            "violet tractor under the bridge",
            None,
            (0..32).map(|i| i * 7).collect(),
            KdfParams::new(131_071, 1, 2).unwrap(),
        ),
    ]
}

fn balloon_v04(password: &str, salt: &[u8], p: &KdfParams) -> Vec<u8> {
    use balloon_hash_v04::{Algorithm, Balloon, Params};
    let n = share_backup_password::NormalizedPassword::new(password).unwrap();
    let params = Params::new(p.space_cost(), p.time_cost(), u32::from(p.parallelism())).unwrap();
    let b = Balloon::<sha2::Sha256>::new(Algorithm::BalloonM, params, None);
    let mut mem = vec![Default::default(); p.space_cost() as usize * p.parallelism() as usize];
    let mut out = [0u8; 32];
    b.hash_into_with_memory(n.expose_secret().as_bytes(), salt, &mut mem, &mut out).unwrap();
    out.to_vec()
}

fn compute_kdf() -> Vec<KdfVector> {
    kdf_inputs()
        .into_iter()
        .map(|(comment, password, alt, salt, params)| {
            let n = share_backup_password::NormalizedPassword::new(password).unwrap();
            let raw = balloon_sha256(n.expose_secret().as_bytes(), &salt, &params).unwrap();
            let (header, key) =
                share_backup_password::__private::seal_with_salt(password, &params, salt.clone()).unwrap();
            KdfVector {
                comment: comment.into(),
                password: password.into(),
                password_alt: alt.map(Into::into),
                salt_hex: hex::encode(&salt),
                space_cost: params.space_cost(),
                time_cost: params.time_cost(),
                parallelism: params.parallelism(),
                balloon_hex: hex::encode(&raw[..]),
                header_hex: hex::encode(header),
                data_key_hex: hex::encode(key.expose_secret()),
            }
        })
        .collect()
}

fn seal_envelope(v: &EnvelopeVector, params: &KdfParams, salt: Vec<u8>) -> String {
    let (header, key) = share_backup_password::__private::seal_with_salt(&v.password, params, salt).unwrap();
    let user = UserId::new(&v.user).unwrap();
    let custodian = v.custodian.as_deref().map(|c| CustodianId::new(c).unwrap());
    let client = v.client.as_deref().map(|c| ClientId::new(c).unwrap());
    let binding = Binding { user: &user, custodian: custodian.as_ref(), client: client.as_ref() };
    let mut id = [0u8; 16];
    hex::decode_to_slice(&v.backup_id_hex, &mut id).unwrap();
    Envelope::seal(
        METHOD.clone(),
        BackupId::from_bytes(id),
        Aead::Aes256Siv,
        KeyHeader::new(header).unwrap(),
        &key,
        &BackupShare::new(hex::decode(&v.share_hex).unwrap()).unwrap(),
        &binding,
    )
    .unwrap()
    .encode()
}

fn envelope_inputs() -> Vec<(EnvelopeVector, KdfParams, Vec<u8>)> {
    let base =
        |comment: &str, user: &str, custodian: Option<&str>, client: Option<&str>, password: &str| EnvelopeVector {
            comment: comment.into(),
            user: user.into(),
            custodian: custodian.map(Into::into),
            client: client.map(Into::into),
            password: password.into(),
            backup_id_hex: "00112233445566778899aabbccddeeff".into(),
            share_hex: hex::encode(b"client key share: 32 bytes long!"),
            envelope: String::new(),
        };
    vec![
        (
            base("user only", "alice@example.com", None, None, "correct horse battery staple"),
            KdfParams::new(256, 2, 1).unwrap(),
            vec![7; 32],
        ),
        (
            base("user, custodian and client bound", "user-42", Some("custodian-acme"), Some("client-7"), "280417"),
            KdfParams::new(128, 3, 2).unwrap(),
            vec![9; 16],
        ),
    ]
}

fn compute() -> Vectors {
    Vectors {
        about: "share-backup-password test vectors: Balloon-M-SHA-256 (balloon-hash), HKDF-SHA-256, key header v1, \
                envelope v1. Hex is lower case. Passwords are as typed; the provider normalizes them (RFC 8265 \
                OpaqueString) first."
            .into(),
        kdf: compute_kdf(),
        envelopes: envelope_inputs()
            .into_iter()
            .map(|(mut v, params, salt)| {
                v.envelope = seal_envelope(&v, &params, salt);
                v
            })
            .collect(),
    }
}

fn load() -> Vectors {
    if std::env::var_os("SB_REGENERATE_VECTORS").is_some() {
        let v = compute();
        std::fs::write(PATH, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
    }
    serde_json::from_str(&std::fs::read_to_string(PATH).expect("testdata/vectors.json")).unwrap()
}

#[test]
fn derived_keys_match_the_pinned_vectors() {
    let pinned = load();
    assert_eq!(pinned.kdf.len(), kdf_inputs().len());
    assert_eq!(compute_kdf(), pinned.kdf);
}

#[test]
fn the_balloon_output_matches_the_stable_balloon_hash_release() {
    for v in load().kdf {
        let salt = hex::decode(&v.salt_hex).unwrap();
        let p = KdfParams::new(v.space_cost, v.time_cost, v.parallelism).unwrap();
        assert_eq!(hex::encode(balloon_v04(&v.password, &salt, &p)), v.balloon_hex, "{}", v.comment);
    }
}

#[test]
fn pinned_headers_parse_and_carry_the_vector_costs() {
    for v in load().kdf {
        let h = PasswordHeader::parse(&hex::decode(&v.header_hex).unwrap()).unwrap();
        assert_eq!(h.params(), &KdfParams::new(v.space_cost, v.time_cost, v.parallelism).unwrap());
        assert_eq!(hex::encode(h.salt()), v.salt_hex);
    }
}

#[tokio::test]
async fn alternate_spellings_derive_the_same_key() {
    let p = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .policy(share_backup_password::Policy::custom())
        .build()
        .unwrap();
    for v in load().kdf.into_iter().filter(|v| v.password_alt.is_some()) {
        let header = KeyHeader::new(hex::decode(&v.header_hex).unwrap()).unwrap();
        let ctx = Context::new(UserId::new("u").unwrap(), BackupId::from_bytes([0; 16]))
            .with_configs(Configs::new().with(PasswordConfig::new(v.password_alt.clone().unwrap())));
        use share_backup_core::BackupProvider;
        let key = p.open_key(&header, &ctx).await.unwrap();
        assert_eq!(hex::encode(key.expose_secret()), v.data_key_hex, "{}", v.comment);
    }
}

#[tokio::test]
async fn pinned_envelopes_open_with_their_password_for_their_user() {
    let pinned = load();
    assert!(!pinned.envelopes.is_empty());
    // Sealing is deterministic for a fixed salt: the pinned text is reproduced exactly.
    for ((input, params, salt), v) in envelope_inputs().into_iter().zip(&pinned.envelopes) {
        assert_eq!(seal_envelope(&input, &params, salt), v.envelope, "{}", v.comment);
    }
    let p = PasswordProvider::default();
    for v in &pinned.envelopes {
        let env: Envelope = v.envelope.parse().unwrap();
        let mut ctx = Context::new(UserId::new(&v.user).unwrap(), env.backup_id())
            .with_configs(Configs::new().with(PasswordConfig::new(v.password.clone())));
        if let Some(c) = &v.custodian {
            ctx = ctx.with_custodian(CustodianId::new(c).unwrap());
        }
        if let Some(c) = &v.client {
            ctx = ctx.with_client(ClientId::new(c).unwrap());
        }
        let share = p.open_envelope(&env, &ctx).await.unwrap();
        assert_eq!(hex::encode(share.expose_secret()), v.share_hex, "{}", v.comment);
        let wrong = ctx.clone().with_configs(Configs::new().with(PasswordConfig::new("not the password")));
        assert_eq!(p.open_envelope(&env, &wrong).await.unwrap_err().kind(), &share_backup_core::ErrorKind::WrongSecret);
    }
}
