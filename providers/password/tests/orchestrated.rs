//! The password provider through the orchestrator's store-then-notify
//! protocol, on its in-memory store and recording notifier.

use std::sync::Arc;

use share_backup_core::{BackupShare, ErrorKind, ExposeSecret, MethodId, UserId};
use share_backup_orchestrator::{
    BackupRequest, MemoryStore, Orchestrator, RecordingNotifier, RecoverRequest, RotateRequest,
};
use share_backup_password::{KdfParams, PasswordConfig, PasswordProvider, Policy, PolicyViolations, Violation};

fn setup(policy: Policy) -> (Orchestrator, Arc<RecordingNotifier>) {
    let provider = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .policy(policy)
        .kdf_params(KdfParams::new(64, 1, 1).unwrap())
        .build();
    let notifier = Arc::new(RecordingNotifier::new());
    let orch = Orchestrator::builder()
        .provider(Arc::new(provider.unwrap()))
        .store(Arc::new(MemoryStore::new()))
        .notifier(notifier.clone())
        .build()
        .unwrap();
    (orch, notifier)
}

fn share() -> BackupShare {
    BackupShare::new(b"mpc client share".to_vec()).unwrap()
}

#[tokio::test]
async fn backup_is_acknowledged_and_recovers_with_the_password_only() {
    let (orch, notifier) = setup(Policy::password());
    let user = UserId::new("user-1").unwrap();
    let receipt = orch
        .backup(
            BackupRequest::new(user.clone(), share())
                .with_method(MethodId::PASSWORD)
                .with_config(PasswordConfig::new("plinth orbit saffron glacier")),
        )
        .await
        .unwrap();
    assert_eq!(notifier.acknowledged(&user, &MethodId::PASSWORD), Some(receipt.backup_id));
    assert!(!receipt.envelope.contains("saffron"));

    let ok = orch
        .recover(
            RecoverRequest::new(user.clone())
                .with_method(MethodId::PASSWORD)
                .with_config(PasswordConfig::new("plinth orbit saffron glacier")),
        )
        .await
        .unwrap();
    assert_eq!(ok.share().expose_secret(), share().expose_secret());

    let wrong = orch
        .recover(
            RecoverRequest::new(user.clone())
                .with_method(MethodId::PASSWORD)
                .with_config(PasswordConfig::new("plinth orbit saffron glacie")),
        )
        .await;
    assert_eq!(wrong.err().unwrap().kind(), &ErrorKind::WrongSecret);
    let none = orch.recover(RecoverRequest::new(user).with_method(MethodId::PASSWORD)).await;
    assert_eq!(none.err().unwrap().kind(), &ErrorKind::InvalidInput);
}

#[tokio::test]
async fn a_violating_password_is_refused_and_acknowledged_as_failed() {
    let (orch, notifier) = setup(Policy::pin());
    let user = UserId::new("user-2").unwrap();
    let e = orch
        .backup(
            BackupRequest::new(user.clone(), share())
                .with_method(MethodId::PASSWORD)
                .with_config(PasswordConfig::new("123456")),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::PolicyViolation);
    // The typed violations stay reachable through the source chain.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut v = None;
    while let Some(c) = cause {
        if let Some(found) = c.downcast_ref::<PolicyViolations>() {
            v = Some(found);
            break;
        }
        cause = c.source();
    }
    assert!(v.is_some_and(|v| v.violations().contains(&Violation::Sequential)), "{e:?}");
    assert_eq!(notifier.acknowledged(&user, &MethodId::PASSWORD), None);
    let told = notifier.notifications();
    assert!(told.iter().all(|n| !n.success), "{told:?}");
    assert!(told.iter().any(|n| n.user == user && n.method == MethodId::PASSWORD), "{told:?}");
}

#[tokio::test]
async fn rotation_moves_the_backup_to_the_new_password() {
    let (orch, _) = setup(Policy::password());
    let user = UserId::new("user-3").unwrap();
    let old = || PasswordConfig::new("plinth orbit saffron glacier");
    let new = || PasswordConfig::new("violet tractor under the bridge");
    orch.backup(BackupRequest::new(user.clone(), share()).with_method(MethodId::PASSWORD).with_config(old()))
        .await
        .unwrap();
    orch.rotate(RotateRequest::new(user.clone(), MethodId::PASSWORD).with_config(old()).with_new_config(new()))
        .await
        .unwrap();
    let rec = |c: PasswordConfig| RecoverRequest::new(user.clone()).with_method(MethodId::PASSWORD).with_config(c);
    assert_eq!(orch.recover(rec(new())).await.unwrap().share().expose_secret(), share().expose_secret());
    assert_eq!(orch.recover(rec(old())).await.err().unwrap().kind(), &ErrorKind::WrongSecret);
}
