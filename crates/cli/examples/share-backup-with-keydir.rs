//! The `share-backup` tool with one more provider linked in: the template
//! third-party provider `share-backup-example-keydir` (method `keydir`).
//!
//! This is all a binary needs to ship the tool with its own providers: name
//! each provider crate so rustc links it, and call `share_backup_cli::main`.
//! `share-backup providers` then lists the provider, and its settings are
//! read from `[providers.keydir]` and `SHARE_BACKUP_KEYDIR_<KEY>` like any other.
//!
//! ```sh
//! cargo run -p share-backup-cli --example share-backup-with-keydir -- providers
//! ```
#![forbid(unsafe_code)]

use share_backup_example_keydir as _;

fn main() -> std::process::ExitCode {
    share_backup_cli::main()
}
