#![no_main]
//! The password provider's key header: strict parsing never panics, what
//! parses re-encodes byte for byte, and the cost cap is checked on what parses.
use libfuzzer_sys::fuzz_target;
use share_backup_password::{CostCap, PasswordHeader};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = PasswordHeader::parse(data) {
        assert_eq!(h.to_bytes(), data, "non-canonical password header accepted");
        let _ = CostCap::default().check(h.params());
    }
});
