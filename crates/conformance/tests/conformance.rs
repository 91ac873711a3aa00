//! The suite's libtest runner against the reference providers and store:
//! one named test per case (`cargo test -p share-backup-conformance --test conformance -- roundtrip`).

mod support;

use std::sync::Arc;

use share_backup_conformance::{Harness, Suite};
use share_backup_orchestrator::MemoryStore;
use support::{Flaw, MemKeys, PinFlaw, PinKeys, RefStore, StoreFlaw, pin_harness};

fn main() -> std::process::ExitCode {
    Suite::new()
        .provider(MemKeys::shared("memkeys", Flaw::None), Harness::new())
        .provider(PinKeys::shared(PinFlaw::None), pin_harness())
        .store("refstore", RefStore::shared(StoreFlaw::None))
        .store("memory", Arc::new(MemoryStore::new()))
        .run()
}
