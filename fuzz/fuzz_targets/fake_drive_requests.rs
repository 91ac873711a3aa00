#![no_main]
//! The fake Drive server's request parsing: `q` expressions, `fields` masks,
//! multipart/related bodies and their Content-Type boundary. Never panics.
use libfuzzer_sys::fuzz_target;
use share_backup_fake_drive::{fields, multipart, query};

fuzz_target!(|data: &[u8]| {
    let (sel, rest) = match data.split_first() {
        Some((s, r)) => (*s, r),
        None => return,
    };
    match sel % 4 {
        0 => {
            if let Ok(s) = std::str::from_utf8(rest) {
                let _ = query::parse(s);
            }
        }
        1 => {
            if let Ok(s) = std::str::from_utf8(rest) {
                let _ = fields::parse(s);
            }
        }
        2 => {
            if let Ok(s) = std::str::from_utf8(rest) {
                let _ = multipart::boundary(s);
            }
        }
        _ => {
            let _ = multipart::parse(rest, "sb-boundary");
        }
    }
});
