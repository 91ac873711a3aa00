//! The provider's behaviour through the core contract, with small KDF costs.

use std::sync::Arc;

use share_backup_core::{
    BackupId, BackupProvider, BackupProviderExt, BackupShare, Configs, Context, ErrorKind, ExposeSecret, KeyHeader,
    ProgressSink, Registry, Settings, Status, UserId,
};
use share_backup_password::{
    CapExceeded, CostCap, KdfParams, METHOD, PasswordConfig, PasswordHeader, PasswordProvider, Policy,
    PolicyViolations, SETTINGS, Violation,
};

const PASSWORD: &str = "correct horse battery staple";

fn small() -> KdfParams {
    KdfParams::new(64, 1, 1).unwrap()
}

fn provider() -> PasswordProvider {
    PasswordProvider::builder().insecure_allow_costs_below_floor().kdf_params(small()).build().unwrap()
}

fn ctx_for(user: &str, password: Option<&str>) -> Context {
    let mut configs = Configs::new();
    if let Some(p) = password {
        configs.insert(PasswordConfig::new(p));
    }
    Context::new(UserId::new(user).unwrap(), BackupId::generate().unwrap()).with_configs(configs)
}

fn share() -> BackupShare {
    BackupShare::new(b"client key share bytes".to_vec()).unwrap()
}

#[tokio::test]
async fn backup_then_recovery_gives_the_share_back() {
    let p = provider();
    let ctx = ctx_for("alice", Some(PASSWORD));
    let (env, key) = p.seal_share(&share(), &ctx).await.unwrap();
    let text = env.encode();
    let parsed: share_backup_core::Envelope = text.parse().unwrap();
    assert_eq!(parsed.method(), &METHOD);
    let back = p.open_envelope(&parsed, &ctx_for("alice", Some(PASSWORD))).await.unwrap();
    assert_eq!(back.expose_secret(), share().expose_secret());
    assert!(p.open_key(env.key_header(), &ctx).await.unwrap() == key);
}

#[tokio::test]
async fn a_wrong_password_is_wrong_secret_from_open_key_and_open_envelope() {
    let p = provider();
    let (env, _) = p.seal_share(&share(), &ctx_for("alice", Some(PASSWORD))).await.unwrap();
    let wrong = ctx_for("alice", Some("correct horse battery stapler"));
    let e = p.open_key(env.key_header(), &wrong).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongSecret);
    assert_eq!(e.method(), Some(&METHOD));
    let e = p.open_envelope(&env, &wrong).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongSecret);
    assert!(!format!("{e} {e:?} {e:#}").contains("stapler"));
}

#[tokio::test]
async fn a_tampered_body_with_the_right_password_fails_integrity_not_wrong_secret() {
    let p = provider();
    let ctx = ctx_for("alice", Some(PASSWORD));
    let (env, _) = p.seal_share(&share(), &ctx).await.unwrap();
    let text = env.encode();
    let (head, body) = text.rsplit_once('.').unwrap();
    let mut b: Vec<u8> = body.bytes().collect();
    b[3] = if b[3] == b'A' { b'B' } else { b'A' };
    let tampered: share_backup_core::Envelope = format!("{head}.{}", String::from_utf8(b).unwrap()).parse().unwrap();
    // The key-check value proves the password right, so the body is what is wrong.
    let key = p.open_key(tampered.key_header(), &ctx).await.unwrap();
    assert_eq!(tampered.open(&key, &ctx.binding()).unwrap_err().kind(), &ErrorKind::Integrity);
}

#[tokio::test]
async fn a_tampered_salt_cost_or_key_check_reads_as_a_wrong_password() {
    // Every header field feeds the derivation (HKDF info) or is compared
    // with it, so a header changed within the cap cannot give the right key.
    let p = provider();
    let ctx = ctx_for("alice", Some(PASSWORD));
    let sealed = p.seal_key(&ctx).await.unwrap();
    let good = sealed.header.as_bytes().to_vec();
    // byte 5: space cost low byte (64 -> 65); 13: salt; last: key-check value.
    for at in [5, 13, good.len() - 1] {
        let mut b = good.clone();
        b[at] ^= 1;
        let e = p.open_key(&KeyHeader::new(b).unwrap(), &ctx).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::WrongSecret, "byte {at}");
    }
    assert!(p.open_key(&sealed.header, &ctx).await.unwrap() == sealed.key);
}

#[tokio::test]
async fn the_envelope_does_not_open_for_another_user() {
    let p = provider();
    let (env, _) = p.seal_share(&share(), &ctx_for("alice", Some(PASSWORD))).await.unwrap();
    let e = p.open_envelope(&env, &ctx_for("mallory", Some(PASSWORD))).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Integrity, "{e:?}");
}

/// The key-check value proves the password right, so an envelope that does
/// not open was moved or altered in the store: `Integrity`, with a message
/// and hint that point at the store, never "wrong password".
#[tokio::test]
async fn a_right_password_on_a_moved_or_altered_envelope_is_integrity_pointing_at_the_store() {
    use share_backup_core::{ClientId, CustodianId};
    let p = provider();
    let ctx = ctx_for("alice", Some(PASSWORD));
    let (env, _) = p.seal_share(&share(), &ctx).await.unwrap();
    let text = env.encode();
    let (head, body) = text.rsplit_once('.').unwrap();
    let mut b: Vec<u8> = body.bytes().collect();
    b[3] = if b[3] == b'A' { b'B' } else { b'A' };
    let altered: share_backup_core::Envelope = format!("{head}.{}", String::from_utf8(b).unwrap()).parse().unwrap();
    let cases = [
        ("moved to another user", env.clone(), ctx_for("mallory", Some(PASSWORD))),
        (
            "another custodian",
            env.clone(),
            ctx_for("alice", Some(PASSWORD)).with_custodian(CustodianId::new("other-custodian").unwrap()),
        ),
        (
            "another client",
            env.clone(),
            ctx_for("alice", Some(PASSWORD)).with_client(ClientId::new("other-client").unwrap()),
        ),
        ("a changed body", altered, ctx_for("alice", Some(PASSWORD))),
    ];
    for (what, env, ctx) in cases {
        let e = p.open_envelope(&env, &ctx).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Integrity, "{what}: {e:?}");
        assert_eq!(e.method(), Some(&METHOD), "{what}");
        assert!(e.message().contains("store"), "{what}: the message points at the store: {e}");
        assert!(!e.message().contains("password does not"), "{what}: {e}");
        assert!(e.hint().contains("store"), "{what}: the hint points at the store: {}", e.hint());
    }
    // A wrong password on the same (moved) envelope is still WrongSecret.
    let e = p.open_envelope(&env, &ctx_for("mallory", Some("not the password at all"))).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongSecret);
}

#[tokio::test]
async fn only_a_key_checked_against_its_key_check_value_is_confirmed() {
    let p = provider();
    let ctx = ctx_for("alice", Some(PASSWORD));
    let sealed = p.seal_key(&ctx).await.unwrap();
    assert!(!sealed.key.is_confirmed(), "a fresh key was checked against nothing");
    assert!(p.open_key(&sealed.header, &ctx).await.unwrap().is_confirmed());
}

#[tokio::test]
async fn every_backup_gets_a_fresh_salt_and_key() {
    let p = provider();
    let ctx = ctx_for("alice", Some(PASSWORD));
    let a = p.seal_key(&ctx).await.unwrap();
    let b = p.seal_key(&ctx).await.unwrap();
    assert_ne!(a.header, b.header);
    assert!(a.key != b.key);
    let ha = PasswordHeader::parse(a.header.as_bytes()).unwrap();
    assert_eq!(ha.salt().len(), 32);
    assert_eq!(ha.params(), &small());
}

#[tokio::test]
async fn a_missing_password_config_is_invalid_input_naming_the_type() {
    let p = provider();
    let header = p.seal_key(&ctx_for("alice", Some(PASSWORD))).await.unwrap().header;
    let ctx = ctx_for("alice", None);
    for e in [
        p.probe(&ctx).await.unwrap_err(),
        p.seal_key(&ctx).await.unwrap_err(),
        p.open_key(&header, &ctx).await.unwrap_err(),
    ] {
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
        assert!(e.to_string().contains("PasswordConfig"), "{e}");
    }
}

#[tokio::test]
async fn a_violating_password_is_refused_on_backup_with_typed_violations() {
    let p = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .policy(Policy::pin())
        .kdf_params(small())
        .build()
        .unwrap();
    let ctx = ctx_for("alice", Some("2468"));
    for e in [p.seal_key(&ctx).await.unwrap_err(), p.probe(&ctx).await.unwrap_err()] {
        assert_eq!(e.kind(), &ErrorKind::PolicyViolation);
        let v = e.source_ref().and_then(|s| s.downcast_ref::<PolicyViolations>()).expect("typed violations");
        assert_eq!(v.violations(), &[Violation::TooShort { min: 6, actual: 4 }, Violation::Sequential]);
        assert!(e.to_string().contains("at least 6"), "{e}");
        assert!(!e.to_string().contains("2468"), "{e}");
    }
    p.probe(&ctx_for("alice", Some("280417"))).await.unwrap();
}

#[tokio::test]
async fn a_password_made_of_the_user_id_is_refused() {
    let p = provider();
    let ctx = ctx_for("alice.wonder@example.com", Some("alice.wonder-2024!"));
    let e = p.seal_key(&ctx).await.unwrap_err();
    let v = e.source_ref().and_then(|s| s.downcast_ref::<PolicyViolations>()).unwrap();
    assert!(v.violations().contains(&Violation::ContainsUserId), "{v:?}");
}

#[tokio::test]
async fn the_policy_applies_on_backup_but_not_on_recovery() {
    let lax = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .policy(Policy::custom())
        .kdf_params(small())
        .build()
        .unwrap();
    let strict = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .policy(Policy::password().with_min_length(40))
        .kdf_params(small())
        .build()
        .unwrap();
    let ctx = ctx_for("alice", Some("blue moon"));
    let (env, _) = lax.seal_share(&share(), &ctx).await.unwrap();
    assert_eq!(strict.seal_key(&ctx).await.unwrap_err().kind(), &ErrorKind::PolicyViolation);
    let back = strict.open_envelope(&env, &ctx).await.unwrap();
    assert_eq!(back.expose_secret(), share().expose_secret());
}

#[tokio::test]
async fn composed_and_decomposed_passwords_open_the_same_backup() {
    let p = provider();
    let composed = "Cr\u{e8}me br\u{fb}l\u{e9}e au caf\u{e9} noir";
    let decomposed = "Cre\u{300}me bru\u{302}le\u{301}e au cafe\u{301} noir";
    assert_ne!(composed, decomposed);
    let (env, _) = p.seal_share(&share(), &ctx_for("alice", Some(composed))).await.unwrap();
    let back = p.open_envelope(&env, &ctx_for("alice", Some(decomposed))).await.unwrap();
    assert_eq!(back.expose_secret(), share().expose_secret());
}

fn hostile_header(space: u32, time: u32, p: u8) -> KeyHeader {
    let mut h = vec![1u8, 1];
    h.extend_from_slice(&space.to_be_bytes());
    h.extend_from_slice(&time.to_be_bytes());
    h.push(p);
    h.push(16);
    h.extend_from_slice(&[0; 16]);
    h.extend_from_slice(&[0; 16]);
    KeyHeader::new(h).unwrap()
}

#[tokio::test]
async fn a_header_asking_for_huge_costs_is_excessive_work_before_any_hashing() {
    let p = provider();
    let (sink, log) = ProgressSink::recording();
    let ctx = ctx_for("alice", Some(PASSWORD)).with_progress(sink);
    // 2^26 blocks × 2^16 rounds × 64 threads: 128 GiB and centuries of hashing if attempted.
    let e = p.open_key(&hostile_header(1 << 26, 1 << 16, 64), &ctx).await.unwrap_err();
    let max = CostCap::DEFAULT.max_work();
    assert_eq!(e.kind(), &ErrorKind::ExcessiveWork { required: (1u64 << 26) * (1 << 16) * 64, max });
    assert_eq!(
        e.source_ref().and_then(|s| s.downcast_ref::<CapExceeded>()),
        Some(&CapExceeded::Work { required_block_rounds: (1u64 << 26) * (1 << 16) * 64, max_block_rounds: max })
    );
    assert!(log.lock().unwrap().is_empty(), "no derivation may start: {:?}", log.lock().unwrap());
    assert_eq!(p.derivations_started(), 0, "the KDF was entered for a header over the work cap");
    // Memory alone over the cap: 2^25 blocks = 1 GiB, one round.
    let p = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .kdf_params(small())
        .cost_cap(CostCap::new(u64::MAX, 256 << 20).unwrap())
        .build()
        .unwrap();
    let e = p.open_key(&hostile_header(1 << 25, 1, 1), &ctx).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::ExcessiveWork { required: 1 << 30, max: 256 << 20 });
    assert_eq!(
        e.source_ref().and_then(|s| s.downcast_ref::<CapExceeded>()),
        Some(&CapExceeded::Memory { required_bytes: 1 << 30, max_bytes: 256 << 20 })
    );
    assert!(log.lock().unwrap().is_empty(), "no derivation may start: {:?}", log.lock().unwrap());
    assert_eq!(p.derivations_started(), 0, "the KDF was entered for a header over the memory cap");
    // The count is live: an honest seal and open each start one derivation.
    let (env, _) = p.seal_share(&share(), &ctx).await.unwrap();
    p.open_envelope(&env, &ctx).await.unwrap();
    assert_eq!(p.derivations_started(), 2);
}

#[tokio::test]
async fn an_envelope_over_the_cap_is_refused_through_open_envelope_without_a_derivation() {
    let maker = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .kdf_params(KdfParams::new(256, 2, 1).unwrap())
        .build()
        .unwrap();
    let ctx = ctx_for("alice", Some(PASSWORD));
    let (env, _) = maker.seal_share(&share(), &ctx).await.unwrap();
    let by_work = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .kdf_params(small())
        .cost_cap(CostCap::new(511, u64::MAX).unwrap())
        .build()
        .unwrap();
    let by_memory = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .kdf_params(small())
        .cost_cap(CostCap::new(u64::MAX, 256 * 32 - 1).unwrap())
        .build()
        .unwrap();
    for (p, kind) in [
        (&by_work, ErrorKind::ExcessiveWork { required: 512, max: 511 }),
        (&by_memory, ErrorKind::ExcessiveWork { required: 256 * 32, max: 256 * 32 - 1 }),
    ] {
        assert_eq!(p.open_envelope(&env, &ctx).await.unwrap_err().kind(), &kind);
        assert_eq!(p.derivations_started(), 0, "{kind}");
    }
}

#[tokio::test]
async fn a_lower_cap_refuses_backups_it_would_have_opened() {
    let maker = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .kdf_params(KdfParams::new(256, 2, 1).unwrap())
        .build()
        .unwrap();
    let ctx = ctx_for("alice", Some(PASSWORD));
    let (env, _) = maker.seal_share(&share(), &ctx).await.unwrap();
    let capped = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .kdf_params(small())
        .cost_cap(CostCap::new(511, 1 << 20).unwrap())
        .build()
        .unwrap();
    let e = capped.open_envelope(&env, &ctx).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::ExcessiveWork { required: 512, max: 511 });
    assert!(e.hint().contains("cap"), "{e}");
}

#[tokio::test]
async fn malformed_headers_are_invalid_envelope_without_a_password_check() {
    let p = provider();
    let ctx = ctx_for("alice", None);
    for bytes in [vec![], vec![1], vec![2; 60], vec![1, 7, 0, 0, 0, 64, 0, 0, 0, 1, 1, 16]] {
        let e = p.open_key(&KeyHeader::new(bytes.clone()).unwrap(), &ctx).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidEnvelope, "{bytes:?}");
    }
}

#[tokio::test]
async fn seal_and_open_report_deriving_key() {
    let p = provider();
    let (sink, log) = ProgressSink::recording();
    let ctx = ctx_for("alice", Some(PASSWORD)).with_progress(sink);
    let sealed = p.seal_key(&ctx).await.unwrap();
    assert_eq!(log.lock().unwrap().iter().map(|e| e.status).collect::<Vec<_>>(), vec![Status::DerivingKey]);
    let (sink, log) = ProgressSink::recording();
    let ctx = ctx.with_progress(sink);
    p.open_key(&sealed.header, &ctx).await.unwrap();
    assert_eq!(log.lock().unwrap().iter().map(|e| e.status).collect::<Vec<_>>(), vec![Status::DerivingKey]);
}

#[tokio::test]
async fn delete_key_succeeds_and_changes_nothing() {
    let p = provider();
    let ctx = ctx_for("alice", Some(PASSWORD));
    let (env, _) = p.seal_share(&share(), &ctx).await.unwrap();
    p.delete_key(env.key_header(), &ctx).await.unwrap();
    p.delete_key(env.key_header(), &ctx).await.unwrap();
    assert!(p.open_envelope(&env, &ctx).await.is_ok());
    let caps = p.capabilities();
    assert!(caps.needs_user_secret && caps.probes && !caps.remote && !caps.deletes);
}

#[tokio::test]
async fn rewrap_moves_the_share_to_a_new_password_and_keeps_the_old_envelope_valid() {
    let p = provider();
    let old = ctx_for("alice", Some(PASSWORD));
    let (env, _) = p.seal_share(&share(), &old).await.unwrap();
    let new = old
        .clone()
        .with_backup_id(BackupId::generate().unwrap())
        .with_configs(Configs::new().with(PasswordConfig::new("violet tractor under the bridge")));
    let env2 = p.rewrap(&env, &old, &new).await.unwrap();
    assert_eq!(env2.backup_id(), new.backup_id());
    assert_eq!(p.open_envelope(&env2, &new).await.unwrap().expose_secret(), share().expose_secret());
    assert_eq!(p.open_envelope(&env2, &old).await.unwrap_err().kind(), &ErrorKind::WrongSecret);
    assert!(p.open_envelope(&env, &old).await.is_ok());
    // A new password that breaks the policy is refused before anything is derived.
    let weak = new.clone().with_configs(Configs::new().with(PasswordConfig::new("password")));
    assert_eq!(p.rewrap(&env, &old, &weak).await.unwrap_err().kind(), &ErrorKind::PolicyViolation);
    // Re-wrapping for another user is refused.
    let other = ctx_for("bob", Some("violet tractor under the bridge"));
    assert_eq!(p.rewrap(&env, &old, &other).await.unwrap_err().kind(), &ErrorKind::InvalidInput);
}

#[tokio::test]
async fn works_without_a_tokio_runtime() {
    let p = provider();
    let ctx = ctx_for("alice", Some(PASSWORD));
    let sealed = std::thread::spawn(move || futures_lite_block_on(async move { p.seal_key(&ctx).await }))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(PasswordHeader::parse(sealed.header.as_bytes()).unwrap().params(), &small());
}

/// A minimal executor (no tokio): polls with a no-op waker. The provider
/// runs the KDF inline when no runtime is present, so one poll finishes it.
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context as TaskContext, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

#[test]
fn debug_output_never_shows_the_password() {
    let secret = "hunter2-but-much-longer-Zq9";
    let cfg = PasswordConfig::new(secret);
    let ctx = ctx_for("alice", Some(secret));
    let p = provider();
    let text = format!("{cfg:?} {:?} {ctx:?} {p:?} {:?}", cfg.clone(), ctx.configs());
    assert!(!text.contains(secret) && !text.contains("hunter2"), "{text}");
    assert!(text.contains("[REDACTED]"));
}

#[test]
fn the_registry_lists_and_builds_the_password_provider() {
    let reg = Registry::linked().unwrap();
    assert!(reg.contains(&METHOD));
    let info = reg.infos().into_iter().find(|i| i.method == METHOD).unwrap();
    assert_eq!(info.crate_name, Some("share-backup-password"));
    assert_eq!(info.settings, SETTINGS);
    let built = reg.resolve(Some(&METHOD)).unwrap();
    assert_eq!(built.method(), &METHOD);
    assert!(built.capabilities().needs_user_secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derivations_beyond_the_limit_wait_their_turn_and_all_finish() {
    let p = Arc::new(
        PasswordProvider::builder()
            .insecure_allow_costs_below_floor()
            .kdf_params(KdfParams::new(256, 1, 1).unwrap())
            .max_concurrent_derivations(1)
            .build()
            .unwrap(),
    );
    assert_eq!(p.max_concurrent_derivations(), 1);
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let p = p.clone();
            tokio::spawn(async move { p.seal_key(&ctx_for(&format!("user-{i}"), Some(PASSWORD))).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let e = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .max_concurrent_derivations(0)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    let s = PasswordProvider::from_settings(&Settings::from_pairs([("max_concurrent", "3")])).unwrap();
    assert_eq!(s.max_concurrent_derivations(), 3);
    assert!(PasswordProvider::default().max_concurrent_derivations() >= 1);
}

#[test]
fn each_documented_setting_example_builds() {
    for spec in SETTINGS {
        let s = Settings::from_pairs([(spec.key, spec.example)]);
        PasswordProvider::from_settings(&s).unwrap_or_else(|e| panic!("{} = {}: {e}", spec.key, spec.example));
    }
}

#[test]
fn settings_set_up_policy_costs_and_cap() {
    let s = Settings::from_pairs([
        ("policy", "pin"),
        ("min_length", "8"),
        ("space_cost", "1024"),
        ("time_cost", "2"),
        ("parallelism", "2"),
        ("max_work", "100000"),
        ("max_memory_mib", "64"),
        ("blocklist", "24682468, 13571357"),
        ("insecure_below_cost_floor", "true"),
    ]);
    let p = PasswordProvider::from_settings(&s).unwrap();
    assert_eq!(p.policy().min_length(), 8);
    assert_eq!(p.policy().max_length(), 12);
    assert_eq!(p.kdf_params(), &KdfParams::new(1024, 2, 2).unwrap());
    assert_eq!(p.cost_cap(), &CostCap::new(100_000, 64 << 20).unwrap());
    assert!(p.policy().check("13571357").contains(&Violation::Common));
    assert!(p.policy().check("1234").contains(&Violation::TooShort { min: 8, actual: 4 }));

    let custom = Settings::from_pairs([
        ("policy", "custom"),
        ("allowed_classes", "lower,digit"),
        ("required_classes", "digit"),
        ("min_score", "none"),
        ("patterns", "false"),
        ("builtin_blocklist", "false"),
    ]);
    let p = PasswordProvider::from_settings(&custom).unwrap();
    assert!(p.policy().check("password1").is_empty());
    assert!(
        p.policy().check("abc").contains(&Violation::MissingClass { class: share_backup_password::CharClass::Digit })
    );
}

#[test]
fn bad_settings_are_refused_with_a_message_naming_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("colour", "blue", "colour"),
        ("policy", "fort-knox", "fort-knox"),
        ("min_length", "ten", "min_length"),
        ("min_score", "5", "score"),
        ("allowed_classes", "lower,emoji", "emoji"),
        ("space_cost", "0", "space_cost"),
        ("space_cost", "8", "space_cost"),
        ("parallelism", "65", "parallelism"),
        ("max_work", "1000", "cap"),
        ("patterns", "maybe", "patterns"),
    ];
    for (k, v, needle) in cases {
        let e = PasswordProvider::from_settings(&Settings::from_pairs([(*k, *v)])).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{k} = {v}");
        assert!(e.to_string().contains(needle), "{k} = {v}: {e}");
    }
    let e = PasswordProvider::from_settings(&Settings::from_pairs([("min_length", "20"), ("max_length", "10")]))
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
}

#[test]
fn costs_below_the_floor_are_refused_with_a_typed_error_unless_a_test_opts_out() {
    use share_backup_password::{BelowCostFloor, MIN_SEAL_SPACE_COST, MIN_SEAL_WORK};
    // 2 KiB, the old minimum: refused.
    for params in [KdfParams::new(64, 1, 1).unwrap(), KdfParams::new(MIN_SEAL_SPACE_COST, 1, 1).unwrap()] {
        let e = PasswordProvider::builder().kdf_params(params).build().unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{params}");
        let floor = e.source_ref().and_then(|s| s.downcast_ref::<BelowCostFloor>()).expect("typed source");
        assert_eq!((floor.space_cost, floor.work), (params.space_cost(), params.work()));
        assert_eq!((floor.min_space_cost, floor.min_work), (MIN_SEAL_SPACE_COST, MIN_SEAL_WORK));
        let e = PasswordProvider::from_settings(&Settings::from_pairs([
            ("space_cost", params.space_cost().to_string()),
            ("time_cost", params.time_cost().to_string()),
        ]))
        .unwrap_err();
        assert!(e.source_ref().and_then(|s| s.downcast_ref::<BelowCostFloor>()).is_some(), "settings too: {e}");
    }
    // The floor itself and the defaults are accepted.
    PasswordProvider::builder().kdf_params(KdfParams::new(MIN_SEAL_SPACE_COST, 3, 1).unwrap()).build().unwrap();
    PasswordProvider::builder().build().unwrap();
    // The explicit test-only way around it.
    PasswordProvider::builder().insecure_allow_costs_below_floor().kdf_params(small()).build().unwrap();
}

#[tokio::test]
async fn an_empty_password_on_recovery_gets_its_own_message() {
    let p = provider();
    let (env, _) = p.seal_share(&share(), &ctx_for("alice", Some(PASSWORD))).await.unwrap();
    let e = p.open_envelope(&env, &ctx_for("alice", Some(""))).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongSecret);
    assert!(e.message().contains("empty"), "{e}");
    assert!(!e.message().contains("characters"), "{e}");
    assert_eq!(p.derivations_started(), 1, "nothing derived for an empty password");
}

#[tokio::test]
async fn an_overlong_password_is_refused_before_normalization() {
    use share_backup_password::{MAX_PASSWORD_INPUT_BYTES, NormalizeError, NormalizedPassword};
    // Disallowed characters that normalization would have found: the length
    // check comes first.
    let long = "\t".repeat(MAX_PASSWORD_INPUT_BYTES + 1);
    assert_eq!(NormalizedPassword::new(&long).unwrap_err(), NormalizeError::TooLong);
    let p = provider();
    let (env, _) = p.seal_share(&share(), &ctx_for("alice", Some(PASSWORD))).await.unwrap();
    let e =
        p.open_envelope(&env, &ctx_for("alice", Some(&"a".repeat(MAX_PASSWORD_INPUT_BYTES + 1)))).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongSecret);
    assert!(e.message().contains("longer"), "{e}");
    let e = p.probe(&ctx_for("alice", Some(&"a".repeat(MAX_PASSWORD_INPUT_BYTES + 1)))).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::PolicyViolation);
}

/// Dropping a recovery while its Balloon run goes on must not free its
/// slot: with `max_concurrent = 1`, cancel-and-retry never runs two
/// derivations at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_retry_never_runs_more_derivations_than_max_concurrent() {
    let p = Arc::new(
        PasswordProvider::builder()
            .kdf_params(KdfParams::new(1 << 17, 3, 1).unwrap())
            .max_concurrent_derivations(1)
            .build()
            .unwrap(),
    );
    let ctx = ctx_for("alice", Some(PASSWORD));
    let sealed = p.seal_key(&ctx).await.unwrap();
    for _ in 0..3 {
        let before = p.derivations_started();
        let (p2, h, c) = (p.clone(), sealed.header.clone(), ctx.clone());
        let task = tokio::spawn(async move { p2.open_key(&h, &c).await });
        while p.derivations_started() == before {
            tokio::task::yield_now().await;
        }
        task.abort(); // the caller gives up while the derivation runs
        let _ = task.await;
    }
    assert!(p.open_key(&sealed.header, &ctx).await.unwrap() == sealed.key);
    assert_eq!(p.peak_concurrent_derivations(), 1, "a dropped call freed its permit while its derivation ran");
}
