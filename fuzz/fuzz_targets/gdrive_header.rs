#![no_main]
//! The Google Drive provider's key header: strict parsing (through the
//! size-bounded `KeyHeader`) never panics, and what parses re-encodes byte
//! for byte.
use libfuzzer_sys::fuzz_target;
use share_backup_gdrive::__fuzz::parse_key_header;

fuzz_target!(|data: &[u8]| {
    if let Ok(again) = parse_key_header(data) {
        assert_eq!(again, data, "non-canonical Google Drive key header accepted");
    }
});
