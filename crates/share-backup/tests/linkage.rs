//! The exact set of linked providers for this build's feature combination,
//! and what `resolve(None)` gives. The test script runs this file once per
//! combination: none, password, gdrive, both (see `scripts/test.sh`).

use share_backup::{ErrorKind, MethodId, Registry, linked_registrations};

fn expected() -> Vec<MethodId> {
    let mut v = Vec::new();
    if cfg!(feature = "gdrive") {
        v.push(MethodId::GDRIVE);
    }
    if cfg!(feature = "password") {
        v.push(MethodId::PASSWORD);
    }
    v
}

#[test]
fn exactly_the_enabled_providers_are_linked() {
    let reg = Registry::linked().expect("no duplicate registrations");
    assert_eq!(reg.method_list(), expected());
    assert_eq!(share_backup::enabled_methods(), expected());
    assert_eq!(linked_registrations().count(), expected().len(), "one registration per provider");
}

#[test]
fn resolve_none_picks_gdrive_or_names_the_chain() {
    let reg = Registry::linked().unwrap();
    match reg.resolve(None) {
        Ok(p) => {
            if !cfg!(feature = "gdrive") {
                panic!("resolved {:?} without gdrive linked", p.method());
            }
            assert_eq!(p.method(), &MethodId::GDRIVE);
        }
        Err(e) => {
            if cfg!(feature = "gdrive") {
                panic!("gdrive is linked but resolve(None) failed: {e}");
            }
            assert_eq!(e.kind(), &ErrorKind::NoDefaultProvider);
            let msg = e.to_string();
            assert!(msg.contains("[gdrive]"), "{msg}");
            let avail = expected().iter().map(MethodId::as_str).collect::<Vec<_>>().join(", ");
            assert!(msg.contains(&format!("available: [{avail}]")), "{msg}");
        }
    }
}

#[test]
fn each_linked_provider_resolves_by_id_and_builds_from_empty_settings() {
    let reg = Registry::linked().unwrap();
    for id in expected() {
        let p = reg.resolve(Some(&id)).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(p.method(), &id);
    }
    let e = reg.resolve(Some(&MethodId::new("icloud").unwrap())).err().unwrap();
    assert_eq!(e.kind(), &ErrorKind::UnknownMethod);
}
