//! The quickstart's flow, as a library function so that a test runs it too
//! (`cargo run --example quickstart` calls [`run`]).
//!
//! 1. back up a demo client key share with the password method;
//! 2. the cipher text is stored in a local directory (the integrator's storage);
//! 3. only then is the wallet service told `stored_client_backup_share(true)`;
//! 4. recover the share with the password, and check it is the same;
//! 5. a wrong password is refused with a typed `WrongSecret`.

use std::path::Path;
use std::sync::Arc;

use share_backup::object_store::ObjectCipherTextStore;
use share_backup::orchestrator::{BackupRequest, Orchestrator, RecordingNotifier, RecoverRequest, VerifyRequest};
use share_backup::providers::password::{KdfParams, PasswordConfig, PasswordProvider};
use share_backup::{BackupShare, Error, ErrorKind, ExposeSecret, MethodId, ProgressSink, Registry, Result, UserId};

/// The demo share.
pub const DEMO_SHARE: &[u8] = b"demo client key share: 5a1f...c0de";

fn progress(label: &'static str) -> ProgressSink {
    ProgressSink::new(move |p| println!("    {label} progress: {{status: {}, done: {}}}", p.status, p.done))
}

/// Runs the quickstart with its store in `dir`, printing each step.
///
/// # Errors
/// Any error of the flow, or [`ErrorKind::Internal`] when the recovered
/// share differs from the original or a wrong password opens the backup.
pub async fn run(dir: &Path) -> Result<()> {
    let store = ObjectCipherTextStore::local_dir(dir)?;
    // The wallet service: here an in-memory record of what it was told.
    let wallet = RecordingNotifier::new();
    // Every provider the `share-backup` facade links (its cargo features)...
    let mut registry = Registry::linked()?;
    // ...with the password provider set up by its typed builder. The demo
    // uses the floor for new backups (1 MiB, 1/4 of the default KDF memory)
    // so that it runs in about a second; production keeps
    // `KdfParams::DEFAULT` or `calibrate`s.
    let password_provider = PasswordProvider::builder().kdf_params(KdfParams::new(1 << 15, 3, 1)?).build()?;
    registry.insert(Arc::new(password_provider));
    println!("linked methods: {:?}", registry.method_list().iter().map(MethodId::as_str).collect::<Vec<_>>());

    let orchestrator =
        Orchestrator::builder().registry(registry).store(Arc::new(store)).notifier(Arc::new(wallet.clone())).build()?;

    let user = UserId::new("quickstart-user")?;
    let demo_share = DEMO_SHARE.to_vec();
    let password = "purple otter lantern 73 quickstart";

    println!("\n1. backup with method `password`");
    let receipt = orchestrator
        .backup(
            BackupRequest::new(user.clone(), BackupShare::from_slice(&demo_share)?)
                .with_method(MethodId::PASSWORD)
                .with_config(PasswordConfig::new(password))
                .with_progress(progress("backup")),
        )
        .await?;
    println!("   backup id   {}", receipt.backup_id);
    println!(
        "   cipher text {}... ({} characters)",
        &receipt.envelope[..40.min(receipt.envelope.len())],
        receipt.envelope.len()
    );
    for (step, took) in receipt.timings.iter() {
        println!("   {:<12}{:>9.3} ms", step.as_str(), took.as_secs_f64() * 1e3);
    }

    println!("\n2. cipher text stored in {}", dir.display());
    let methods = orchestrator.methods(&user).await?;
    println!("   the store has a current backup for: {:?}", methods.iter().map(MethodId::as_str).collect::<Vec<_>>());

    println!("\n3. wallet service acknowledged");
    for n in wallet.notifications() {
        println!(
            "   stored_client_backup_share(method: {}, backup: {}, success: {})",
            n.method.portal_name(),
            n.backup_id,
            n.success
        );
    }
    let health = orchestrator.verify(VerifyRequest::new(user.clone(), MethodId::PASSWORD)).await?;
    println!(
        "   health check: envelope of {} bytes for a {}-byte share, key: {:?}",
        health.envelope_len, health.share_len, health.key
    );

    println!("\n4. recover with the password");
    let recovered = orchestrator
        .recover(
            RecoverRequest::new(user.clone())
                .with_method(MethodId::PASSWORD)
                .with_config(PasswordConfig::new(password))
                .with_progress(progress("recover")),
        )
        .await?;
    let same = recovered.share().expose_secret() == demo_share.as_slice();
    println!("   recovered share equals the original: {same}");

    println!("\n5. a wrong password is refused, typed");
    let wrong = orchestrator
        .recover(
            RecoverRequest::new(user).with_method(MethodId::PASSWORD).with_config(PasswordConfig::new("not it at all")),
        )
        .await;
    match wrong {
        Err(e) if e.kind() == &ErrorKind::WrongSecret => println!("   {}: {e}", e.kind()),
        Err(e) => return Err(e),
        Ok(_) => return Err(Error::internal("a wrong password opened the backup")),
    }

    if !same {
        return Err(Error::internal("the recovered share differs from the original"));
    }
    println!("\ndone: store in {}", dir.display());
    Ok(())
}
