//! The `share-backup` binary: see the crate's README for its commands,
//! configuration and exit codes.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    share_backup_cli::main()
}
