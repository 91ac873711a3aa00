#![no_main]
//! Id and settings parsing: never panics, validation is consistent.
use libfuzzer_sys::fuzz_target;
use share_backup_core::{BackupId, MethodId, Settings, UserId};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(m) = MethodId::new(s) {
        assert_eq!(m.as_str(), s);
        assert_eq!(MethodId::from_portal_name(&m.portal_name()).unwrap(), m);
    }
    let _ = MethodId::from_portal_name(s);
    if let Ok(u) = UserId::new(s) {
        assert_eq!(u.as_str(), s);
    }
    if let Ok(b) = s.parse::<BackupId>() {
        assert_eq!(b.to_hex(), s);
    }
    let mut settings = Settings::new();
    for line in s.lines() {
        if let Some((k, v)) = line.split_once('=') {
            settings.insert(k, v);
        }
    }
    let _ = settings.parse::<u32>("time_cost");
    let _ = settings.parse_bool("visible");
    let _ = settings.deny_unknown(&["time_cost", "visible"]);
});
