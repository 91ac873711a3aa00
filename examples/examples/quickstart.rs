//! The whole flow of share-backup in one run, with no setup and no network:
//! a password backup of a demo share into a local directory store,
//! acknowledged to an in-memory wallet service, then a recovery that checks
//! the share came back unchanged. See `share_backup_examples::quickstart`.
//!
//! Run it with `cargo run --example quickstart` (add `-- <dir>` to keep the
//! store in a directory of your choice; by default a fresh one under the
//! system's temporary directory).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let dir = match std::env::args_os().nth(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("share-backup-quickstart-{}", std::process::id())),
    };
    match share_backup_examples::quickstart::run(&dir).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
