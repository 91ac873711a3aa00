//! Prints the JSON an app hands its platform: the creation options for a
//! passkey with PRF (`navigator.credentials.create`, Android's
//! `CreatePublicKeyCredentialRequest`), and the request options of a
//! recovery ceremony with one PRF input per enrolled passkey
//! (`navigator.credentials.get`, `GetPublicKeyCredentialOption`); then backs
//! up and recovers with the software authenticator standing in for the app.
//!
//! `cargo run -p share-backup-passkey --example platform_json`

use std::sync::Arc;

use share_backup_core::{BackupId, BackupProviderExt, BackupShare, Configs, Context, UserId};
use share_backup_passkey::{
    PasskeyConfig, PasskeyHeader, PasskeyProvider, PrfCredential, PrfRequest, Purpose, RegistrationOptions,
    SoftwareAuthenticator,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> share_backup_core::Result<()> {
    let rp = "wallet.example.com";
    let create = RegistrationOptions::new(rp, "Example Wallet", b"opaque-user-handle", "alice", b"server challenge");
    println!("creation options:\n{}", serde_json::to_string_pretty(&create).expect("serializes"));

    let mut auth = SoftwareAuthenticator::new();
    let ids = vec![auth.create_credential()?, auth.create_credential()?];
    let provider = PasskeyProvider::builder().rp_id(rp).build()?;
    let configs = Configs::new().with(PasskeyConfig::new(Arc::new(auth), ids));
    let user = UserId::new("alice")?;
    let share = BackupShare::new(b"client key share".to_vec())?;
    let (env, _) = provider
        .seal_share(&share, &Context::new(user.clone(), BackupId::generate()?).with_configs(configs.clone()))
        .await?;

    let header = PasskeyHeader::parse(env.key_header().as_bytes())?;
    let request = PrfRequest {
        rp_id: header.rp_id.clone(),
        credentials: header
            .entries
            .iter()
            .map(|e| PrfCredential { id: e.credential_id.clone(), input: e.input })
            .collect(),
        purpose: Purpose::Recover,
    };
    println!(
        "recovery request options:\n{}",
        serde_json::to_string_pretty(&request.to_request_options_json(b"any fresh challenge")).expect("serializes")
    );
    provider.open_envelope(&env, &Context::new(user, env.backup_id()).with_configs(configs)).await?;
    println!(
        "recovered the share with {} enrolled passkeys ({} header bytes)",
        header.entries.len(),
        env.key_header().as_bytes().len()
    );
    Ok(())
}
