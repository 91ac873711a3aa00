#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod store;

pub use store::{CipherTextStore, CurrentVersion, Notifier, VersionInfo, VersionState};
