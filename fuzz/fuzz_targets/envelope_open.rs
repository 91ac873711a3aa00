#![no_main]
//! Mutations of one valid envelope: opening never panics and never yields a
//! share unless the string is the original.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use share_backup_core::{Aead, BackupId, BackupShare, Binding, DataKey, Envelope, KeyHeader, MethodId, UserId};

struct Fixture {
    key: DataKey,
    user: UserId,
    text: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = DataKey::from_bytes([0x33; 64]);
        let user = UserId::new("fuzz-user").unwrap();
        let env = Envelope::seal(
            MethodId::PASSWORD,
            BackupId::from_bytes([9; 16]),
            Aead::Aes256Siv,
            KeyHeader::new(vec![1, 0, 0, 0, 16]).unwrap(),
            &key,
            &BackupShare::new(b"fuzz share bytes".to_vec()).unwrap(),
            &Binding { user: &user, custodian: None, client: None },
        )
        .unwrap();
        Fixture { key, user, text: env.encode() }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    // Interpret the input as edits (position, byte) applied to the valid envelope,
    // so the fuzzer explores near-valid inputs that reach the AEAD.
    let mut bytes = f.text.clone().into_bytes();
    for pair in data.chunks(2) {
        let pos = pair[0] as usize * 7 % bytes.len();
        match pair.get(1) {
            Some(&b) => bytes[pos] = b,
            None => {
                bytes.truncate(pos);
            }
        }
        if bytes.is_empty() {
            return;
        }
    }
    let Ok(s) = std::str::from_utf8(&bytes) else { return };
    if let Ok(env) = Envelope::parse(s) {
        let opened = env.open(&f.key, &Binding { user: &f.user, custodian: None, client: None });
        if s != f.text {
            assert!(opened.is_err(), "a modified envelope opened");
        }
    }
});
