//! No secret ever leaves in text: backup, recovery, rotation and failure
//! paths run with tracing at TRACE (every span and event, from every crate,
//! hyper and google-drive3 included) captured, panics caught, and every error
//! formatted with `{}`, `{:#}` and `{:?}`; then the capture is searched for
//! every password, share, data key and access token with the conformance
//! suite's `leak::Needles`: raw, hex (both cases), base64 (four alphabets),
//! `Debug` byte lists, and every aligned 12-byte window of binary secrets.

use std::sync::{Arc, Mutex, OnceLock};

use share_backup_conformance::leak::{Capture, Needles};
use share_backup_core::{
    BackupProvider, BackupShare, Capabilities, Configs, Context, DataKey, Envelope, ErrorKind, ExposeSecret, KeyHeader,
    MethodId, Result, SealedKey, UserId, async_trait,
};
use share_backup_fake_drive::{FakeDrive, Fault as DriveFault, Scope};
use share_backup_gdrive::{DriveConfig, DriveProvider};
use share_backup_orchestrator::testing::{Fault, FaultPlan, FaultyNotifier, FaultyStore};
use share_backup_orchestrator::{
    BackupRequest, CipherTextStore, MemoryStore, Orchestrator, RecordingNotifier, RecoverRequest, RotateRequest,
    VerifyRequest,
};
use share_backup_password::{CostCap, KdfParams, PasswordConfig, PasswordProvider};

/// Every span and event of every crate, at every level, plus the panic
/// messages and formatted errors the test adds.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let c = Capture::default();
        tracing::subscriber::set_global_default(c.clone()).unwrap();
        let for_panics = c.clone();
        std::panic::set_hook(Box::new(move |info| {
            eprintln!("PANIC: {info}");
            for_panics.push(&format!("PANIC: {info}"));
        }));
        c
    })
}

fn record(s: impl AsRef<str>) {
    capture().push(s.as_ref());
}

/// Formats an error every way a program might, and unwraps it under
/// catch_unwind so the panic message is captured too.
fn record_error(label: &str, e: share_backup_core::Error) {
    record(format!("{label}: {e}"));
    record(format!("{label}: {e:#}"));
    record(format!("{label}: {e:?}"));
    record(format!("{label}: {e:#?}"));
    let r: std::result::Result<(), share_backup_core::Error> = Err(e);
    // An integrator who unwraps the result: the panic message carries `Debug`.
    #[allow(clippy::unnecessary_literal_unwrap)]
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.unwrap()));
}

/// Wraps a provider and remembers every data key it hands out.
#[derive(Debug)]
struct KeySpy {
    inner: Arc<dyn BackupProvider>,
    keys: Arc<Mutex<Vec<[u8; 64]>>>,
}

#[async_trait]
impl BackupProvider for KeySpy {
    fn method(&self) -> &MethodId {
        self.inner.method()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn probe(&self, ctx: &Context) -> Result<()> {
        self.inner.probe(ctx).await
    }
    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey> {
        let s = self.inner.seal_key(ctx).await?;
        self.keys.lock().unwrap().push(*s.key.expose_secret());
        Ok(s)
    }
    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey> {
        let k = self.inner.open_key(header, ctx).await?;
        self.keys.lock().unwrap().push(*k.expose_secret());
        Ok(k)
    }
    async fn delete_key(&self, header: &KeyHeader, ctx: &Context) -> Result<()> {
        self.inner.delete_key(header, ctx).await
    }
}

const PASSWORD: &str = "Correct-Horse-Battery-Staple-7731";
const NEW_PASSWORD: &str = "Another-Long-Passphrase-For-Rotation-4412";
const WRONG_PASSWORD: &str = "Not-The-Right-Passphrase-At-All-5590";
const WEAK_PASSWORD: &str = "123456";
const TOKEN: &str = "ya29.secret-access-token-for-the-leak-test-0f9e8d7c";

fn share_bytes(tag: u8) -> Vec<u8> {
    (0..48u8).map(|i| i.wrapping_mul(37).wrapping_add(tag) | 0x80).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_share_key_or_token_appears_in_logs_errors_or_panics() {
    capture();
    let keys = Arc::new(Mutex::new(Vec::new()));
    let params = KdfParams::new(1 << 10, 1, 1).unwrap();
    let password = PasswordProvider::builder().insecure_allow_costs_below_floor().kdf_params(params).build().unwrap();
    let password: Arc<dyn BackupProvider> = Arc::new(KeySpy { inner: Arc::new(password), keys: keys.clone() });

    let fake = FakeDrive::start().await.unwrap();
    fake.add_token(TOKEN, Scope::ALL);
    let retry = share_backup_gdrive::DEFAULT_RETRY
        .with_min_delay(std::time::Duration::from_millis(1))
        .with_max_delay(std::time::Duration::from_millis(2));
    let drive = DriveProvider::builder().endpoint(fake.root_url()).retry(retry).build().unwrap();
    let drive: Arc<dyn BackupProvider> = Arc::new(KeySpy { inner: Arc::new(drive), keys: keys.clone() });

    let memory = Arc::new(MemoryStore::new());
    let store_plan = FaultPlan::new();
    let notify_plan = FaultPlan::new();
    let store: Arc<dyn CipherTextStore> = Arc::new(FaultyStore::new(memory.clone(), store_plan.clone()));
    let notifier = Arc::new(FaultyNotifier::new(Arc::new(RecordingNotifier::new()), notify_plan.clone()));
    let orch = Orchestrator::builder()
        .provider(password.clone())
        .provider(drive.clone())
        .store(store)
        .notifier(notifier)
        .build()
        .unwrap();
    record(format!("{orch:?} {password:?} {drive:?}"));

    let user = UserId::new("leak-test-user").unwrap();
    let pw = |p: &str| Configs::new().with(PasswordConfig::new(p));
    let tok = || Configs::new().with(DriveConfig::access_token(TOKEN));
    let shares = [share_bytes(1), share_bytes(2), share_bytes(3)];

    // Successful password backup, recovery, verify, rotation.
    let r = orch
        .backup(
            BackupRequest::new(user.clone(), BackupShare::new(shares[0].clone()).unwrap())
                .with_method(MethodId::PASSWORD)
                .with_configs(pw(PASSWORD)),
        )
        .await
        .unwrap();
    record(format!("{r:?}"));
    let rec = orch
        .recover(RecoverRequest::new(user.clone()).with_method(MethodId::PASSWORD).with_configs(pw(PASSWORD)))
        .await
        .unwrap();
    assert_eq!(rec.share().expose_secret(), &shares[0][..]);
    record(format!("{rec:?}"));
    let h = orch.verify(VerifyRequest::new(user.clone(), MethodId::PASSWORD)).await.unwrap();
    record(format!("{h:?}"));
    let rot = orch
        .rotate(
            RotateRequest::new(user.clone(), MethodId::PASSWORD)
                .with_configs(pw(PASSWORD))
                .with_new_configs(pw(NEW_PASSWORD)),
        )
        .await
        .unwrap();
    record(format!("{rot:?}"));

    // Failure paths.
    let mut errors = Vec::new();
    errors.push(
        orch.recover(
            RecoverRequest::new(user.clone()).with_method(MethodId::PASSWORD).with_configs(pw(WRONG_PASSWORD)),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(errors.last().unwrap().kind(), &ErrorKind::WrongSecret);
    errors.push(
        orch.backup(
            BackupRequest::new(user.clone(), BackupShare::new(shares[1].clone()).unwrap())
                .with_method(MethodId::PASSWORD)
                .with_configs(pw(WEAK_PASSWORD)),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(errors.last().unwrap().kind(), &ErrorKind::PolicyViolation);
    errors.push(
        orch.rotate(
            RotateRequest::new(user.clone(), MethodId::PASSWORD)
                .with_configs(pw(WRONG_PASSWORD))
                .with_new_configs(pw(PASSWORD)),
        )
        .await
        .unwrap_err(),
    );
    for (plan, what) in [(&store_plan, "store"), (&notify_plan, "notifier")] {
        plan.set_from(plan.calls() + 1, Fault::Fail(ErrorKind::Unavailable));
        errors.push(
            orch.backup(
                BackupRequest::new(user.clone(), BackupShare::new(shares[1].clone()).unwrap())
                    .with_method(MethodId::PASSWORD)
                    .with_configs(pw(NEW_PASSWORD)),
            )
            .await
            .expect_err(what),
        );
        plan.clear();
    }
    // A capped provider refuses the envelope's costs before hashing.
    let capped = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .kdf_params(KdfParams::new(1 << 9, 1, 1).unwrap())
        .cost_cap(CostCap::new(1 << 9, 1 << 14).unwrap())
        .build()
        .unwrap();
    let current = memory.current(&(&user).into(), &MethodId::PASSWORD).await.unwrap().unwrap();
    let env = Envelope::parse(&current.envelope).unwrap();
    let ctx = Context::new(user.clone(), env.backup_id()).with_configs(pw(NEW_PASSWORD));
    let e = capped.open_key(env.key_header(), &ctx).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::ExcessiveWork { .. }), "{e}");
    errors.push(e);

    // Google Drive: success, then a revoked token, a missing scope, an outage.
    let r = orch
        .backup(
            BackupRequest::new(user.clone(), BackupShare::new(shares[2].clone()).unwrap())
                .with_method(MethodId::GDRIVE)
                .with_configs(tok()),
        )
        .await
        .unwrap();
    record(format!("{r:?}"));
    let rec = orch
        .recover(RecoverRequest::new(user.clone()).with_method(MethodId::GDRIVE).with_configs(tok()))
        .await
        .unwrap();
    assert_eq!(rec.share().expose_secret(), &shares[2][..]);
    for fault in [DriveFault::Unauthorized, DriveFault::InsufficientPermissions, DriveFault::ServiceUnavailable] {
        fake.inject_n(fault, 50);
        errors.push(
            orch.recover(RecoverRequest::new(user.clone()).with_method(MethodId::GDRIVE).with_configs(tok()))
                .await
                .unwrap_err(),
        );
        fake.clear_faults();
    }
    fake.revoke_token(TOKEN);
    errors.push(
        orch.backup(
            BackupRequest::new(user.clone(), BackupShare::new(shares[2].clone()).unwrap())
                .with_method(MethodId::GDRIVE)
                .with_configs(tok()),
        )
        .await
        .unwrap_err(),
    );
    assert!(errors.len() >= 10);
    for (i, e) in errors.into_iter().enumerate() {
        record_error(&format!("error {i}"), e);
    }

    // The capture is real: it holds the spans and the errors.
    let text = capture().text();
    assert!(text.contains("share_backup.backup"), "tracing spans were not captured");
    assert!(text.contains("PANIC"), "panics were not captured");
    assert!(text.contains("wrong_secret") || text.contains("WrongSecret"));

    let mut needles = Needles::new();
    needles.add_text("the password", PASSWORD);
    needles.add_text("the new password", NEW_PASSWORD);
    needles.add_text("the wrong password", WRONG_PASSWORD);
    needles.add_text("the access token", TOKEN);
    for (i, s) in shares.iter().enumerate() {
        needles.add_bytes(&format!("share {i}"), s);
    }
    let keys = keys.lock().unwrap().clone();
    assert!(keys.len() >= 4, "the spy saw {} keys", keys.len());
    for (i, k) in keys.iter().enumerate() {
        needles.add_bytes(&format!("data key {i}"), k);
    }
    // The search is real: a key planted in a copy of the text is found.
    let planted = format!("{text} key={}", hex::encode(&keys[0][8..40]));
    assert!(needles.find(&planted).is_some(), "the needles miss a logged key");
    if let Some(what) = needles.find(&text) {
        panic!("{what} appears in the captured output");
    }
}
