//! The suite's libtest runner against the reference providers and stores, the
//! orchestrator's `MemoryStore`, and the object-store crate's store on memory
//! and on local files:
//! one named test per case (`cargo test -p share-backup-conformance --test conformance -- roundtrip`).

mod support;

use std::sync::Arc;

use share_backup_conformance::{Harness, Suite};
use share_backup_object_store::ObjectCipherTextStore;
use share_backup_object_store::object_store::local::LocalFileSystem;
use share_backup_object_store::object_store::memory::InMemory;
use share_backup_orchestrator::MemoryStore;
use support::{Flaw, MemKeys, PinFlaw, PinKeys, RefStore, StoreFlaw, pin_harness};

fn main() -> std::process::ExitCode {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let local = LocalFileSystem::new_with_prefix(dir.path()).expect("a local object store");
    let code = Suite::new()
        .provider(MemKeys::shared("memkeys", Flaw::None), Harness::new())
        .provider(PinKeys::shared(PinFlaw::None), pin_harness())
        .store("refstore", RefStore::shared(StoreFlaw::None))
        .store("memory", Arc::new(MemoryStore::new()))
        .store("object-store-memory", Arc::new(ObjectCipherTextStore::new(Arc::new(InMemory::new()))))
        .store("object-store-local", Arc::new(ObjectCipherTextStore::new(Arc::new(local))))
        .run();
    drop(dir);
    code
}
