//! The link-time registry: linked(), resolve(), the default chain, duplicates.

use std::sync::Arc;

use share_backup_core::{
    BackupProvider, Capabilities, Context, DataKey, Error, ErrorKind, KeyHeader, MethodId, Registration, Registry,
    RegistryError, Result, SealedKey, SettingSpec, Settings, async_trait, linked_registrations,
};

#[derive(Debug)]
struct Dummy {
    method: MethodId,
    #[allow(dead_code)] // read through Debug: the tests tell instances apart by it
    label: String,
}

#[async_trait]
impl BackupProvider for Dummy {
    fn method(&self) -> &MethodId {
        &self.method
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
    }
    async fn probe(&self, _: &Context) -> Result<()> {
        Ok(())
    }
    async fn seal_key(&self, _: &Context) -> Result<SealedKey> {
        Ok(SealedKey { key: DataKey::generate()?, header: KeyHeader::new(vec![])? })
    }
    async fn open_key(&self, _: &KeyHeader, _: &Context) -> Result<DataKey> {
        Err(Error::not_found("dummy keeps nothing"))
    }
    async fn delete_key(&self, _: &KeyHeader, _: &Context) -> Result<()> {
        Ok(())
    }
}

fn build_alpha(s: &Settings) -> Result<Arc<dyn BackupProvider>> {
    s.deny_unknown(&["label"])?;
    let label = s.get("label").unwrap_or("default").to_owned();
    Ok(Arc::new(Dummy { method: MethodId::new("alpha")?, label }))
}

fn build_liar(_: &Settings) -> Result<Arc<dyn BackupProvider>> {
    Ok(Arc::new(Dummy { method: MethodId::new("not-liar")?, label: String::new() }))
}

fn build_gdrive(_: &Settings) -> Result<Arc<dyn BackupProvider>> {
    Ok(Arc::new(Dummy { method: MethodId::GDRIVE, label: "fake gdrive".into() }))
}

share_backup_core::register_provider!(
    Registration::new("alpha", "Alpha test provider", "alpha-crate", build_alpha)
        .with_settings(&[SettingSpec::new("label", "a label", "hello")])
);

static ALPHA_AGAIN: Registration = Registration::new("alpha", "Second alpha", "other-alpha-crate", build_alpha);
static LIAR: Registration = Registration::new("liar", "Reports another id", "liar-crate", build_liar);
static BAD_ID: Registration = Registration::new("Bad Id", "Malformed id", "bad-crate", build_alpha);
static GDRIVE: Registration = Registration::new("gdrive", "Fake gdrive", "fake-gdrive-crate", build_gdrive);
static ALPHA_V1: Registration = Registration::new("alpha", "Alpha 1", "alpha-crate", build_alpha)
    .with_version("1.4.0")
    .with_module_path("alpha_v1");
static ALPHA_V2: Registration = Registration::new("alpha", "Alpha 2", "alpha-crate", build_alpha)
    .with_version("2.0.1")
    .with_module_path("alpha_v2");

fn alpha() -> MethodId {
    MethodId::new("alpha").unwrap()
}

#[test]
fn linked_lists_what_this_binary_registers() {
    let reg = Registry::linked().unwrap();
    assert_eq!(reg.method_list(), vec![MethodId::new("alpha").unwrap()]);
    let infos = reg.infos();
    assert_eq!(infos[0].crate_name, Some("alpha-crate"));
    assert_eq!(infos[0].settings[0].key, "label");
    assert_eq!(linked_registrations().count(), 1);
}

#[test]
fn the_macro_records_the_registering_crates_version_and_module() {
    let reg = linked_registrations().next().unwrap();
    let origin = reg.origin();
    assert_eq!(origin.crate_name, "alpha-crate");
    assert_eq!(origin.version, Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(origin.module_path, Some(module_path!()));
    assert_eq!(origin.to_string(), format!("alpha-crate {} ({})", env!("CARGO_PKG_VERSION"), module_path!()));
    // A plain static registration has no version unless it sets one.
    assert_eq!(ALPHA_AGAIN.origin().version, None);
    assert_eq!(ALPHA_V1.origin().version, Some("1.4.0"));
}

#[test]
fn two_registrations_of_one_id_name_both_crates() {
    let regs: Vec<&'static Registration> = linked_registrations().chain([&ALPHA_AGAIN]).collect();
    let e = Registry::from_registrations(regs).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::DuplicateRegistration);
    let Some(RegistryError::DuplicateRegistration { method, first, second }) = e.registry_details() else {
        panic!("no typed details: {e:?}");
    };
    assert_eq!(method, &alpha());
    assert_eq!((first.crate_name, second.crate_name), ("alpha-crate", "other-alpha-crate"));
    assert_eq!(first.version, Some(env!("CARGO_PKG_VERSION")));
    let msg = e.to_string();
    assert!(msg.contains("alpha-crate") && msg.contains("other-alpha-crate"), "{msg}");
}

#[test]
fn two_versions_of_one_crate_are_told_apart() {
    // Either order of discovery gives the same, sorted, error.
    for regs in [[&ALPHA_V2, &ALPHA_V1], [&ALPHA_V1, &ALPHA_V2]] {
        let e = Registry::from_registrations(regs).unwrap_err();
        let Some(RegistryError::DuplicateRegistration { first, second, .. }) = e.registry_details() else {
            panic!("no typed details: {e:?}");
        };
        assert_eq!(first, &ALPHA_V1.origin());
        assert_eq!(second, &ALPHA_V2.origin());
        assert_ne!(first, second);
        assert!(
            e.message().contains("alpha-crate 1.4.0 (alpha_v1)")
                && e.message().contains("alpha-crate 2.0.1 (alpha_v2)"),
            "{e}"
        );
    }
}

#[test]
fn a_malformed_registered_id_names_the_crate() {
    let e = Registry::from_registrations([&BAD_ID]).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert_eq!(
        e.registry_details(),
        Some(&RegistryError::MalformedMethodId { registered: "Bad Id", origin: BAD_ID.origin() })
    );
    assert!(e.to_string().contains("bad-crate"), "{e}");
}

#[test]
fn resolving_an_unknown_method_lists_the_available_ones() {
    let reg = Registry::linked().unwrap();
    let icloud = MethodId::new("icloud").unwrap();
    let e = reg.resolve(Some(&icloud)).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::UnknownMethod);
    assert_eq!(
        e.registry_details(),
        Some(&RegistryError::UnknownMethod { requested: icloud, available: vec![alpha()] })
    );
    assert_eq!(e.registry_details().unwrap().kind(), ErrorKind::UnknownMethod);
    assert!(e.to_string().contains("icloud") && e.to_string().contains("[alpha]"), "{e}");
}

#[test]
fn default_chain_without_gdrive_is_a_typed_error_not_a_fallback() {
    let mut reg = Registry::linked().unwrap();
    let e = reg.resolve(None).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NoDefaultProvider);
    assert_eq!(
        e.registry_details(),
        Some(&RegistryError::NoDefaultProvider { chain: vec![MethodId::GDRIVE], available: vec![alpha()] })
    );
    let msg = e.to_string();
    assert!(msg.contains("[gdrive]") && msg.contains("available: [alpha]"), "{msg}");
    let chain = vec![MethodId::new("passkey").unwrap(), MethodId::GDRIVE];
    reg.set_default_chain(chain.clone());
    let e = reg.default_method().unwrap_err();
    assert_eq!(e.registry_details(), Some(&RegistryError::NoDefaultProvider { chain, available: vec![alpha()] }));
}

#[test]
fn errors_not_made_by_the_registry_carry_no_registry_details() {
    let mut reg = Registry::linked().unwrap();
    let e = reg.configure(&alpha(), Settings::from_pairs([("lable", "typo")])).unwrap_err();
    assert_eq!(e.registry_details(), None);
    assert_eq!(Error::not_found("x").registry_details(), None);
}

#[test]
fn default_chain_starts_with_gdrive_and_is_configurable() {
    let mut reg = Registry::from_registrations(linked_registrations().chain([&GDRIVE])).unwrap();
    assert_eq!(reg.default_chain(), &[MethodId::GDRIVE]);
    assert_eq!(reg.resolve(None).unwrap().method(), &MethodId::GDRIVE);
    let alpha = MethodId::new("alpha").unwrap();
    reg.set_default_chain(vec![MethodId::new("passkey").unwrap(), alpha.clone(), MethodId::GDRIVE]);
    assert_eq!(reg.default_method().unwrap(), alpha);
    assert_eq!(reg.resolve(None).unwrap().method(), &alpha);
}

#[test]
fn configure_validates_settings_at_once() {
    let mut reg = Registry::linked().unwrap();
    let alpha = MethodId::new("alpha").unwrap();
    let e = reg.configure(&alpha, Settings::from_pairs([("lable", "typo")])).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().contains("lable") && e.to_string().contains("known: label"), "{e}");
    assert_eq!(e.method(), Some(&alpha));
    reg.configure(&alpha, Settings::from_pairs([("label", "configured")])).unwrap();
    let p = reg.resolve(Some(&alpha)).unwrap();
    assert!(format!("{p:?}").contains("configured"));
    let nope = MethodId::new("nope").unwrap();
    let e = reg.configure(&nope, Settings::new()).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::UnknownMethod);
    assert_eq!(e.registry_details(), Some(&RegistryError::UnknownMethod { requested: nope, available: vec![alpha] }));
}

#[test]
fn a_provider_reporting_another_id_than_registered_is_refused() {
    let reg = Registry::from_registrations([&LIAR]).unwrap();
    let e = reg.resolve(Some(&MethodId::new("liar").unwrap())).err().unwrap();
    assert_eq!(e.kind(), &ErrorKind::Internal);
    assert!(e.to_string().contains("liar-crate"), "{e}");
}

#[test]
fn an_inserted_instance_wins_over_the_linked_registration() {
    let alpha = MethodId::new("alpha").unwrap();
    let reg =
        Registry::linked().unwrap().with_provider(Arc::new(Dummy { method: alpha.clone(), label: "instance".into() }));
    let p = reg.resolve(Some(&alpha)).unwrap();
    assert!(format!("{p:?}").contains("instance"));
    let again = reg.resolve(Some(&alpha)).unwrap();
    assert!(Arc::ptr_eq(&p, &again));
}
