//! The whole conformance suite against the passkey provider, driven by the
//! crate's software authenticator (CTAP2 hmac-secret behind a WebAuthn
//! client's salt hashing): one passkey per user, derived from the user id.
//! `cargo test -p share-backup-passkey --test conformance -- roundtrip`.

use std::sync::Arc;

use share_backup_conformance::{Harness, Suite};
use share_backup_core::{ClientId, Configs, CustodianId, UserId};
use share_backup_passkey::{PasskeyConfig, PasskeyProvider, SoftwareAuthenticator};

fn seed(user: &UserId) -> Vec<u8> {
    format!("conformance passkey of {user}").into_bytes()
}

fn configs(auth: SoftwareAuthenticator) -> Configs {
    let ids = auth.credential_ids();
    Configs::new().with(PasskeyConfig::new(Arc::new(auth), ids))
}

fn main() -> std::process::ExitCode {
    let provider = PasskeyProvider::builder().rp_id("wallet.example.com").build().expect("the provider builds");
    let harness = Harness::new()
        .with_configs(|u: &UserId| configs(SoftwareAuthenticator::from_seed(&seed(u))))
        .with_config_type::<PasskeyConfig>()
        // The same credential id, another CredRandom: a passkey that is not the one enrolled.
        .with_wrong_secret(|u: &UserId| {
            let right = SoftwareAuthenticator::from_seed(&seed(u)).credential_ids()[0].clone();
            configs(SoftwareAuthenticator::new().with_credential(right, [0x5c; 32]))
        })
        .with_custodian(CustodianId::new("custodian-1").expect("valid"))
        .with_client(ClientId::new("client-1").expect("valid"))
        .with_debug_value("the provider builder", PasskeyProvider::builder().rp_id("wallet.example.com"));
    Suite::new().provider(Arc::new(provider), harness).run()
}
