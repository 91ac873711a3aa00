//! Logs and errors of the provider never contain the password. Alone in
//! its own test binary: tracing caches each callsite's interest
//! process-wide, so a thread-scoped subscriber can miss events while other
//! tests run concurrently.

use share_backup_conformance::leak::Capture;
use share_backup_core::{BackupId, BackupProvider, BackupProviderExt, BackupShare, Configs, Context, UserId};
use share_backup_password::{KdfParams, PasswordConfig, PasswordProvider};

fn provider() -> PasswordProvider {
    PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .kdf_params(KdfParams::new(64, 1, 1).unwrap())
        .build()
        .unwrap()
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
    let capture = Capture::default();
    let secret = "Tr1cky-passphrase-that-must-not-leak";
    tracing::subscriber::with_default(capture.clone(), || {
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
    let log = capture.text();
    assert!(log.contains("password.seal_key") && log.contains("password.open_key"), "{log}");
    assert!(!log.contains("Tr1cky"), "{log}");
}
