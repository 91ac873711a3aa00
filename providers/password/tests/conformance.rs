//! The whole share-backup conformance suite against the password provider,
//! in three configurations (small KDF costs, so the tamper case's hundreds of
//! openings stay fast): `cargo test -p share-backup-password --test conformance`.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use share_backup_conformance::{Harness, Suite};
use share_backup_core::{Configs, UserId};
use share_backup_password::{CostCap, KdfParams, PasswordConfig, PasswordProvider, Policy};

// The provider links through this test's own use of it; name it for the registry case too.
use share_backup_password as _;

/// A per-user digest, so every user has a different secret that does not
/// contain the user id (the policy refuses passwords built on it).
fn tag(user: &UserId, salt: &str) -> u64 {
    let mut h = DefaultHasher::new();
    (salt, user.as_str()).hash(&mut h);
    h.finish()
}

fn passphrase(user: &UserId) -> String {
    format!("violet tractor {:016x} under the bridge", tag(user, "pass"))
}

fn pin(user: &UserId) -> String {
    // 10 digits; a pattern-free PIN per user (pin preset allows up to 12).
    let mut n = tag(user, "pin") % 9_000_000_000 + 1_000_000_000;
    loop {
        let s = n.to_string();
        if Policy::pin().check(&s).is_empty() {
            return s;
        }
        n += 7;
    }
}

fn harness(secret: fn(&UserId) -> String) -> Harness {
    Harness::new()
        .with_configs(move |u| Configs::new().with(PasswordConfig::new(secret(u))))
        .with_config_type::<PasswordConfig>()
        .with_debug_value(
            "the provider's builder",
            PasswordProvider::builder().insecure_allow_costs_below_floor().policy(Policy::pin()),
        )
        .with_wrong_secret(move |u| {
            let mut wrong = secret(u);
            // Same length and classes, one character changed.
            let last = wrong.pop().unwrap();
            wrong.push(if last == '9' {
                '8'
            } else if last.is_ascii_digit() {
                '9'
            } else {
                'x'
            });
            Configs::new().with(PasswordConfig::new(wrong))
        })
        .with_secrets(move |u| vec![secret(u)])
}

fn provider(policy: Policy, params: KdfParams) -> PasswordProvider {
    // The cap scales with the costs, as in production (default: 16 × the
    // default work). With the default cap, the tamper case's envelopes whose
    // cost bytes were raised (say time_cost 1 → 65281) would each run a
    // multi-second derivation: bounded, but far too slow for hundreds of cases.
    let cap = CostCap::new(16 * params.work(), 16 * params.memory_bytes()).unwrap();
    PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .policy(policy)
        .kdf_params(params)
        .cost_cap(cap)
        .build()
        .unwrap()
}

fn main() -> std::process::ExitCode {
    let small = |s, t, p| KdfParams::new(s, t, p).unwrap();
    let password = provider(Policy::password(), small(64, 1, 1));
    let pins = provider(Policy::pin(), small(128, 2, 1));
    let parallel = provider(Policy::password(), small(64, 1, 3));
    Suite::new()
        .provider_named("password", Arc::new(password), harness(passphrase))
        .provider_named("password-pin", Arc::new(pins), harness(pin))
        .provider_named("password-parallel", Arc::new(parallel), harness(passphrase))
        .run()
}
