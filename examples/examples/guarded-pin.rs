//! The guarded-PIN method with no setup: three realms in this process on
//! 127.0.0.1 (SQLite files in a temporary directory), a backup under a
//! 6-digit PIN, two wrong guesses counting down, the right PIN recovering,
//! then the lock-out after the limit. See `share_backup_examples::guarded_pin`.
//!
//! `cargo run --example guarded-pin`

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let dir = std::env::temp_dir().join(format!("share-backup-guarded-pin-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("guarded-pin example: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let r = share_backup_examples::guarded_pin::run(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guarded-pin example failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
