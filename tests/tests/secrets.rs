//! No secret ever leaves in text: backup, recovery, rotation and failure
//! paths run with tracing at TRACE (every span and event, from every crate,
//! hyper and google-drive3 included) captured, panics caught, and every error
//! formatted with `{}`, `{:#}` and `{:?}`; then the capture is searched for
//! every password, share, data key and access token, raw, hex (both cases)
//! and base64 (standard and URL-safe, padded or not).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use share_backup_core::{
    BackupProvider, BackupShare, Capabilities, Configs, Context, DataKey, Envelope, ErrorKind, ExposeSecret, KeyHeader,
    MethodId, Result, SealedKey, UserId, async_trait,
};
use share_backup_fake_drive::{FakeDrive, Fault as DriveFault, Scope};
use share_backup_gdrive::{DriveConfig, DriveProvider, RetryPolicy as DriveRetry};
use share_backup_orchestrator::testing::{Fault, FaultPlan, FaultyNotifier, FaultyStore};
use share_backup_orchestrator::{
    BackupRequest, CipherTextStore, MemoryStore, Orchestrator, RecordingNotifier, RecoverRequest, RotateRequest,
    VerifyRequest,
};
use share_backup_password::{CostCap, KdfParams, PasswordConfig, PasswordProvider};

/// Everything written as text during the test.
fn capture() -> &'static Mutex<Vec<u8>> {
    static BUF: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    BUF.get_or_init(|| Mutex::new(Vec::new()))
}

fn record(s: impl AsRef<str>) {
    let mut b = capture().lock().unwrap();
    b.extend_from_slice(s.as_ref().as_bytes());
    b.push(b'\n');
}

struct CaptureWriter;
impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        capture().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn install_capture() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_writer(|| CaptureWriter)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(sub).unwrap();
        std::panic::set_hook(Box::new(|info| {
            eprintln!("PANIC: {info}");
            record(format!("PANIC: {info}"));
        }));
    });
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
    #[allow(dead_code)]
    label: &'static str,
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

fn forms(secret: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut v = vec![
        hex::encode(secret),
        hex::encode_upper(secret),
        STANDARD.encode(secret),
        STANDARD_NO_PAD.encode(secret),
        URL_SAFE.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        format!("{secret:?}"),
    ];
    if let Ok(s) = std::str::from_utf8(secret) {
        v.push(s.to_owned());
    }
    v
}

fn assert_absent(what: &str, secret: &[u8]) {
    let text = String::from_utf8_lossy(&capture().lock().unwrap()).into_owned();
    for f in forms(secret) {
        assert!(!text.contains(&f), "{what} appears in the captured output as {f:?}");
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
    install_capture();
    let keys = Arc::new(Mutex::new(Vec::new()));
    let params = KdfParams::new(1 << 10, 1, 1).unwrap();
    let password = PasswordProvider::builder().kdf_params(params).build().unwrap();
    let password: Arc<dyn BackupProvider> =
        Arc::new(KeySpy { inner: Arc::new(password), label: "password", keys: keys.clone() });

    let fake = FakeDrive::start().await.unwrap();
    fake.add_token(TOKEN, Scope::ALL);
    let retry = DriveRetry::new()
        .with_min_delay(std::time::Duration::from_millis(1))
        .with_max_delay(std::time::Duration::from_millis(2));
    let drive = DriveProvider::builder().endpoint(fake.root_url()).retry(retry).build().unwrap();
    let drive: Arc<dyn BackupProvider> =
        Arc::new(KeySpy { inner: Arc::new(drive), label: "gdrive", keys: keys.clone() });

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
        .kdf_params(KdfParams::new(1 << 9, 1, 1).unwrap())
        .cost_cap(CostCap::new(1 << 9, 1 << 14).unwrap())
        .build()
        .unwrap();
    let current = memory.current(&user, &MethodId::PASSWORD).await.unwrap().unwrap();
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
    let text = String::from_utf8_lossy(&capture().lock().unwrap()).into_owned();
    assert!(text.contains("share_backup.backup"), "tracing spans were not captured");
    assert!(text.contains("PANIC"), "panics were not captured");
    assert!(text.contains("wrong_secret") || text.contains("WrongSecret"));

    for (what, s) in [
        ("the password", PASSWORD.as_bytes()),
        ("the new password", NEW_PASSWORD.as_bytes()),
        ("the wrong password", WRONG_PASSWORD.as_bytes()),
        ("the access token", TOKEN.as_bytes()),
    ] {
        assert_absent(what, s);
    }
    for (i, s) in shares.iter().enumerate() {
        assert_absent(&format!("share {i}"), s);
    }
    let keys = keys.lock().unwrap().clone();
    assert!(keys.len() >= 4, "the spy saw {} keys", keys.len());
    for (i, k) in keys.iter().enumerate() {
        assert_absent(&format!("data key {i}"), k);
        assert_absent(&format!("data key {i} (first half)"), &k[..32]);
    }
}
