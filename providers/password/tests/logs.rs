//! Logs and errors of the provider never contain the password. Alone in
//! its own test binary: tracing caches each callsite's interest
//! process-wide, so a thread-scoped subscriber can miss events while other
//! tests run concurrently.

use std::sync::{Arc, Mutex};

use share_backup_core::{BackupId, BackupProvider, BackupProviderExt, BackupShare, Configs, Context, UserId};
use share_backup_password::{KdfParams, PasswordConfig, PasswordProvider};

fn provider() -> PasswordProvider {
    PasswordProvider::builder().kdf_params(KdfParams::new(64, 1, 1).unwrap()).build().unwrap()
}

fn ctx_for(user: &str, password: Option<&str>) -> Context {
    let mut configs = Configs::new();
    if let Some(p) = password {
        configs.insert(PasswordConfig::new(p));
    }
    Context::new(UserId::new(user).unwrap(), BackupId::generate().unwrap()).with_configs(configs)
}

fn share() -> BackupShare {
    BackupShare::new(b"client key share bytes".to_vec()).unwrap()
}

#[test]
fn errors_and_logs_of_a_failed_recovery_never_contain_the_password() {
    let log = Arc::new(Mutex::new(String::new()));
    let subscriber = capture::Capture(log.clone());
    let secret = "Tr1cky-passphrase-that-must-not-leak";
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let p = provider();
            let ctx = ctx_for("alice", Some(secret));
            let (env, _) = p.seal_share(&share(), &ctx).await.unwrap();
            let e = p.open_envelope(&env, &ctx_for("alice", Some("Tr1cky-wrong"))).await.unwrap_err();
            let e2 = p.seal_key(&ctx_for("alice", Some("Tr1cky"))).await.unwrap_err();
            let all = format!("{e} {e:?} {e:#} {e2} {e2:?} {e2:#}");
            assert!(!all.contains("Tr1cky"), "{all}");
        });
    });
    let log = log.lock().unwrap();
    assert!(log.contains("password.seal_key") && log.contains("password.open_key"), "{log}");
    assert!(!log.contains("Tr1cky"), "{log}");
}

mod capture {
    //! A tracing subscriber that writes every span name, event and field into a string.
    use std::fmt::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    pub struct Capture(pub Arc<Mutex<String>>);

    struct V<'a>(&'a mut String);
    impl Visit for V<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }

    static NEXT: AtomicU64 = AtomicU64::new(1);

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut s = self.0.lock().unwrap();
            let _ = write!(s, "\nspan {}", span.metadata().name());
            span.record(&mut V(&mut s));
            Id::from_u64(NEXT.fetch_add(1, Ordering::Relaxed))
        }
        fn record(&self, _: &Id, values: &Record<'_>) {
            values.record(&mut V(&mut self.0.lock().unwrap()));
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut s = self.0.lock().unwrap();
            s.push_str("\nevent");
            event.record(&mut V(&mut s));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}
