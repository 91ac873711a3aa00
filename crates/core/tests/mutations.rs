//! Property tests: random mutations of valid envelopes are typed errors,
//! never a panic and never a share.

use proptest::prelude::*;
use share_backup_core::{
    Aead, BackupId, BackupShare, Binding, DataKey, Envelope, ErrorKind, ExposeSecret, KeyHeader, MethodId, UserId,
};

fn sealed(share: &[u8], kh: &[u8]) -> (String, DataKey, UserId) {
    let key = DataKey::from_bytes([0x11; 64]);
    let user = UserId::new("prop-user").unwrap();
    let env = Envelope::seal(
        MethodId::PASSWORD,
        BackupId::from_bytes([5; 16]),
        Aead::Aes256Siv,
        KeyHeader::new(kh.to_vec()).unwrap(),
        &key,
        &BackupShare::new(share.to_vec()).unwrap(),
        &Binding { user: &user, custodian: None, client: None },
    )
    .unwrap();
    (env.encode(), key, user)
}

/// Parse then open; Ok only if the mutation produced the original share.
fn outcome(s: &str, key: &DataKey, user: &UserId) -> Result<Vec<u8>, ErrorKind> {
    let env = Envelope::parse(s).map_err(|e| e.kind().clone())?;
    // canonical: whatever parses re-encodes to the same string
    assert_eq!(env.encode(), s, "parse accepted a non-canonical string");
    env.open(key, &Binding { user, custodian: None, client: None })
        .map(|s| s.expose_secret().to_vec())
        .map_err(|e| e.kind().clone())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { pos: usize, bit: u8 },
    Replace { pos: usize, ch: char },
    Insert { pos: usize, ch: char },
    Delete { pos: usize },
    Truncate { len: usize },
    Append { s: String },
    SwapParts,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let ch = prop_oneof![
        prop::char::range('A', 'Z'),
        prop::char::range('a', 'z'),
        prop::char::range('0', '9'),
        Just('-'),
        Just('_'),
        Just('.'),
        Just('='),
        Just('+'),
        Just('/'),
        Just(' '),
        Just('\n'),
        Just('é'),
    ];
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(pos, bit)| Mutation::Flip { pos, bit }),
        (any::<usize>(), ch.clone()).prop_map(|(pos, ch)| Mutation::Replace { pos, ch }),
        (any::<usize>(), ch).prop_map(|(pos, ch)| Mutation::Insert { pos, ch }),
        any::<usize>().prop_map(|pos| Mutation::Delete { pos }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        "[A-Za-z0-9._=-]{1,8}".prop_map(|s| Mutation::Append { s }),
        Just(Mutation::SwapParts),
    ]
}

fn apply(s: &str, m: &Mutation) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    let n = b.len();
    if n == 0 {
        return b"x".to_vec();
    }
    match m {
        Mutation::Flip { pos, bit } => b[pos % n] ^= 1 << bit,
        Mutation::Replace { pos, ch } => {
            let mut buf = [0u8; 4];
            let enc = ch.encode_utf8(&mut buf).as_bytes().to_vec();
            let p = pos % n;
            b.splice(p..p + 1, enc);
        }
        Mutation::Insert { pos, ch } => {
            let mut buf = [0u8; 4];
            let enc = ch.encode_utf8(&mut buf).as_bytes().to_vec();
            let p = pos % (n + 1);
            b.splice(p..p, enc);
        }
        Mutation::Delete { pos } => {
            b.remove(pos % n);
        }
        Mutation::Truncate { len } => b.truncate(len % n),
        Mutation::Append { s } => b.extend_from_slice(s.as_bytes()),
        Mutation::SwapParts => {
            let parts: Vec<&str> = s.splitn(3, '.').collect();
            if let [a, h, body] = parts[..] {
                b = format!("{a}.{body}.{h}").into_bytes();
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, .. ProptestConfig::default() })]

    #[test]
    fn mutated_envelopes_never_open_to_a_share(
        share in prop::collection::vec(any::<u8>(), 1..200),
        kh in prop::collection::vec(any::<u8>(), 0..40),
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        let (s, key, user) = sealed(&share, &kh);
        let mut cur = s.clone().into_bytes();
        for m in &muts {
            let as_str = String::from_utf8_lossy(&cur).into_owned();
            cur = apply(&as_str, m);
        }
        let Ok(mutated) = String::from_utf8(cur) else { return Ok(()) };
        let r = outcome(&mutated, &key, &user);
        if mutated == s {
            prop_assert_eq!(r, Ok(share));
        } else {
            prop_assert!(
                matches!(r, Err(ErrorKind::InvalidEnvelope) | Err(ErrorKind::Integrity)),
                "mutation {:?} gave {:?}", muts, r
            );
        }
    }

    #[test]
    fn arbitrary_strings_never_panic_the_parser(s in "\\PC{0,300}") {
        let _ = Envelope::parse(&s);
    }

    #[test]
    fn arbitrary_sb1_strings_are_typed_errors(h in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,80}") {
        let s = format!("sb1.{h}.{b}");
        if let Err(e) = Envelope::parse(&s) {
            prop_assert_eq!(e.kind(), &ErrorKind::InvalidEnvelope);
        }
    }
}

#[test]
fn every_single_character_change_is_refused() {
    let (s, key, user) = sealed(b"exhaustive single-character mutation target", &[1, 2, 3, 4]);
    let alphabet: Vec<char> = ('A'..='Z').chain('a'..='z').chain('0'..='9').chain(['-', '_', '.', '=']).collect();
    let chars: Vec<char> = s.chars().collect();
    let mut tried = 0;
    for i in 0..chars.len() {
        for &c in &alphabet {
            if c == chars[i] {
                continue;
            }
            let mut m = chars.clone();
            m[i] = c;
            let m: String = m.into_iter().collect();
            let r = outcome(&m, &key, &user);
            assert!(
                matches!(r, Err(ErrorKind::InvalidEnvelope) | Err(ErrorKind::Integrity)),
                "changing char {i} to {c:?} gave {r:?}"
            );
            tried += 1;
        }
    }
    assert!(tried > 1000);
}
