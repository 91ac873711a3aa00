//! What the orchestrator logs: a span per protocol step with ids and
//! method, and never a share, a key or a config value.

mod common;

use common::*;
use share_backup_conformance::leak::Capture;
use share_backup_core::{ErrorKind, ExposeSecret};
use share_backup_orchestrator::testing::{Fault, MemoryKeyProvider};
use share_backup_orchestrator::{RecoverRequest, RotateRequest, VerifyRequest};

/// A config whose Debug would print its value, to prove configs are never logged.
#[derive(Debug)]
#[allow(dead_code)] // read only by its derived Debug, which must never be called
struct LeakyConfig(&'static str);

#[tokio::test]
async fn spans_name_every_step_with_ids_and_never_carry_a_secret() {
    let capture = Capture::default();
    let _default = tracing::subscriber::set_default(capture.clone());

    let share = b"SECRET-SHARE-7f3a9c";
    let r = rig(fast_retry(2));
    let u = user("log-user");
    let receipt = r.orch.backup(backup_req(&u, share).with_config(LeakyConfig("CONFIG-SECRET-VALUE"))).await.unwrap();
    let back = r.orch.recover(RecoverRequest::new(u.clone())).await.unwrap();
    assert_eq!(back.share().expose_secret(), share);
    r.orch.verify(VerifyRequest::new(u.clone(), MemoryKeyProvider::METHOD)).await.unwrap();
    r.orch.rotate(RotateRequest::new(u.clone(), MemoryKeyProvider::METHOD)).await.unwrap();
    // A failing path too: the store goes down for good at the stage.
    r.plan.reset();
    r.plan.set_from(6, Fault::Fail(ErrorKind::Unavailable));
    r.orch.backup(backup_req(&u, share).with_config(LeakyConfig("CONFIG-SECRET-VALUE"))).await.unwrap_err();

    let text = capture.text();
    for span in ["share_backup.backup", "share_backup.recover", "share_backup.verify", "share_backup.rotate"] {
        assert!(text.contains(span), "no {span} span in:\n{text}");
    }
    for step in
        ["provider.probe", "provider.seal_key", "provider.open_key", "store.stage", "notifier.ack", "store.commit"]
    {
        assert!(text.contains(step), "no {step} span");
    }
    assert!(text.contains(&receipt.backup_id.to_string()), "the backup id is not logged");
    assert!(text.contains("memory-key"), "the method is not logged");
    assert!(text.contains("retrying"), "retries are not logged");
    let hex: String = share.iter().map(|b| format!("{b:02x}")).collect();
    for secret in ["SECRET-SHARE", hex.as_str(), "CONFIG-SECRET-VALUE"] {
        assert!(!text.contains(secret), "{secret} was logged:\n{text}");
    }
}
