//! The whole conformance suite against the keydir provider, one named test per case:
//! `cargo test -p share-backup-example-keydir --test conformance -- roundtrip`.

use std::sync::Arc;

use share_backup_conformance::{Harness, Suite};
use share_backup_example_keydir::KeyDir;

fn main() -> std::process::ExitCode {
    let dir = tempfile::tempdir().expect("a temporary key directory");
    let code = Suite::new().provider(Arc::new(KeyDir::new(dir.path())), Harness::new()).run();
    drop(dir);
    code
}
