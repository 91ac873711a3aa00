//! Backends for the shared store tests and the benchmarks: memory, a real
//! temporary directory, moto's S3 server and Azurite, the last two found
//! through the variables `scripts/test-servers.sh start` prints.
#![allow(dead_code)]

use std::sync::Arc;

use share_backup_object_store::object_store::ObjectStore;
use share_backup_object_store::object_store::aws::AmazonS3Builder;
use share_backup_object_store::object_store::azure::MicrosoftAzureBuilder;
use share_backup_object_store::object_store::local::LocalFileSystem;
use share_backup_object_store::object_store::memory::InMemory;

/// The value of `var`, or `None` after printing why the caller skips;
/// panics instead when `SHARE_BACKUP_REQUIRE_SERVERS=1` (CI).
pub fn server_var(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            if std::env::var("SHARE_BACKUP_REQUIRE_SERVERS").as_deref() == Ok("1") {
                panic!(
                    "{var} is not set but SHARE_BACKUP_REQUIRE_SERVERS=1: run eval \"$(scripts/test-servers.sh start)\""
                );
            }
            eprintln!("skipped: {var} is not set; start servers with: eval \"$(scripts/test-servers.sh start)\"");
            None
        }
    }
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set with the endpoint (scripts/test-servers.sh env)"))
}

/// A prefix no other test run uses.
pub fn unique_prefix(tag: &str) -> String {
    let mut b = [0u8; 8];
    share_backup_core::fill_random(&mut b).unwrap();
    format!("tests/{tag}-{}", hex::encode(b))
}

/// The options for `ObjectCipherTextStore::from_url("s3://bucket/...")` on moto.
pub fn s3_options() -> Option<(String, Vec<(String, String)>)> {
    let endpoint = server_var("SHARE_BACKUP_S3_ENDPOINT")?;
    let opts = vec![
        ("aws_endpoint".to_owned(), endpoint),
        ("aws_allow_http".to_owned(), "true".to_owned()),
        ("aws_region".to_owned(), var("SHARE_BACKUP_S3_REGION")),
        ("aws_access_key_id".to_owned(), var("SHARE_BACKUP_S3_ACCESS_KEY_ID")),
        ("aws_secret_access_key".to_owned(), var("SHARE_BACKUP_S3_SECRET_ACCESS_KEY")),
    ];
    Some((var("SHARE_BACKUP_S3_BUCKET"), opts))
}

/// The options for `ObjectCipherTextStore::from_url("az://container/...")` on Azurite.
pub fn azurite_options() -> Option<(String, Vec<(String, String)>)> {
    let endpoint = server_var("SHARE_BACKUP_AZURITE_ENDPOINT")?;
    let opts = vec![
        ("azure_storage_endpoint".to_owned(), endpoint),
        ("azure_allow_http".to_owned(), "true".to_owned()),
        ("azure_storage_account_name".to_owned(), var("SHARE_BACKUP_AZURITE_ACCOUNT")),
        ("azure_storage_account_key".to_owned(), var("SHARE_BACKUP_AZURITE_KEY")),
    ];
    Some((var("SHARE_BACKUP_AZURITE_CONTAINER"), opts))
}

pub fn s3_backend() -> Option<Arc<dyn ObjectStore>> {
    let endpoint = server_var("SHARE_BACKUP_S3_ENDPOINT")?;
    share_backup_object_store::install_default_crypto_provider();
    let s3 = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_bucket_name(var("SHARE_BACKUP_S3_BUCKET"))
        .with_region(var("SHARE_BACKUP_S3_REGION"))
        .with_access_key_id(var("SHARE_BACKUP_S3_ACCESS_KEY_ID"))
        .with_secret_access_key(var("SHARE_BACKUP_S3_SECRET_ACCESS_KEY"))
        .build()
        .expect("S3 client for moto");
    Some(Arc::new(s3))
}

pub fn azurite_backend() -> Option<Arc<dyn ObjectStore>> {
    let endpoint = server_var("SHARE_BACKUP_AZURITE_ENDPOINT")?;
    share_backup_object_store::install_default_crypto_provider();
    let az = MicrosoftAzureBuilder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_account(var("SHARE_BACKUP_AZURITE_ACCOUNT"))
        .with_access_key(var("SHARE_BACKUP_AZURITE_KEY"))
        .with_container_name(var("SHARE_BACKUP_AZURITE_CONTAINER"))
        .build()
        .expect("Azure client for Azurite");
    Some(Arc::new(az))
}

/// A backend by name (`memory`, `local`, `s3`, `azurite`), the prefix to use
/// in it, and the temporary directory to keep alive for `local`.
pub fn backend(name: &str) -> Option<(Arc<dyn ObjectStore>, String, Option<tempfile::TempDir>)> {
    let prefix = unique_prefix(name);
    match name {
        "memory" => Some((Arc::new(InMemory::new()), prefix, None)),
        "local" => {
            let dir = tempfile::tempdir().unwrap();
            let fs = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
            Some((Arc::new(fs), prefix, Some(dir)))
        }
        "s3" => Some((s3_backend()?, prefix, None)),
        "azurite" => Some((azurite_backend()?, prefix, None)),
        other => panic!("unknown backend {other}"),
    }
}
