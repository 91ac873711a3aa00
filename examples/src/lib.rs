//! Runnable examples of share-backup: see `examples/`.
#![forbid(unsafe_code)]
