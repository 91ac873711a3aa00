//! The conformance suite against the Drive provider, through the real
//! google-drive3 client, on the fake Drive server: one test per case
//! (`cargo test -p share-backup-gdrive --test conformance -- roundtrip`).
//!
//! Each user of the suite signs in with their own token, and the fake gives
//! each token its own Drive, as Google does: the `key_scoped_to_user` case
//! depends on it.

use std::sync::Arc;
use std::time::Duration;

use share_backup_conformance::{Harness, Suite};
use share_backup_core::{Configs, UserId};
use share_backup_fake_drive::{FakeDrive, Scope};
use share_backup_gdrive::{DEFAULT_RETRY, DriveConfig, DriveProvider};

fn token_of(user: &UserId) -> String {
    format!("ya29.conformance-token-for-{user}")
}

fn harness() -> Harness {
    Harness::new()
        .with_configs(|u: &UserId| Configs::new().with(DriveConfig::access_token(token_of(u))))
        .with_config_type::<DriveConfig>()
        .with_debug_value("the provider's builder", DriveProvider::builder().visible_folder("Wallet backup"))
        .with_secrets(|u: &UserId| vec![token_of(u)])
}

fn main() -> std::process::ExitCode {
    let suite = Suite::new();
    let fake = suite.block_on(FakeDrive::start()).expect("the fake Drive starts");
    fake.accept_any_token(Some(Scope::ALL));
    let retry = DEFAULT_RETRY.with_min_delay(Duration::from_millis(1)).with_max_delay(Duration::from_millis(5));
    let appdata = DriveProvider::builder().endpoint(fake.root_url()).retry(retry).build().expect("provider");
    let folder = DriveProvider::builder()
        .endpoint(fake.root_url())
        .visible_folder("Wallet backup")
        .retry(retry)
        .build()
        .expect("provider");
    let code = suite
        .provider_named("appdata", Arc::new(appdata), harness())
        .provider_named("folder", Arc::new(folder), harness())
        .run();
    drop(fake);
    code
}
