//! The suite must catch broken providers and stores: each deliberate flaw
//! is reported as a failure of the right case, with a message that says
//! which contract point broke, and the correct reference passes.

mod support;

use std::sync::Arc;
use std::time::Duration;

use share_backup_conformance::libtest_mimic::{self, Arguments};
use share_backup_conformance::{
    CaseResult, Harness, Outcome, PROVIDER_CASES, Report, STORE_CASES, Suite, run_provider_case, run_provider_cases,
    run_store_case, run_store_cases,
};
use share_backup_core::{BackupProvider, Configs};
use support::{
    EXAMPLE_API_KEY, Flaw, LeakyToken, MASTER_KEY, MemKeys, PinFlaw, PinKeys, RefStore, StoreFlaw, Token,
    leaky_token_harness, pin_harness, token_harness,
};

fn unregistered() -> Harness {
    Harness::new().skip("registration", "test double, not registered")
}

async fn case(name: &str, p: Arc<dyn BackupProvider>, h: Harness) -> CaseResult {
    let c = PROVIDER_CASES.iter().find(|c| c.name == name).expect("a case of that name");
    run_provider_case(c, p, h).await
}

#[track_caller]
fn assert_fails(r: CaseResult, needles: &[&str]) {
    let f = match r {
        Ok(o) => panic!("the case passed ({o:?}) but must fail"),
        Err(f) => f,
    };
    let text = f.to_string();
    for n in needles {
        assert!(text.contains(n), "failure message lacks {n:?}:\n{text}");
    }
}

fn failed_cases(r: &Report) -> Vec<&'static str> {
    r.failures().map(|(c, _)| c).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_providers_pass_every_case() {
    run_provider_cases(MemKeys::shared("memkeys", Flaw::None), Harness::new()).await.assert_passed();
    let r = run_provider_cases(PinKeys::shared(PinFlaw::None), pin_harness()).await;
    r.assert_passed();
    assert_eq!(r.skipped().count(), 0, "a provider that needs a secret runs every case:\n{r}");
    let partly: Vec<_> = r.partly_skipped().map(|(c, _)| c).collect();
    assert_eq!(partly, vec!["delete_key"], "only the NotFound half of delete_key is skipped:\n{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_ignores_the_user_fails_key_scoped_to_user_only() {
    let r = run_provider_cases(MemKeys::shared("broken-user", Flaw::IgnoresUser), unregistered()).await;
    assert_eq!(failed_cases(&r), vec!["key_scoped_to_user"], "{r}");
    assert_fails(
        r.get("key_scoped_to_user").unwrap().clone(),
        &["never hands one user's data key to another user", "returned user A's key"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_leaks_its_key_in_debug_fails_no_secret_in_debug_only() {
    let r = run_provider_cases(MemKeys::shared("broken-debug", Flaw::LeaksKeyInDebug), unregistered()).await;
    assert_eq!(failed_cases(&r), vec!["no_secret_in_debug"], "{r}");
    assert_fails(r.get("no_secret_in_debug").unwrap().clone(), &["the provider's Debug", "the data key as"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_whose_open_key_returns_a_wrong_key_fails_the_round_trips() {
    let r = run_provider_cases(MemKeys::shared("broken-key", Flaw::WrongKey), unregistered()).await;
    let failed = failed_cases(&r);
    for c in ["roundtrip_1b", "roundtrip_64kib", "repeated_backups", "tampered_envelope", "concurrency"] {
        assert!(failed.contains(&c), "{c} must fail:\n{r}");
    }
    assert_fails(
        r.get("roundtrip_1b").unwrap().clone(),
        &["open_key gives back exactly the key seal_key produced", "open_key returned a different key than seal_key"],
    );
    assert_fails(r.get("tampered_envelope").unwrap().clone(), &["the untouched envelope recovers (before tampering)"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_provider_whose_open_key_returns_a_wrong_key_is_reported_as_a_wrong_key_not_a_wrong_secret() {
    for size in [1, 64 * 1024] {
        let name = if size == 1 { "roundtrip_1b" } else { "roundtrip_64kib" };
        let r = case(name, PinKeys::shared(PinFlaw::WrongKey), pin_harness()).await;
        let f = r.expect_err("a wrong key must fail the round trip");
        assert_eq!(
            f.observed(),
            "open_key returned a different key than seal_key produced (with the same user, configs and key header)"
        );
        assert!(!f.to_string().contains("wrong_secret") && !f.to_string().contains("secret does not open"), "{f}");
    }
}

#[tokio::test]
async fn a_config_type_with_a_derived_debug_that_shows_the_token_fails_no_secret_in_debug() {
    let r = case("no_secret_in_debug", MemKeys::shared("memkeys", Flaw::None), leaky_token_harness()).await;
    assert_fails(r, &["the Debug of the config value", "LeakyToken", "shows a harness secret in clear"]);
}

#[tokio::test]
async fn the_suites_own_token_type_shows_no_token_in_debug() {
    let r = case("no_secret_in_debug", MemKeys::shared("memkeys", Flaw::None), token_harness()).await;
    assert_eq!(r.unwrap(), Outcome::Passed);
    assert_eq!(format!("{:?}", Token("tok-secret".into())), "Token(..)");
}

#[tokio::test]
async fn a_config_value_of_an_undeclared_type_fails_no_secret_in_debug_with_the_fix() {
    let h = Harness::new().with_configs(|u| Configs::new().with(LeakyToken(format!("t-{u}"))));
    let r = case("no_secret_in_debug", MemKeys::shared("memkeys", Flaw::None), h).await;
    assert_fails(r, &["every per-call config value's Debug is checked", "Harness::with_config_type::<YourConfig>()"]);
}

#[tokio::test]
async fn a_builder_whose_debug_shows_its_secret_fails_no_secret_in_debug() {
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Builder {
        client_secret: String,
    }
    let h = Harness::new()
        .with_debug_value("the provider's builder", Builder { client_secret: "GOCSPX-builder-secret-77".into() })
        .with_secrets(|_| vec!["GOCSPX-builder-secret-77".into()]);
    let r = case("no_secret_in_debug", MemKeys::shared("memkeys", Flaw::None), h).await;
    assert_fails(r, &["the Debug of the provider's builder (Harness::with_debug_value)", "a harness secret in clear"]);
}

#[tokio::test]
async fn a_provider_built_from_its_documented_settings_that_shows_a_setting_fails_no_secret_in_debug() {
    let h = Harness::new().with_secrets(|_| vec![EXAMPLE_API_KEY.to_owned()]);
    let r = case("no_secret_in_debug", MemKeys::shared("settingleak", Flaw::None), h).await;
    assert_fails(r, &["the Debug of the provider built from its documented settings", "a harness secret in clear"]);
}

#[tokio::test]
async fn an_unregistered_provider_passes_no_secret_in_debug_saying_the_built_provider_was_not_checked() {
    let r = case("no_secret_in_debug", MemKeys::shared("not-registered", Flaw::None), Harness::new()).await;
    let Outcome::PartlySkipped { skipped } = r.unwrap() else { panic!("must say what it did not check") };
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].contains("no linked registration of \"not-registered\""), "{skipped:?}");
}

#[tokio::test]
async fn delete_key_on_a_provider_that_does_not_delete_reports_the_not_found_check_as_skipped() {
    let r = case("delete_key", PinKeys::shared(PinFlaw::None), pin_harness()).await;
    let Outcome::PartlySkipped { skipped } = r.unwrap() else { panic!("must say what it did not check") };
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].contains("NotFound") && skipped[0].contains("capabilities: deletes is false"), "{skipped:?}");
}

#[tokio::test]
async fn progress_of_a_failed_backup_runs_by_cancellation_for_a_provider_without_secrets() {
    let r = case("progress", MemKeys::shared("memkeys", Flaw::None), Harness::new()).await;
    assert_eq!(r.unwrap(), Outcome::Passed, "memkeys pends at its first poll, so the cut backup is the failed one");
}

#[tokio::test]
async fn progress_reports_the_failed_backup_half_as_skipped_when_no_backup_can_be_made_to_fail() {
    // A provider that never pends completes its seal at the first poll,
    // so the case cannot cut a backup there; it must pass the rest and say
    // exactly what it did not check.
    let r = case("progress", MemKeys::shared("memkeys", Flaw::Synchronous), Harness::new()).await;
    match r.unwrap() {
        Outcome::PartlySkipped { skipped } => {
            assert_eq!(skipped.len(), 1);
            assert!(
                skipped[0].contains("progress of a failed backup") && skipped[0].contains("first poll"),
                "{skipped:?}"
            );
        }
        other => panic!("a synchronous provider's progress case must say what it skipped: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_cases_can_be_called_directly_from_a_test() {
    use share_backup_conformance::{provider, store};
    let p = MemKeys::shared("memkeys", Flaw::None);
    assert_eq!(provider::roundtrip(&p, &Harness::new(), 1024).await.unwrap(), Outcome::Passed);
    assert_eq!(provider::key_scoped_to_user(&p, &Harness::new()).await.unwrap(), Outcome::Passed);
    let broken = MemKeys::shared("broken-user", Flaw::IgnoresUser);
    assert!(provider::key_scoped_to_user(&broken, &Harness::new()).await.is_err());
    let s = RefStore::shared(StoreFlaw::None);
    assert_eq!(store::store_commit(&s).await.unwrap(), Outcome::Passed);
    assert!(store::store_commit(&RefStore::shared(StoreFlaw::CommitIgnoresExpected)).await.is_err());
}

#[tokio::test]
async fn a_provider_that_overwrites_earlier_keys_fails_repeated_backups() {
    let r = case("repeated_backups", MemKeys::shared("broken-overwrite", Flaw::Overwrites), Harness::new()).await;
    assert_fails(r, &["still recovers after later backups (keys are never overwritten)"]);
}

#[tokio::test]
async fn a_provider_whose_delete_ignores_the_user_fails_key_scoped_to_user() {
    let r = case("key_scoped_to_user", MemKeys::shared("broken-delete-user", Flaw::DeletesAnyUsersKey), Harness::new())
        .await;
    assert_fails(r, &["delete_key in another user's context never deletes this user's key", "not_found"]);
}

#[tokio::test]
async fn a_provider_that_reuses_its_key_fails_repeated_backups() {
    let r = case("repeated_backups", MemKeys::shared("broken-reuse", Flaw::ReusesKey), Harness::new()).await;
    assert_fails(r, &["fresh data key for every backup"]);
}

#[tokio::test]
async fn a_provider_that_reports_done_fails_progress() {
    let r = case("progress", MemKeys::shared("broken-done", Flaw::ReportsDone), Harness::new()).await;
    assert_fails(r, &["a provider never reports done", "done"]);
}

#[tokio::test]
async fn a_provider_that_reports_a_step_twice_fails_progress() {
    let r = case("progress", MemKeys::shared("broken-twice", Flaw::ReportsStepTwice), Harness::new()).await;
    assert_fails(r, &["in order, each once", "1 event(s) went backwards or repeated during seal_share"]);
}

#[tokio::test]
async fn a_provider_that_reports_a_step_of_another_phase_fails_progress() {
    let r = case("progress", MemKeys::shared("broken-step", Flaw::ReportsForeignStep), Harness::new()).await;
    assert_fails(r, &["seal_key reports only sealing steps", "decrypting"]);
}

#[tokio::test]
async fn a_provider_that_panics_on_a_short_header_fails_tampered_envelope() {
    let r = case("tampered_envelope", MemKeys::shared("broken-panic", Flaw::PanicsOnShortHeader), Harness::new()).await;
    assert_fails(r, &["never panics", "panicked"]);
}

#[tokio::test]
async fn a_provider_that_calls_a_changed_header_retryable_fails_tampered_envelope() {
    let r =
        case("tampered_envelope", MemKeys::shared("broken-retry", Flaw::RetryableOnBadHeader), Harness::new()).await;
    assert_fails(r, &["typed, final error", "unavailable", "retryable"]);
}

#[tokio::test]
async fn a_provider_that_keeps_deleted_keys_fails_delete_key() {
    let r = case("delete_key", MemKeys::shared("broken-delete", Flaw::KeepsDeletedKeys), Harness::new()).await;
    assert_fails(r, &["no longer recovers", "still returned the share"]);
}

#[tokio::test]
async fn a_provider_that_hangs_fails_with_a_timeout() {
    let h = Harness::new().with_timeout(Duration::from_millis(300));
    let r = case("roundtrip_1b", MemKeys::shared("broken-hang", Flaw::Hangs), h).await;
    assert_fails(r, &["every provider call completes", "did not finish within 0.3 s"]);
}

#[tokio::test]
async fn a_provider_that_logs_the_secret_fails_no_secret_in_debug() {
    let r = case("no_secret_in_debug", PinKeys::shared(PinFlaw::LogsPin), pin_harness()).await;
    assert_fails(
        r,
        &["the tracing event of target `broken::support` (DEBUG), field `pin`, shows a harness secret in clear"],
    );
}

#[tokio::test]
async fn a_provider_that_panics_without_its_token_fails_missing_config() {
    let r = case("missing_config", MemKeys::shared("broken-token", Flaw::PanicsWithoutToken), token_harness()).await;
    assert_fails(r, &["never panics", "no token"]);
}

#[tokio::test]
async fn a_provider_that_needs_a_token_passes_missing_config_when_it_refuses_cleanly() {
    let r = case("missing_config", MemKeys::shared("memkeys", Flaw::None), token_harness()).await;
    assert_eq!(r.unwrap(), Outcome::Passed);
}

#[tokio::test]
async fn a_provider_that_emits_no_tracing_fails_traced() {
    let r = case("traced", MemKeys::shared("broken-silent", Flaw::Silent), Harness::new()).await;
    // Not "it emitted nothing": the capture also hears other tests' threads.
    assert_fails(r, &["seal_key emits a tracing span or event naming the backup id"]);
}

#[tokio::test]
async fn a_provider_that_defaults_a_missing_secret_fails_missing_config() {
    let r = case("missing_config", PinKeys::shared(PinFlaw::EmptyPinDefault), pin_harness()).await;
    assert_fails(r, &["a missing per-call secret is an InvalidInput error", "seal_key without configs succeeded"]);
}

#[tokio::test]
async fn a_provider_whose_key_ignores_the_secret_fails_wrong_secret() {
    let r = case("wrong_secret", PinKeys::shared(PinFlaw::IgnoresPin), pin_harness()).await;
    assert_fails(r, &["a wrong secret never recovers the share"]);
}

#[tokio::test]
async fn a_secret_provider_without_wrong_secret_configs_is_a_harness_failure() {
    let h = pin_harness();
    let bare = Harness::new().with_configs(move |u| h.configs(u));
    let r = case("wrong_secret", PinKeys::shared(PinFlaw::None), bare).await;
    assert_fails(r, &["Harness::with_wrong_secret"]);
}

#[tokio::test]
async fn an_unregistered_provider_fails_registration_with_the_linking_hint() {
    let r = case("registration", MemKeys::shared("not-registered", Flaw::None), Harness::new()).await;
    assert_fails(r, &["register_provider!", "use the_provider_crate as _;"]);
}

#[tokio::test]
async fn a_harness_skip_is_reported_with_its_reason() {
    let r =
        case("cancellation", MemKeys::shared("memkeys", Flaw::None), Harness::new().skip("cancellation", "why not"))
            .await;
    assert_eq!(r.unwrap(), Outcome::skipped("skipped by the harness: why not"));
}

#[tokio::test]
async fn capabilities_gate_the_secret_cases_with_a_reason() {
    let r = run_provider_cases(MemKeys::shared("memkeys", Flaw::None), Harness::new()).await;
    let skipped: Vec<_> = r.skipped().collect();
    assert_eq!(
        skipped,
        vec![
            ("wrong_secret", "capabilities: needs_user_secret is false"),
            ("missing_config", "capabilities: needs_user_secret is false, and the harness passes no per-call configs")
        ]
    );
    let text = r.to_string();
    assert!(text.contains("skipped wrong_secret [memkeys]: capabilities"), "{text}");
    assert!(text.ends_with(&format!("{} passed, 0 failed, 2 skipped", PROVIDER_CASES.len() - 2)), "{text}");
}

async fn store_case(name: &str, flaw: StoreFlaw) -> CaseResult {
    let c = STORE_CASES.iter().find(|c| c.name == name).expect("a store case of that name");
    run_store_case(c, RefStore::shared(flaw)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_store_passes_every_store_case() {
    run_store_cases(RefStore::shared(StoreFlaw::None)).await.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orchestrators_memory_store_passes_every_store_case() {
    run_store_cases(Arc::new(share_backup_orchestrator::MemoryStore::new())).await.assert_passed();
}

#[tokio::test]
async fn a_store_whose_stage_overwrites_fails_stage_create_only() {
    assert_fails(store_case("store_stage_create_only", StoreFlaw::StageOverwrites).await, &["create-only"]);
    assert_fails(store_case("store_stage_race", StoreFlaw::StageOverwrites).await, &["exactly one wins"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_whose_commit_ignores_expected_fails_commit_and_race() {
    assert_fails(store_case("store_commit", StoreFlaw::CommitIgnoresExpected).await, &["Conflict", "succeeded"]);
    assert_fails(store_case("store_commit_race", StoreFlaw::CommitIgnoresExpected).await, &["exactly one wins"]);
}

#[tokio::test]
async fn a_store_that_removes_the_current_version_fails_remove() {
    assert_fails(store_case("store_remove", StoreFlaw::RemovesCurrent).await, &["never removes the current version"]);
}

#[tokio::test]
async fn a_store_whose_current_id_disagrees_with_current_fails_commit() {
    assert_fails(store_case("store_commit", StoreFlaw::StaleCurrentId).await, &["current_id agrees with current"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_whose_acknowledgement_records_overwrite_fails_the_acknowledgement_cases() {
    assert_fails(
        store_case("store_acknowledgement", StoreFlaw::OverwritingAcks).await,
        &["another version's acknowledgement over the same version is Conflict"],
    );
    assert_fails(
        store_case("store_acknowledgement_race", StoreFlaw::OverwritingAcks).await,
        &["exactly one is recorded"],
    );
}

#[tokio::test]
async fn a_store_with_naive_keys_fails_user_isolation() {
    assert_fails(store_case("store_user_isolation", StoreFlaw::NaiveKeys).await, &["users never share versions"]);
}

/// Runs the libtest runner with `args`, its output going to a log file, and returns the conclusion and the log.
fn run_suite_logged(suite: Suite, args: &[&str]) -> (libtest_mimic::Conclusion, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.txt");
    let log_arg = format!("--logfile={}", log.display());
    let all = ["conformance", log_arg.as_str()].into_iter().chain(args.iter().copied());
    let c = suite.run_with_args(&Arguments::from_iter(all));
    (c, std::fs::read_to_string(&log).unwrap())
}

fn run_suite(suite: Suite, args: &[&str]) -> libtest_mimic::Conclusion {
    run_suite_logged(suite, args).0
}

#[test]
fn the_libtest_runner_reports_a_broken_provider_as_exactly_its_failed_case() {
    let suite = Suite::new().provider(MemKeys::shared("broken-user", Flaw::IgnoresUser), unregistered());
    let (c, log) = run_suite_logged(suite, &["--test-threads=2"]);
    assert_eq!((c.num_failed, c.num_ignored), (1, 3), "key_scoped_to_user fails; 2 capability skips, registration");
    assert_eq!(c.num_passed as usize, PROVIDER_CASES.len() - 4);
    let line = |name: &str, outcome: &str| log.lines().any(|l| l.contains(name) && l.trim_end().ends_with(outcome));
    assert!(line("conformance::key_scoped_to_user::broken-user", "... FAILED"), "{log}");
    assert!(
        line("conformance::wrong_secret::broken-user", "ignored (capabilities: needs_user_secret is false)"),
        "{log}"
    );
    assert!(log.contains("contract: open_key never hands one user's data key to another user"), "{log}");
    assert!(log.contains("ignored (skipped by the harness: test double, not registered)"), "{log}");
}

#[test]
fn the_libtest_runner_names_cases_so_that_filters_select_them() {
    let suite = Suite::new()
        .provider(MemKeys::shared("memkeys", Flaw::None), Harness::new())
        .store("refstore", RefStore::shared(StoreFlaw::None));
    let c = run_suite(suite, &["conformance::roundtrip", "--quiet"]);
    assert_eq!(
        (c.num_passed, c.num_failed, c.num_filtered_out),
        (4, 0, (PROVIDER_CASES.len() + STORE_CASES.len() - 4) as u64)
    );
    let suite = Suite::new().store("refstore", RefStore::shared(StoreFlaw::None));
    let c = run_suite(suite, &["--exact", "conformance::store_commit::refstore", "--quiet"]);
    assert_eq!((c.num_passed, c.num_failed), (1, 0));
}

#[test]
fn the_libtest_runner_fails_a_broken_store_case() {
    let suite = Suite::new().store("naive", RefStore::shared(StoreFlaw::NaiveKeys));
    let c = run_suite(suite, &["store_user_isolation", "--quiet"]);
    assert_eq!((c.num_passed, c.num_failed), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_logs_its_master_key_inside_spawn_blocking_fails_no_secret_in_debug_naming_the_event() {
    let h = unregistered().with_provider_secret("the master key", MASTER_KEY);
    let r = case("no_secret_in_debug", MemKeys::shared("mk-logs", Flaw::LogsMasterKeyInBlocking), h.clone()).await;
    assert_fails(
        r,
        &[
            "the tracing event of target `memkeys::wrap` (DEBUG), field `master_key`, shows the master key as lower-case hex",
        ],
    );
    // The same provider without the flaw: the blocking part runs, logs nothing secret, passes.
    let r = case("no_secret_in_debug", MemKeys::shared("mk-quiet", Flaw::None), h).await;
    assert!(matches!(r, Ok(Outcome::Passed | Outcome::PartlySkipped { .. })), "{r:?}");
}

#[test]
fn the_libtest_runner_catches_a_master_key_logged_inside_spawn_blocking() {
    let h = unregistered().with_provider_secret("the master key", MASTER_KEY);
    let suite = Suite::new().provider(MemKeys::shared("mk-suite", Flaw::LogsMasterKeyInBlocking), h);
    let c = run_suite(suite, &["no_secret_in_debug"]);
    assert_eq!((c.num_passed, c.num_failed), (0, 1), "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_traces_only_in_a_span_inside_spawn_blocking_passes_traced() {
    let r = case("traced", MemKeys::shared("blocking-span", Flaw::TracesOnlyInBlocking), unregistered()).await;
    assert_eq!(r.unwrap(), Outcome::Passed);
    let r = run_provider_cases(MemKeys::shared("blocking-span", Flaw::TracesOnlyInBlocking), unregistered()).await;
    assert_eq!(failed_cases(&r), Vec::<&str>::new(), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_whose_recovery_is_broken_is_told_so_by_the_cases_around_recovery() {
    for name in ["key_scoped_to_user", "delete_key", "cancellation"] {
        let r = case(name, MemKeys::shared("broken-key", Flaw::WrongKey), unregistered()).await;
        assert_fails(r, &["(precondition, before checking", "recovery itself is broken", "fix the roundtrip cases"]);
    }
}

#[tokio::test]
async fn a_traced_failure_says_which_form_of_the_backup_id_it_looks_for() {
    let r = case("traced", MemKeys::shared("silent", Flaw::Silent), unregistered()).await;
    assert_fails(r, &["32 lower-case hex digits", "backup_id = %ctx.backup_id()"]);
}
