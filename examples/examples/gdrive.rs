//! A Google Drive backup and recovery with no Google account and no setup:
//! the repository's fake Drive v3 server runs on 127.0.0.1 and the real
//! Drive provider talks to it. The backup names no method, so the default
//! chain picks `gdrive`. See `share_backup_examples::gdrive`.
//!
//! Run it with `cargo run --example gdrive` (add `-- <dir>` to keep the
//! cipher-text store in a directory of your choice).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let dir = match std::env::args_os().nth(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("share-backup-gdrive-example-{}", std::process::id())),
    };
    match share_backup_examples::gdrive::run(&dir).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gdrive example failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
