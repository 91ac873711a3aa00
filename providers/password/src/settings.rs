//! The registry's string settings.

use share_backup_core::{Error, Result, SettingSpec, Settings};

use crate::kdf::{CostCap, KdfParams};
use crate::policy::{Blocklist, CharClasses, Policy, Preset};
use crate::{PasswordProvider, PasswordProviderBuilder};

/// The settings [`PasswordProvider::from_settings`] accepts. Policy keys
/// other than `policy` adjust the chosen preset; KDF keys not given keep
/// their defaults. With the `test-support` feature (tests only), also
/// `insecure_below_cost_floor`.
pub static SETTINGS: &[SettingSpec] =
    if cfg!(feature = "test-support") { ALL_SETTINGS } else { ALL_SETTINGS.split_at(ALL_SETTINGS.len() - 1).0 };

/// Every setting; the last only with the `test-support` feature.
static ALL_SETTINGS: &[SettingSpec] = &[
    SettingSpec::new("policy", "requirements preset: password, pin, passcode or custom", "pin"),
    SettingSpec::new("min_length", "minimum length in characters (overrides the preset)", "10"),
    SettingSpec::new("max_length", "maximum length in characters, at most 1024 (overrides the preset)", "128"),
    SettingSpec::new(
        "allowed_classes",
        "characters allowed: all, or a list of lower,upper,digit,symbol,space,other",
        "all",
    ),
    SettingSpec::new(
        "required_classes",
        "classes each password must contain (none by default, as NIST advises)",
        "none",
    ),
    SettingSpec::new("min_score", "minimum zxcvbn strength score 0-4, or none", "3"),
    SettingSpec::new(
        "blocklist",
        "extra refused choices, comma-separated (added to the built-in list)",
        "acme,acmewallet",
    ),
    SettingSpec::new("builtin_blocklist", "use the built-in list of common choices (true or false)", "true"),
    SettingSpec::new(
        "patterns",
        "refuse repeated and sequential choices like 000000 or 123456 (true or false)",
        "true",
    ),
    SettingSpec::new(
        "space_cost",
        "KDF blocks of 32 bytes per thread for new backups (default 131072 = 4 MiB)",
        "65536",
    ),
    SettingSpec::new("time_cost", "KDF mixing rounds for new backups (default 3)", "3"),
    SettingSpec::new("parallelism", "KDF threads for new backups, 1-64 (default 1)", "1"),
    SettingSpec::new("max_work", "recovery cap: most space x time x parallelism an envelope may ask for", "6291456"),
    SettingSpec::new("max_memory_mib", "recovery cap: most KDF memory an envelope may ask for, in MiB", "256"),
    SettingSpec::new("max_concurrent", "most key derivations at once (default: the number of CPUs)", "2"),
    SettingSpec::new(
        "insecure_below_cost_floor",
        "TESTS ONLY (test-support feature): accept KDF costs below the floor for new backups (true or false)",
        "false",
    ),
];

fn keys() -> Vec<&'static str> {
    SETTINGS.iter().map(|s| s.key).collect()
}

pub(crate) fn build(settings: &Settings) -> Result<PasswordProvider> {
    settings.deny_unknown(&keys())?;
    let preset: Preset = settings.parse("policy")?.unwrap_or(Preset::Password);
    let mut policy = Policy::from_preset(preset);
    if let Some(v) = settings.parse::<usize>("min_length")? {
        policy = policy.with_min_length(v);
    }
    if let Some(v) = settings.parse::<usize>("max_length")? {
        policy = policy.with_max_length(v);
    }
    if let Some(v) = settings.get("allowed_classes") {
        policy = policy.with_allowed(v.parse::<CharClasses>().map_err(|e| setting_error("allowed_classes", e))?);
    }
    if let Some(v) = settings.get("required_classes") {
        policy = policy.with_required(v.parse::<CharClasses>().map_err(|e| setting_error("required_classes", e))?);
    }
    match settings.get("min_score") {
        None => {}
        Some("none") => policy = policy.with_min_score(None),
        Some(_) => policy = policy.with_min_score(settings.parse::<u8>("min_score")?),
    }
    let base = if settings.parse_bool("builtin_blocklist")?.unwrap_or(true) {
        Blocklist::default()
    } else {
        Blocklist::empty()
    };
    let extra: Vec<&str> = settings
        .get("blocklist")
        .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    policy = policy.with_blocklist(base.with_entries(extra));
    if let Some(on) = settings.parse_bool("patterns")? {
        policy = policy.with_patterns(on);
    }

    let d = KdfParams::DEFAULT;
    let params = KdfParams::new(
        settings.parse("space_cost")?.unwrap_or(d.space_cost()),
        settings.parse("time_cost")?.unwrap_or(d.time_cost()),
        settings.parse("parallelism")?.unwrap_or(d.parallelism()),
    )?;
    let c = CostCap::DEFAULT;
    let max_memory = match settings.parse::<u64>("max_memory_mib")? {
        Some(mib) => mib.checked_mul(1 << 20).ok_or_else(|| Error::invalid_input("max_memory_mib is too large"))?,
        None => c.max_memory_bytes(),
    };
    let cap = CostCap::new(settings.parse("max_work")?.unwrap_or(c.max_work()), max_memory)?;
    let mut b = PasswordProviderBuilder::default().policy(policy).kdf_params(params).cost_cap(cap);
    if let Some(n) = settings.parse::<usize>("max_concurrent")? {
        b = b.max_concurrent_derivations(n);
    }
    #[cfg(feature = "test-support")]
    if settings.parse_bool("insecure_below_cost_floor")?.unwrap_or(false) {
        b = b.insecure_allow_costs_below_floor();
    }
    b.build()
}

fn setting_error(key: &str, e: Error) -> Error {
    Error::invalid_input(format!("setting {key}: {}", e.message()))
}
