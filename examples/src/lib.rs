//! Runnable examples of share-backup.
//!
//! - `cargo run --example quickstart`: a password backup of a demo share
//!   into a local directory store, acknowledged to an in-memory wallet
//!   service, then a recovery that checks the share came back unchanged.
//!   No setup, no network, no TTY. Its flow is [`quickstart::run`].
//! - `cargo run --example gdrive`: the default method, Google Drive, against
//!   the repository's fake Drive server on 127.0.0.1 (no Google account):
//!   backup without naming a method, the key file in the appDataFolder, a
//!   one-request recovery, and the typed re-grant answer for a token that
//!   lacks the `drive.appdata` scope. Its flow is [`gdrive::run`].
//! - `cargo run --example guarded-pin`: three realms in-process on 127.0.0.1
//!   (SQLite files), a backup under a 6-digit PIN, wrong guesses counting
//!   down, the right PIN recovering, the lock-out. Its flow is [`guarded_pin::run`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod gdrive;
pub mod guarded_pin;
pub mod quickstart;
