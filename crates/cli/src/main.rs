//! The `share-backup` binary: see the crate's README for its commands,
//! configuration and exit codes.
#![forbid(unsafe_code)]

// A provider crate that nothing names is not linked (cargo#9391): name it.
#[cfg(feature = "example-keydir")]
use share_backup_example_keydir as _;

fn main() -> std::process::ExitCode {
    share_backup_cli::main()
}
