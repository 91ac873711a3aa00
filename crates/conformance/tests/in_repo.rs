//! The suite against the providers of this repository, so that CI runs it on
//! every one of them: password (small KDF costs and a cost cap near them)
//! and gdrive (the real google-drive3 client against the fake Drive v3
//! server on 127.0.0.1, one token per user).

use std::sync::Arc;
use std::time::Duration;

use share_backup_conformance::{Harness, Suite};
use share_backup_core::{Configs, UserId};
use share_backup_fake_drive::{FakeDrive, Scope};
use share_backup_gdrive::{DriveConfig, DriveProvider, RetryPolicy};
use share_backup_password::{CostCap, KdfParams, PasswordConfig, PasswordProvider};

/// A distinct, policy-abiding password per user (the policy refuses one that contains the user id).
fn password_of(user: &UserId) -> String {
    use sha2::Digest;
    let h = hex::encode(sha2::Sha256::digest(user.as_str()));
    format!("correct horse battery staple {}", &h[..12])
}

fn token_of(user: &UserId) -> String {
    format!("ya29.conformance-{user}")
}

fn main() -> std::process::ExitCode {
    let suite = Suite::new();
    // Small costs, and a cap close to them: the tamper case changes the KDF parameters
    // in the header, and each change under the cap costs a derivation.
    let password = PasswordProvider::builder()
        .kdf_params(KdfParams::new(64, 1, 1).unwrap())
        .cost_cap(CostCap::new(1 << 10, 1 << 20).unwrap())
        .build()
        .unwrap();
    let password_harness = Harness::new()
        .with_configs(|u| Configs::new().with(PasswordConfig::new(password_of(u))))
        .with_wrong_secret(|u| Configs::new().with(PasswordConfig::new(format!("wrong {}", password_of(u)))))
        .with_secrets(|u| vec![password_of(u), format!("wrong {}", password_of(u))]);

    let fake = Arc::new(suite.block_on(FakeDrive::start()).unwrap());
    let retry = RetryPolicy::new()
        .with_max_retries(2)
        .with_min_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(4));
    let drive = DriveProvider::builder().endpoint(fake.root_url()).retry(retry).build().unwrap();
    let f2 = fake.clone();
    let drive_harness = Harness::new()
        .with_configs(move |u| {
            f2.add_token(&token_of(u), Scope::ALL);
            Configs::new().with(DriveConfig::access_token(token_of(u)))
        })
        .with_secrets(|u| vec![token_of(u)])
        .skip(
            "key_scoped_to_user",
            "the fake Drive keeps every token's files in one account; a real Drive answers 404 for \
             another account's file id (lift once the fake has per-token accounts)",
        );
    let code = suite.provider(Arc::new(password), password_harness).provider(Arc::new(drive), drive_harness).run();
    drop(fake);
    code
}
