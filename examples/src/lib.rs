//! Runnable examples of share-backup.
//!
//! - `cargo run --example quickstart`: a password backup of a demo share
//!   into a local directory store, acknowledged to an in-memory wallet
//!   service, then a recovery that checks the share came back unchanged.
//!   No setup, no network, no TTY. Its flow is [`quickstart::run`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod quickstart;
