//! What the store logs: operations and hashed user ids, never the user id
//! or the envelope.

use std::sync::Arc;

use share_backup_conformance::leak::Capture;
use share_backup_core::{BackupId, MethodId, UserId};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_object_store::object_store::memory::InMemory;
use share_backup_object_store::testing::{FaultPlan, FaultTiming, FaultyObjectStore};
use share_backup_orchestrator::CipherTextStore;

#[tokio::test(flavor = "current_thread")]
async fn logs_and_errors_carry_a_user_hash_never_the_user_id_or_the_envelope() {
    let logs = Capture::default();
    let _guard = tracing::subscriber::set_default(logs.clone());

    // About a third of the requests fail, so the retry and error paths log too.
    let backend = Arc::new(FaultyObjectStore::new(
        Arc::new(InMemory::new()),
        FaultPlan::Random { probability: 0.3, seed: 7 },
        FaultTiming::Before,
    ));
    let store = ObjectCipherTextStore::new(backend);
    let user = UserId::new("victoria.secret-user@example.org").unwrap();
    let envelope = "sb1.ENVELOPEHEADERBYTES.ENVELOPEBODYBYTES";
    let (a, b) = (BackupId::from_bytes([1; 16]), BackupId::from_bytes([2; 16]));
    let m = MethodId::PASSWORD;
    let mut errors = Vec::new();
    let mut keep = |r: share_backup_core::Result<()>| {
        if let Err(e) = r {
            errors.push(format!("{e} {e:?} {e:#}"));
        }
    };
    keep(store.stage(&(&user).into(), &m, a, envelope).await);
    keep(store.commit(&(&user).into(), &m, a, None).await);
    keep(store.stage(&(&user).into(), &m, b, envelope).await);
    keep(store.commit(&(&user).into(), &m, b, Some(a)).await);
    keep(store.current(&(&user).into(), &m).await.map(|_| ()));
    keep(store.versions(&(&user).into(), &m).await.map(|_| ()));
    keep(store.methods(&(&user).into()).await.map(|_| ()));
    keep(store.remove(&(&user).into(), &m, a).await);
    keep(store.remove(&(&user).into(), &m, b).await);

    let text = logs.text();
    assert!(text.contains("cipher_text_store") && text.contains("user_hash"), "{text}");
    for shown in std::iter::once(&text).chain(errors.iter()) {
        assert!(!shown.contains("victoria") && !shown.contains("example.org"), "{shown}");
        assert!(!shown.contains("ENVELOPE"), "{shown}");
    }
}
