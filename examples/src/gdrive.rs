//! The Google Drive flow, as a library function so that a test runs it too
//! (`cargo run --example gdrive` calls [`run`]).
//!
//! No Google account is needed: the run starts the repository's fake Drive
//! v3 server on 127.0.0.1 and points the real Drive provider (the real
//! google-drive3 client) at it. In an app, drop the fake and the
//! `endpoint(...)` line, and pass the access token the app got when the user
//! signed in with the `drive.appdata` scope.
//!
//! 1. back up a demo share **without naming a method**: the default chain
//!    picks `gdrive`; the data key goes to the user's hidden appDataFolder,
//!    the cipher text to the integrator's store;
//! 2. show what reached Drive: one key file, named by a hash (no user id);
//! 3. recover: one Drive request;
//! 4. a token without the `drive.appdata` scope is refused with a typed
//!    answer telling the app which scope to ask the user for again.

use std::path::Path;
use std::sync::Arc;

use share_backup::object_store::ObjectCipherTextStore;
use share_backup::orchestrator::{BackupRequest, Orchestrator, RecordingNotifier, RecoverRequest};
use share_backup::providers::gdrive::{DriveConfig, DriveProvider, needs_regrant};
use share_backup::{BackupShare, Error, ExposeSecret, MethodId, ProgressSink, Registry, Result, UserId};
use share_backup_fake_drive::{DEFAULT_TOKEN, FakeDrive, Scope};

/// The demo share.
pub const DEMO_SHARE: &[u8] = b"demo client key share for Drive: 9b2e...77aa";

/// The user the example backs up.
pub const DEMO_USER: &str = "gdrive-example-user";

fn progress(label: &'static str) -> ProgressSink {
    ProgressSink::new(move |p| println!("    {label} progress: {{status: {}, done: {}}}", p.status, p.done))
}

/// Runs the Drive example with its cipher-text store in `dir`, printing
/// each step; returns the fake Drive so a caller can inspect it.
///
/// # Errors
/// Any error of the flow, or [`share_backup::ErrorKind::Internal`] when the
/// recovered share differs, or the missing-scope token is not refused with
/// a re-grant answer.
pub async fn run(dir: &Path) -> Result<FakeDrive> {
    let drive = FakeDrive::start().await.map_err(|e| Error::internal(format!("start the fake Drive: {e}")))?;
    println!("fake Drive v3 listening on {}", drive.root_url());

    // The linked providers (the facade's features)... with the Drive one
    // aimed at the fake. An app keeps `DriveProvider::builder().build()`.
    let mut registry = Registry::linked()?;
    registry.insert(Arc::new(DriveProvider::builder().endpoint(drive.root_url()).build()?));
    println!("default chain: {:?}", registry.default_chain().iter().map(MethodId::as_str).collect::<Vec<_>>());

    let wallet = RecordingNotifier::new();
    let orchestrator = Orchestrator::builder()
        .registry(registry)
        .store(Arc::new(ObjectCipherTextStore::local_dir(dir)?))
        .notifier(Arc::new(wallet.clone()))
        .build()?;
    let user = UserId::new(DEMO_USER)?;

    println!("\n1. backup with no method given");
    let receipt = orchestrator
        .backup(
            BackupRequest::new(user.clone(), BackupShare::from_slice(DEMO_SHARE)?)
                .with_config(DriveConfig::access_token(DEFAULT_TOKEN))
                .with_progress(progress("backup")),
        )
        .await?;
    println!(
        "   method {} (Portal: {}), backup id {}",
        receipt.method,
        receipt.method.portal_name(),
        receipt.backup_id
    );
    for n in wallet.notifications() {
        println!("   stored_client_backup_share(method: {}, success: {})", n.method.portal_name(), n.success);
    }

    println!("\n2. what reached Drive");
    for r in drive.requests() {
        println!("   {}", r.line());
    }
    for f in drive.files() {
        println!("   key file {:?} in {}, {} bytes", f.name, f.space.as_str(), f.content.len());
    }

    println!("\n3. recover");
    drive.clear_requests();
    let recovered = orchestrator
        .recover(
            RecoverRequest::new(user.clone())
                .with_config(DriveConfig::access_token(DEFAULT_TOKEN))
                .with_progress(progress("recover")),
        )
        .await?;
    let same = recovered.share().expose_secret() == DEMO_SHARE;
    println!("   {} Drive request(s); recovered share equals the original: {same}", drive.request_count());
    if !same {
        return Err(Error::internal("the recovered share differs from the original"));
    }

    println!("\n4. a token without the drive.appdata scope");
    drive.add_token("token-with-drive-file-only", &[Scope::File]);
    let refused = orchestrator
        .recover(RecoverRequest::new(user).with_config(DriveConfig::access_token("token-with-drive-file-only")))
        .await;
    match refused {
        Err(e) => match needs_regrant(&e) {
            Some(r) => println!("   {}: ask the user to grant {} again", e.kind(), r.scope_name()),
            None => return Err(e),
        },
        Ok(_) => return Err(Error::internal("a token without drive.appdata read the key")),
    }
    println!("\ndone: cipher text in {}", dir.display());
    Ok(drive)
}
