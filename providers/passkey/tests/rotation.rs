//! Adding or removing a passkey is a rotation (SPEC.md, "Operations"):
//! through the orchestrator, a backup enrolling {A} is rotated to {A, B}
//! (B alone now opens it), then to {B} (A no longer opens the current
//! backup). On the crate's software authenticator, one per device.

use std::sync::Arc;

use share_backup_core::{BackupShare, Configs, Envelope, ErrorKind, ExposeSecret, UserId};
use share_backup_orchestrator::{
    BackupRequest, MemoryStore, Orchestrator, Receipt, RecordingNotifier, RecoverRequest, RotateRequest,
};
use share_backup_passkey::{
    CredentialId, METHOD, PasskeyConfig, PasskeyHeader, PasskeyProvider, PrfAuthenticator, SoftwareAuthenticator,
};

const RP: &str = "wallet.example.com";
const SECRET_A: [u8; 32] = [0xa1; 32];
const SECRET_B: [u8; 32] = [0xb2; 32];

fn id(byte: u8) -> CredentialId {
    CredentialId::new(vec![byte; 16]).unwrap()
}

/// The app's configs: `auth` answers the prompts, `enroll` is what a new backup enrols.
fn configs(auth: SoftwareAuthenticator, enroll: &[&CredentialId]) -> Configs {
    let auth: Arc<dyn PrfAuthenticator> = Arc::new(auth);
    Configs::new().with(PasskeyConfig::new(auth, enroll.iter().map(|i| (*i).clone()).collect()))
}

/// The credential ids a receipt's envelope enrols, in header order.
fn enrolled(receipt: &Receipt) -> Vec<CredentialId> {
    let env = Envelope::parse(&receipt.envelope).unwrap();
    PasskeyHeader::parse(env.key_header().as_bytes()).unwrap().entries.into_iter().map(|e| e.credential_id).collect()
}

fn share() -> BackupShare {
    BackupShare::new(b"client key share, rotated across passkeys".to_vec()).unwrap()
}

#[tokio::test]
async fn adding_a_passkey_then_removing_the_first_is_a_rotation_each_time() {
    let (a, b) = (id(0xaa), id(0xbb));
    // The phone holds passkey A, the security key holds B; enrolling both
    // asks each once (here one authenticator holds both).
    let phone = || SoftwareAuthenticator::new().with_credential(a.clone(), SECRET_A);
    let key = || SoftwareAuthenticator::new().with_credential(b.clone(), SECRET_B);
    let both =
        || SoftwareAuthenticator::new().with_credential(a.clone(), SECRET_A).with_credential(b.clone(), SECRET_B);

    let orch = Orchestrator::builder()
        .provider(Arc::new(PasskeyProvider::builder().rp_id(RP).build().unwrap()))
        .store(Arc::new(MemoryStore::new()))
        .notifier(Arc::new(RecordingNotifier::new()))
        .build()
        .unwrap();
    let user = UserId::new("alice").unwrap();
    let recover =
        |c: Configs| orch.recover(RecoverRequest::new(user.clone()).with_method(METHOD.clone()).with_configs(c));

    // A backup with passkey A only: B does not open it.
    let first = orch
        .backup(
            BackupRequest::new(user.clone(), share()).with_method(METHOD.clone()).with_configs(configs(phone(), &[&a])),
        )
        .await
        .unwrap();
    assert_eq!(enrolled(&first), vec![a.clone()]);
    assert_eq!(recover(configs(key(), &[])).await.unwrap_err().kind(), &ErrorKind::WrongSecret);

    // Adding B: open with A, back up again enrolling A and B.
    let added = orch
        .rotate(
            RotateRequest::new(user.clone(), METHOD.clone())
                .with_configs(configs(phone(), &[]))
                .with_new_configs(configs(both(), &[&a, &b])),
        )
        .await
        .unwrap();
    assert_ne!(added.backup_id, first.backup_id, "a rotation is a new backup");
    assert_eq!(enrolled(&added), vec![a.clone(), b.clone()]);
    let by_b = recover(configs(key(), &[])).await.expect("B opens the backup it was added to");
    assert_eq!(by_b.share().expose_secret(), share().expose_secret());
    assert_eq!(by_b.backup_id(), added.backup_id);
    assert_eq!(recover(configs(phone(), &[])).await.unwrap().share().expose_secret(), share().expose_secret());

    // Removing A: open with B, back up again enrolling B only.
    let removed = orch
        .rotate(
            RotateRequest::new(user.clone(), METHOD.clone())
                .with_configs(configs(key(), &[]))
                .with_new_configs(configs(key(), &[&b])),
        )
        .await
        .unwrap();
    assert_eq!(enrolled(&removed), vec![b.clone()]);
    let e = recover(configs(phone(), &[])).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongSecret, "A no longer opens the current backup: {e}");
    let by_b = recover(configs(key(), &[])).await.expect("B opens the current backup");
    assert_eq!(by_b.backup_id(), removed.backup_id);
    assert_eq!(by_b.share().expose_secret(), share().expose_secret());
}
