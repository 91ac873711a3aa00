//! The conformance suite's store cases against `ObjectCipherTextStore` on
//! every backend: in memory, a real temporary directory, moto's S3 server
//! and Azurite. The servers are started by `scripts/test-servers.sh`; without
//! them the S3 and Azurite tests say so and skip, and with
//! `SHARE_BACKUP_REQUIRE_SERVERS=1` (CI) they fail instead.
//!
//! Each backend gets a store under its own fresh prefix, and the cases make up
//! fresh user ids, so runs against a persistent server never collide.

mod support;

use std::sync::Arc;

use share_backup_conformance::{STORE_CASES, run_store_cases};
use share_backup_object_store::ObjectCipherTextStore;

async fn conforms(backend: &str) {
    let Some((raw, prefix, _dir)) = support::backend(backend) else { return };
    let store = ObjectCipherTextStore::builder(raw).prefix(&prefix).unwrap().build();
    let report = run_store_cases(Arc::new(store)).await;
    report.assert_passed();
    assert_eq!(report.cases.len(), STORE_CASES.len(), "every store case ran:\n{report}");
    assert_eq!(report.skipped().count(), 0, "no store case is skipped:\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_on_memory_passes_every_store_case() {
    conforms("memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_on_a_local_directory_passes_every_store_case() {
    conforms("local").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_on_moto_s3_passes_every_store_case() {
    conforms("s3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_on_azurite_passes_every_store_case() {
    conforms("azurite").await;
}
