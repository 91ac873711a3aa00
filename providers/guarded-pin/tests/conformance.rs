//! The conformance suite against the guarded-PIN provider with three real
//! realms (in-process, SQLite files, 127.0.0.1).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use share_backup_conformance::{Harness, Suite};
use share_backup_core::{Configs, UserId};
use share_backup_guarded_pin::{GuardedPinProvider, PinConfig, Realm, SigningTokenSource};
use share_backup_password::Policy;
use share_backup_realm::LocalRealm;
use share_backup_realm_protocol::SigningKey;

fn pin(user: &UserId) -> String {
    let mut h = DefaultHasher::new();
    ("pin", user.as_str()).hash(&mut h);
    let mut n = h.finish() % 900_000 + 100_000;
    loop {
        let s = n.to_string();
        if Policy::pin().check(&s).is_empty() {
            return s;
        }
        n = (n + 7) % 900_000 + 100_000;
    }
}

fn main() -> std::process::ExitCode {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let key = SigningKey::from_bytes(&[5u8; 32]);
    let realms: Vec<LocalRealm> = (0..3)
        .map(|i| {
            let db = format!("sqlite:{}", dir.path().join(format!("realm-{i}.sqlite3")).display());
            LocalRealm::start(&format!("realm-{i}"), &db, "acme", key.verifying_key(), 0).expect("a realm")
        })
        .collect();
    let mut b = GuardedPinProvider::builder()
        .max_guesses(1000)
        .token_source(Arc::new(SigningTokenSource::new("acme", SigningKey::from_bytes(&[5u8; 32]))));
    for r in &realms {
        b = b.realm(Realm::new(r.id(), r.url()).unwrap());
    }
    let provider = b.build().unwrap();
    let harness = Harness::new()
        .with_configs(|u| Configs::new().with(PinConfig::new(pin(u))))
        .with_config_type::<PinConfig>()
        .with_wrong_secret(|u| {
            let mut p = pin(u);
            let last = p.pop().unwrap();
            p.push(if last == '9' { '8' } else { '9' });
            Configs::new().with(PinConfig::new(p))
        })
        .with_secrets(|u| vec![pin(u)])
        .with_tamper_samples(24);
    let code = Suite::new().provider(Arc::new(provider), harness).run();
    drop(realms);
    drop(dir);
    code
}
