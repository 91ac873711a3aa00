//! The link-time registry: linked(), resolve(), the default chain, duplicates.

use std::sync::Arc;

use share_backup_core::{
    BackupProvider, Capabilities, Context, DataKey, Error, ErrorKind, KeyHeader, MethodId, Registration, Registry,
    Result, SealedKey, SettingSpec, Settings, async_trait, linked_registrations,
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
fn two_registrations_of_one_id_name_both_crates() {
    let regs: Vec<&'static Registration> = linked_registrations().chain([&ALPHA_AGAIN]).collect();
    let e = Registry::from_registrations(regs).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::DuplicateRegistration);
    let msg = e.to_string();
    assert!(msg.contains("alpha-crate") && msg.contains("other-alpha-crate"), "{msg}");
}

#[test]
fn a_malformed_registered_id_names_the_crate() {
    let e = Registry::from_registrations([&BAD_ID]).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().contains("bad-crate"), "{e}");
}

#[test]
fn resolving_an_unknown_method_lists_the_available_ones() {
    let reg = Registry::linked().unwrap();
    let e = reg.resolve(Some(&MethodId::new("icloud").unwrap())).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::UnknownMethod);
    assert!(e.to_string().contains("icloud") && e.to_string().contains("[alpha]"), "{e}");
}

#[test]
fn default_chain_without_gdrive_is_a_typed_error_not_a_fallback() {
    let reg = Registry::linked().unwrap();
    let e = reg.resolve(None).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NoDefaultProvider);
    let msg = e.to_string();
    assert!(msg.contains("[gdrive]") && msg.contains("available: [alpha]"), "{msg}");
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
    let e = reg.configure(&MethodId::new("nope").unwrap(), Settings::new()).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::UnknownMethod);
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
