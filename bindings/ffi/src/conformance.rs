//! The framework's conformance suite, run on a provider or a store the
//! app wrote in its own language.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use share_backup_conformance::{Harness, Outcome, Report, run_provider_cases, run_store_cases};
use share_backup_core::{BackupProvider as CoreProvider, Capabilities, Configs, MethodId};
use share_backup_object_store::ObjectCipherTextStore;

use crate::error::ShareBackupError;
use crate::foreign::{BackupProvider, ForeignConfigs, ForeignProvider, KeyValueStore, ProviderCapabilities};
use crate::kv::AppObjectStore;

/// The outcome of one case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CaseOutcome {
    /// Every check held.
    Passed,
    /// Every check that applied held; some did not apply (see `detail`).
    PartlySkipped,
    /// The case does not apply (see `detail`).
    Skipped,
    /// A contract point broke (see `detail`).
    Failed,
}

/// One case of a conformance run.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ConformanceCase {
    /// The case's name (`roundtrip_1b`, `store_commit_race`, ...).
    pub name: String,
    /// What happened.
    pub outcome: CaseOutcome,
    /// The broken contract and the observation, or why it was skipped.
    pub detail: String,
}

/// A conformance run.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ConformanceReport {
    /// True when no case failed.
    pub passed: bool,
    /// Every case, in the order run.
    pub cases: Vec<ConformanceCase>,
}

impl From<Report> for ConformanceReport {
    fn from(r: Report) -> Self {
        let passed = r.passed();
        let cases = r
            .cases
            .into_iter()
            .map(|c| {
                let (outcome, detail) = match c.result {
                    Ok(Outcome::Passed) => (CaseOutcome::Passed, String::new()),
                    Ok(Outcome::PartlySkipped { skipped }) => (CaseOutcome::PartlySkipped, skipped.join("; ")),
                    Ok(Outcome::Skipped { reason }) => (CaseOutcome::Skipped, reason),
                    // An outcome added to the suite after these bindings:
                    // shown as not fully run, never as passed.
                    Ok(other) => (CaseOutcome::PartlySkipped, format!("{other:?}")),
                    Err(f) => (CaseOutcome::Failed, f.to_string()),
                };
                ConformanceCase { name: c.case.to_owned(), outcome, detail }
            })
            .collect();
        ConformanceReport { passed, cases }
    }
}

/// The app's provider wrapped for the framework.
pub(crate) fn foreign_provider(
    method_id: &str,
    capabilities: ProviderCapabilities,
    provider: Arc<dyn BackupProvider>,
    timeout: Option<Duration>,
) -> Result<Arc<dyn CoreProvider>, ShareBackupError> {
    let method = MethodId::new(method_id)?;
    let caps = Capabilities::new()
        .with_needs_user_secret(capabilities.needs_user_secret)
        .with_remote(capabilities.remote)
        .with_deletes(capabilities.deletes)
        .with_probes(capabilities.probes);
    Ok(Arc::new(ForeignProvider { method, capabilities: caps, inner: provider, timeout }))
}

/// Runs every provider case of the conformance suite on an app's provider
/// (registered as `method_id`), giving it `configs` as its string map on
/// every call, and reports them all. The `registration` case (a link-time
/// `register_provider!`) is skipped: an app's provider is registered at
/// run time. `call_timeout_ms` bounds each of the provider's calls
/// (default 30000).
///
/// `wrong_configs` is the string map of a **wrong** user secret (a wrong
/// PIN): required when `capabilities.needs_user_secret` is true, where the
/// suite recovers with it and expects `WRONG_SECRET` (without it the
/// `wrong_secret` case fails and says so). The values of both maps are
/// treated as secrets: the suite checks that none shows in a key header,
/// an error or a log.
///
/// # Errors
/// `InvalidInput` for a malformed method id.
#[uniffi::export(default(call_timeout_ms = None, wrong_configs = None))]
pub async fn run_provider_conformance(
    method_id: String,
    capabilities: ProviderCapabilities,
    provider: Arc<dyn BackupProvider>,
    configs: HashMap<String, String>,
    call_timeout_ms: Option<u64>,
    wrong_configs: Option<HashMap<String, String>>,
) -> Result<ConformanceReport, ShareBackupError> {
    // Released on the caller's thread when this future ends (see api.rs).
    let _on_caller = provider.clone();
    let timeout = Some(call_timeout_ms.map_or(Duration::from_secs(30), Duration::from_millis));
    let p = foreign_provider(&method_id, capabilities, provider, timeout)?;
    let secrets: Vec<String> = configs
        .values()
        .chain(wrong_configs.iter().flat_map(HashMap::values))
        .filter(|v| v.len() >= 4)
        .cloned()
        .collect();
    let per_user = |method_id: String, map: HashMap<String, String>| {
        move |_user: &share_backup_core::UserId| {
            Configs::new().with(ForeignConfigs(HashMap::from([(method_id.clone(), map.clone())])))
        }
    };
    let mut harness = Harness::new()
        .with_config_type::<ForeignConfigs>()
        .with_secrets(move |_user| secrets.clone())
        .with_configs(per_user(method_id.clone(), configs))
        .skip(
            "registration",
            "an app's provider is registered at run time (ShareBackup.register_provider), not linked with register_provider!",
        );
    if let Some(wrong) = wrong_configs {
        harness = harness.with_wrong_secret(per_user(method_id, wrong));
    }
    crate::runtime::spawn(async move { Ok(run_provider_cases(p, harness).await.into()) }).await
}

/// Runs every store case of the conformance suite on the framework's
/// store over an app's key-value store (as `StoreConfig.App` builds it),
/// and reports them all. Give it an empty store.
///
/// # Errors
/// None today; kept for symmetry.
#[uniffi::export(default(call_timeout_ms = None))]
pub async fn run_store_conformance(
    store: Arc<dyn KeyValueStore>,
    call_timeout_ms: Option<u64>,
) -> Result<ConformanceReport, ShareBackupError> {
    let _on_caller = store.clone();
    let timeout = Some(call_timeout_ms.map_or(Duration::from_secs(30), Duration::from_millis));
    crate::runtime::spawn(async move {
        let backend = Arc::new(AppObjectStore::new(store, timeout));
        let store = Arc::new(ObjectCipherTextStore::builder(backend).label("app key-value store").build());
        Ok(run_store_cases(store).await.into())
    })
    .await
}
