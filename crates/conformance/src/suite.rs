//! Running the cases: all at once from a `#[tokio::test]`, or as one named
//! libtest trial each.

use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Completion, Conclusion, Failed, Trial};
use share_backup_core::BackupProvider;
use share_backup_orchestrator::CipherTextStore;
use tokio::runtime::Runtime;

use crate::harness::Harness;
use crate::outcome::{CaseReport, CaseResult, Failure, Outcome, Report};
use crate::provider::{PROVIDER_CASES, ProviderCase};
use crate::store::{STORE_CASES, StoreCase};

fn panic_message(e: tokio::task::JoinError) -> String {
    if e.is_panic() {
        let p = e.into_panic();
        p.downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic payload".to_owned())
    } else {
        "the case's task was cancelled".to_owned()
    }
}

/// Runs one provider case with the harness's skip list and timeout; a
/// panic inside the case (or the provider) is a failure.
pub async fn run_provider_case(case: &ProviderCase, provider: Arc<dyn BackupProvider>, harness: Harness) -> CaseResult {
    if let Some(reason) = harness.skip_reason(case.name) {
        return Ok(Outcome::skipped(format!("skipped by the harness: {reason}")));
    }
    let timeout = harness.timeout();
    let task = tokio::spawn(case.run(provider, harness));
    match tokio::time::timeout(timeout, task).await {
        Err(_) => Err(Failure::new(
            "every provider call completes",
            format!("the case did not finish within {} s (a call hangs?)", timeout.as_secs_f64()),
        )),
        Ok(Err(e)) => Err(Failure::new("the provider never panics", format!("panicked: {}", panic_message(e)))),
        Ok(Ok(r)) => r,
    }
}

/// Runs one store case; a panic is a failure, and a case fails as hung
/// after two minutes.
pub async fn run_store_case(case: &StoreCase, store: Arc<dyn CipherTextStore>) -> CaseResult {
    let task = tokio::spawn(case.run(store));
    match tokio::time::timeout(std::time::Duration::from_secs(120), task).await {
        Err(_) => Err(Failure::new("every store call completes", "the case did not finish within 120 s")),
        Ok(Err(e)) => Err(Failure::new("the store never panics", format!("panicked: {}", panic_message(e)))),
        Ok(Ok(r)) => r,
    }
}

/// Runs every provider case, one after the other, and reports them all.
///
/// ```no_run
/// # async fn f(provider: std::sync::Arc<dyn share_backup_core::BackupProvider>) {
/// use share_backup_conformance::{Harness, run_provider_cases};
/// run_provider_cases(provider, Harness::new()).await.assert_passed();
/// # }
/// ```
pub async fn run_provider_cases(provider: Arc<dyn BackupProvider>, harness: Harness) -> Report {
    let mut report = Report::default();
    let subject = provider.method().to_string();
    for case in PROVIDER_CASES {
        let result = run_provider_case(case, provider.clone(), harness.clone()).await;
        report.cases.push(CaseReport { case: case.name, subject: subject.clone(), result });
    }
    report
}

/// Runs every store case against `store`, and reports them all.
pub async fn run_store_cases(store: Arc<dyn CipherTextStore>) -> Report {
    let mut report = Report::default();
    let subject = format!("{store:?}");
    for case in STORE_CASES {
        let result = run_store_case(case, store.clone()).await;
        report.cases.push(CaseReport { case: case.name, subject: subject.clone(), result });
    }
    report
}

enum Subject {
    Provider { label: String, provider: Arc<dyn BackupProvider>, harness: Harness },
    Store { label: String, store: Arc<dyn CipherTextStore> },
}

/// Every case as a named libtest trial (`harness = false` test targets):
/// `conformance::<case>::<subject>`, e.g. `conformance::roundtrip_1b::keydir`,
/// so the usual filters work (`cargo test --test conformance -- roundtrip`).
///
/// Cases that do not apply are reported as ignored, with the reason, and
/// listed again in a summary after the run; so are the checks that did not
/// apply inside a case that passed ([`Outcome::PartlySkipped`]: such a
/// trial is reported `ok`, since libtest has no "partly" state).
///
/// The suite owns one multi-threaded tokio runtime that every trial runs
/// on. Each of its threads (workers and blocking pool) sends tracing to the
/// suite's captures, so what a provider logs inside `spawn_blocking` is
/// checked too (see [`crate::leak::Capture::everywhere`]). Build anything that needs a runtime (a test server, an HTTP client
/// with a connection pool) with [`Suite::block_on`], so it lives on the
/// same runtime as the cases.
///
/// ```no_run
/// use std::sync::Arc;
/// use share_backup_conformance::{Harness, Suite};
/// # fn my_provider() -> Arc<dyn share_backup_core::BackupProvider> { unimplemented!() }
///
/// fn main() -> std::process::ExitCode {
///     Suite::new().provider(my_provider(), Harness::new()).run()
/// }
/// ```
pub struct Suite {
    rt: Arc<Runtime>,
    subjects: Vec<Subject>,
}

impl Default for Suite {
    fn default() -> Self {
        Self::new()
    }
}

impl Suite {
    /// A suite with nothing to test yet, and its runtime.
    ///
    /// # Panics
    /// If the operating system refuses to start the runtime's threads.
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("conformance")
            // Every thread of the runtime (workers and the blocking pool)
            // sends its tracing to the suite's captures, also when the
            // process has a global subscriber of its own: a provider's
            // `spawn_blocking` is checked like its own task.
            .on_thread_start(|| std::mem::forget(tracing::dispatcher::set_default(&crate::leak::router())))
            .build()
            .expect("start the conformance suite's tokio runtime");
        Suite { rt: Arc::new(rt), subjects: Vec::new() }
    }

    /// Runs `f` to completion on the suite's runtime (to start servers and
    /// build providers before the cases run).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The suite's runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// Adds every provider case for `provider`, named after its method id.
    pub fn provider(self, provider: Arc<dyn BackupProvider>, harness: Harness) -> Self {
        let label = provider.method().to_string();
        self.provider_named(label, provider, harness)
    }

    /// Adds every provider case for `provider`, named `label` (to test one
    /// provider in several configurations).
    pub fn provider_named(
        mut self,
        label: impl Into<String>,
        provider: Arc<dyn BackupProvider>,
        harness: Harness,
    ) -> Self {
        self.subjects.push(Subject::Provider { label: label.into(), provider, harness });
        self
    }

    /// Adds every store case for `store`, named `label`.
    pub fn store(mut self, label: impl Into<String>, store: Arc<dyn CipherTextStore>) -> Self {
        self.subjects.push(Subject::Store { label: label.into(), store });
        self
    }

    /// The trials, and where skipped cases are written down.
    fn trials(&self, skipped: &Arc<Mutex<Vec<String>>>) -> Vec<Trial> {
        let mut trials = Vec::new();
        let done = |name: String, r: CaseResult, skipped: &Arc<Mutex<Vec<String>>>| match r {
            Ok(Outcome::Passed) => Ok(Completion::Completed),
            Ok(Outcome::PartlySkipped { skipped: checks }) => {
                let mut s = skipped.lock().unwrap_or_else(|e| e.into_inner());
                s.extend(checks.iter().map(|c| format!("{name} (passed; not checked: {c})")));
                Ok(Completion::Completed)
            }
            Ok(Outcome::Skipped { reason }) => {
                skipped.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{name}: {reason}"));
                Ok(Completion::ignored_with(reason))
            }
            Err(f) => Err(Failed::from(f.to_string())),
        };
        for s in &self.subjects {
            match s {
                Subject::Provider { label, provider, harness } => {
                    for case in PROVIDER_CASES {
                        let name = format!("conformance::{}::{label}", case.name);
                        let (rt, p, h, sk, n) =
                            (self.rt.clone(), provider.clone(), harness.clone(), skipped.clone(), name.clone());
                        trials.push(Trial::ignorable_test(name, move || {
                            done(n, rt.block_on(run_provider_case(case, p, h)), &sk)
                        }));
                    }
                }
                Subject::Store { label, store } => {
                    for case in STORE_CASES {
                        let name = format!("conformance::{}::{label}", case.name);
                        let (rt, st, sk, n) = (self.rt.clone(), store.clone(), skipped.clone(), name.clone());
                        trials.push(Trial::ignorable_test(name, move || {
                            done(n, rt.block_on(run_store_case(case, st)), &sk)
                        }));
                    }
                }
            }
        }
        trials
    }

    /// Runs the trials with these libtest arguments and returns the
    /// conclusion, after printing which cases were skipped and why.
    pub fn run_with_args(self, args: &Arguments) -> Conclusion {
        let skipped = Arc::new(Mutex::new(Vec::new()));
        let conclusion = libtest_mimic::run(args, self.trials(&skipped));
        let mut skipped = skipped.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if !skipped.is_empty() && !args.list {
            skipped.sort();
            eprintln!("conformance: {} case(s) or check(s) skipped (not applicable):", skipped.len());
            for s in &skipped {
                eprintln!("    {s}");
            }
        }
        conclusion
    }

    /// Runs the trials with the process's arguments (filters, `--list`,
    /// `--test-threads`, ...) and returns the exit code for `main`.
    pub fn run(self) -> ExitCode {
        let args = Arguments::from_args();
        self.run_with_args(&args).exit_code()
    }
}

impl std::fmt::Debug for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<&str> = self
            .subjects
            .iter()
            .map(|s| match s {
                Subject::Provider { label, .. } | Subject::Store { label, .. } => label.as_str(),
            })
            .collect();
        f.debug_struct("Suite").field("subjects", &labels).finish_non_exhaustive()
    }
}
