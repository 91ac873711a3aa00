//! The provider against realm processes that serve HTTPS themselves
//! (`--tls-cert`/`--tls-key`), with the realms' CA given to the builder.

use std::sync::Arc;

use share_backup_core::{BackupId, BackupProvider, Configs, Context, ErrorKind, ExposeSecret, UserId};
use share_backup_guarded_pin::{GuardedPinProvider, PinConfig, Realm, RealmTokens, SigningTokenSource, TokenSource};
use share_backup_realm::{RealmProcess, realm_binary};
use share_backup_realm_protocol::SigningKey;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn ctx(pin: &str, backup: BackupId) -> Context {
    Context::new(UserId::new("alice").unwrap(), backup).with_configs(Configs::new().with(PinConfig::new(pin)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_and_a_recovery_over_the_realms_own_https_and_a_stranger_certificate_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, pem_key) = (dir.path().join("realm.crt"), dir.path().join("realm.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&pem_key, ck.signing_key.serialize_pem()).unwrap();
    let tls = [format!("--tls-cert={}", cert.display()), format!("--tls-key={}", pem_key.display())];
    let realms: Vec<RealmProcess> = (0..3)
        .map(|i| {
            let db = format!("sqlite:{}", dir.path().join(format!("r{i}.sqlite3")).display());
            RealmProcess::spawn(
                &realm_binary(),
                &format!("r{i}"),
                &db,
                "acme",
                &key().verifying_key(),
                &[&tls[0], &tls[1]],
            )
            .unwrap()
        })
        .collect();
    let provider = |root: Option<&[u8]>| {
        let mut b =
            GuardedPinProvider::builder().threshold(2).token_source(Arc::new(SigningTokenSource::new("acme", key())));
        if let Some(der) = root {
            b = b.add_root_certificate(der);
        }
        for r in &realms {
            assert!(r.url().starts_with("https://"), "{}", r.url());
            b = b.realm(Realm::new(r.id(), r.url()).unwrap());
        }
        b.build().unwrap()
    };
    let p = provider(Some(ck.cert.der()));
    let id = BackupId::generate().unwrap();
    let sealed = p.seal_key(&ctx("482916", id)).await.unwrap();
    let opened = p.open_key(&sealed.header, &ctx("482916", id)).await.unwrap();
    assert_eq!(opened.expose_secret(), sealed.key.expose_secret());
    // The same through registry settings: `ca_cert` names the PEM file (what
    // the CLI's config file and the bindings' provider settings give), the
    // tokens come with the call.
    let realms_setting: Vec<String> = realms.iter().map(|r| format!("{}={}", r.id(), r.url())).collect();
    let settings = share_backup_core::Settings::from_pairs([
        ("realms", realms_setting.join(",")),
        ("threshold", "2".to_string()),
        ("ca_cert", cert.display().to_string()),
    ]);
    let from_settings = GuardedPinProvider::from_settings(&settings).unwrap();
    let signer = SigningTokenSource::new("acme", key());
    let user = UserId::new("alice").unwrap();
    let mut tokens = RealmTokens::new();
    for r in &realms {
        tokens = tokens.with(r.id(), signer.token(&user, r.id()).await.unwrap().expose_secret().to_string());
    }
    let call = Context::new(user, id).with_configs(Configs::new().with(PinConfig::new("482916")).with(tokens));
    let opened = from_settings.open_key(&sealed.header, &call).await.unwrap();
    assert_eq!(opened.expose_secret(), sealed.key.expose_secret());
    let missing = share_backup_core::Settings::from_pairs([
        ("realms", realms_setting.join(",")),
        ("ca_cert", dir.path().join("absent.pem").display().to_string()),
    ]);
    let e = GuardedPinProvider::from_settings(&missing).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("absent.pem"), "{e}");
    // Without the realms' CA the certificate is not trusted: the realms are
    // unreachable for this client, a typed Unavailable.
    let e = provider(None).open_key(&sealed.header, &ctx("482916", id)).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
}
