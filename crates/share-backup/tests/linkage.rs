//! The exact set of linked providers for this build's feature combination,
//! and what `resolve(None)` gives.
//!
//! # The matrix, and why `cargo test --workspace` runs only one cell
//!
//! | facade features | linked ids | `resolve(None)` |
//! | --- | --- | --- |
//! | none (`--no-default-features`) | `[]` | `NoDefaultProvider { chain: [gdrive], available: [] }` |
//! | `password` | `[password]` | `NoDefaultProvider { chain: [gdrive], available: [password] }` (no silent fallback) |
//! | `gdrive` | `[gdrive]` | `gdrive` |
//! | `password,gdrive` (default) | `[gdrive, password]` | `gdrive` |
//! | `passkey,guarded-pin` | `[guarded-pin, passkey, password]` | `NoDefaultProvider { chain: [gdrive], available: [guarded-pin, passkey, password] }` |
//!
//! (`guarded-pin` implies `password`: its PIN policy presets live in the
//! password crate, and linking that crate registers the password provider.)
//!
//! The expectations are computed from `cfg!(feature = ...)`, so one file
//! covers every cell, but one build of it covers only one: cargo unifies
//! features across a single invocation, so `cargo test --workspace` builds
//! the facade once with the union of its dependents' features (the FFI turns
//! on `passkey`, the examples `guarded-pin`), which is none of the rows, not
//! even the default one. Every row runs in `scripts/test.sh` (and so in
//! `.ci/run`), one `cargo test -p share-backup --no-default-features
//! [--features ...] --test linkage` each. (The `orchestrator`, `object-store`
//! and `portal` features link no provider and change no row.)
//! To run the whole matrix by hand:
//!
//! ```text
//! for f in "" password gdrive password,gdrive passkey,guarded-pin; do
//!   cargo test -p share-backup --no-default-features --features "$f" --test linkage
//! done
//! ```
//!
//! (No test here spawns those nested cargo builds: they would cost CI minutes
//! for what the script already does.)

use share_backup::{ErrorKind, MethodId, Registry, RegistryError, linked_registrations};

fn expected() -> Vec<MethodId> {
    let mut v = Vec::new();
    if cfg!(feature = "gdrive") {
        v.push(MethodId::GDRIVE);
    }
    if cfg!(feature = "guarded-pin") {
        v.push(MethodId::new("guarded-pin").unwrap());
    }
    if cfg!(feature = "passkey") {
        v.push(MethodId::new("passkey").unwrap());
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
            assert_eq!(
                e.registry_details(),
                Some(&RegistryError::NoDefaultProvider { chain: vec![MethodId::GDRIVE], available: expected() })
            );
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
    let icloud = MethodId::new("icloud").unwrap();
    let e = reg.resolve(Some(&icloud)).err().unwrap();
    assert_eq!(e.kind(), &ErrorKind::UnknownMethod);
    assert_eq!(e.registry_details(), Some(&RegistryError::UnknownMethod { requested: icloud, available: expected() }));
}

#[test]
fn each_provider_crate_registers_once_with_its_name_and_version() {
    for reg in linked_registrations() {
        let origin = reg.origin();
        assert_eq!(origin.crate_name, format!("share-backup-{}", reg.method_str()), "{reg:?}");
        assert_eq!(origin.version, Some(env!("CARGO_PKG_VERSION")), "the workspace shares one version: {reg:?}");
        assert_eq!(origin.module_path, Some(origin.crate_name.replace('-', "_").as_str()), "{reg:?}");
    }
}
