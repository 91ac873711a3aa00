#![no_main]
//! Any input: parse never panics; whatever parses re-encodes to the same string.
use libfuzzer_sys::fuzz_target;
use share_backup_core::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(env) = Envelope::parse(s) {
            assert_eq!(env.encode(), s, "non-canonical envelope accepted");
        }
    }
});
