//! Configuration: the TOML file, the environment, and the defaults.
//!
//! Precedence, highest first: command-line flags, environment variables,
//! the config file, the built-in defaults.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use share_backup::{Error, MethodId, Registry, Settings};

use crate::cli::{Global, NotifierKind};

/// The prefix of every environment variable the tool reads.
pub const ENV_PREFIX: &str = "SHARE_BACKUP_";

/// Environment variables of the tool itself: never read as provider settings.
pub const RESERVED_ENV: &[&str] = &[
    "SHARE_BACKUP_STORE",
    "SHARE_BACKUP_CONFIG",
    "SHARE_BACKUP_NOTIFIER",
    "SHARE_BACKUP_NOTIFY_LOG",
    "SHARE_BACKUP_NO_PROMPT",
    "SHARE_BACKUP_DEFAULT_CHAIN",
];

/// The environment variable with the default chain, comma-separated.
pub const DEFAULT_CHAIN_ENV: &str = "SHARE_BACKUP_DEFAULT_CHAIN";

/// The config file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The methods `--method` omitted tries, in order.
    pub default_chain: Option<Vec<String>>,
    /// The cipher-text store.
    #[serde(default)]
    pub store: StoreSection,
    /// The notifier.
    #[serde(default)]
    pub notifier: NotifierSection,
    /// Provider settings by method id.
    #[serde(default)]
    pub providers: BTreeMap<String, BTreeMap<String, toml::Value>>,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// The store URL.
    pub url: Option<String>,
    /// `object_store` options (`aws_endpoint`, `aws_allow_http`, ...); credentials belong in the environment.
    #[serde(default)]
    pub options: BTreeMap<String, toml::Value>,
}

/// `[notifier]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierSection {
    /// `log` or `portal`.
    pub kind: Option<NotifierKind>,
    /// The log file of `kind = "log"`.
    pub log: Option<PathBuf>,
    /// Portal's API base URL (`kind = "portal"`); `PORTAL_API_URL` overrides it.
    pub portal_url: Option<String>,
}

/// Where the tool keeps its files by default.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// The data directory (store, notification log).
    pub data: PathBuf,
    /// The config directory.
    pub config: PathBuf,
}

impl Dirs {
    /// The platform's directories for share-backup (`~/.local/share/share-backup`,
    /// `~/.config/share-backup` on Linux, honouring `XDG_*`).
    pub fn platform() -> Result<Self, Error> {
        let p = directories::ProjectDirs::from("", "", "share-backup").ok_or_else(|| {
            Error::invalid_input("cannot find the home directory for the default store and config")
                .with_hint("set HOME, or pass --store and --config explicitly")
        })?;
        Ok(Dirs { data: p.data_dir().to_path_buf(), config: p.config_dir().to_path_buf() })
    }
}

/// Everything resolved from flags, environment, file and defaults.
#[derive(Debug)]
pub struct Resolved {
    /// The store URL.
    pub store_url: String,
    /// Store options.
    pub store_options: Vec<(String, String)>,
    /// The notifier kind.
    pub notifier: NotifierKind,
    /// The notification log path.
    pub notify_log: PathBuf,
    /// Portal's base URL from the file, if any.
    pub portal_url: Option<String>,
    /// Provider settings by method, as given (file merged with env).
    pub settings: BTreeMap<MethodId, Settings>,
    /// The default chain, if configured.
    pub default_chain: Option<Vec<MethodId>>,
    /// The config file read, if any.
    pub config_file: Option<PathBuf>,
    /// Warnings to show (e.g. settings for a method that is not linked).
    pub warnings: Vec<String>,
    /// Where method guarded-pin's tokens come from (the tool's own keys of
    /// `[providers.guarded-pin]`, taken out of its settings).
    pub pin_tokens: crate::pin::TokenSetting,
}

/// Reads the config file at `path`. A missing file is an error only when it
/// was named explicitly.
pub fn read_file(path: &Path, explicit: bool) -> Result<Option<FileConfig>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) => {
            return Err(Error::invalid_input(format!("cannot read the config file {}: {e}", path.display()))
                .with_hint("check the path given with --config or SHARE_BACKUP_CONFIG"));
        }
    };
    parse_file(&text).map(Some).map_err(|e| {
        Error::invalid_input(format!("config file {}: {}", path.display(), e.message()))
            .with_hint("fix the config file; see `share-backup providers` for each provider's settings")
    })
}

/// Parses a config file's text.
pub fn parse_file(text: &str) -> Result<FileConfig, Error> {
    toml::from_str::<FileConfig>(text).map_err(|e| Error::invalid_input(e.message().to_owned()))
}

/// A TOML value as a setting string: strings as they are, numbers and
/// booleans written out, arrays of those joined with commas.
pub fn value_to_setting(key: &str, v: &toml::Value) -> Result<String, Error> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(a) => a.iter().map(|x| value_to_setting(key, x)).collect::<Result<Vec<_>, _>>()?.join(","),
        toml::Value::Datetime(_) | toml::Value::Table(_) => {
            return Err(Error::invalid_input(format!(
                "setting {key} must be a string, a number, a boolean or a list of those"
            )));
        }
    })
}

/// The environment variable prefix of `method`'s settings:
/// `SHARE_BACKUP_<METHOD>_`, upper case, `-` written as `_`.
pub fn env_prefix(method: &MethodId) -> String {
    format!("{ENV_PREFIX}{}_", method.as_str().replace('-', "_").to_ascii_uppercase())
}

/// Provider settings from environment variables `SHARE_BACKUP_<METHOD>_<KEY>`,
/// for the linked `methods`. When two method prefixes match (`foo` and
/// `foo-bar`), the longer wins.
pub fn env_settings(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
    methods: &[MethodId],
) -> Result<BTreeMap<MethodId, Settings>, Error> {
    let prefixes: Vec<(String, &MethodId)> = methods.iter().map(|m| (env_prefix(m), m)).collect();
    let mut out: BTreeMap<MethodId, Settings> = BTreeMap::new();
    for (k, v) in vars {
        let Some(k) = k.to_str() else { continue };
        if !k.starts_with(ENV_PREFIX) || RESERVED_ENV.contains(&k) {
            continue;
        }
        let best = prefixes.iter().filter(|(p, _)| k.starts_with(p.as_str())).max_by_key(|(p, _)| p.len());
        let Some((p, m)) = best else { continue };
        let key = k[p.len()..].to_ascii_lowercase();
        if key.is_empty() {
            continue;
        }
        let value = v
            .into_string()
            .map_err(|_| Error::invalid_input(format!("environment variable {k} is not valid UTF-8")))?;
        out.entry((*m).clone()).or_default().insert(key, value);
    }
    Ok(out)
}

fn names(linked: &[MethodId]) -> String {
    let mut v: Vec<&str> = linked.iter().map(MethodId::as_str).collect();
    v.sort_unstable();
    format!("linked: {}", v.join(", "))
}

/// The edit distance of two short ASCII strings.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Refuses `SHARE_BACKUP_<NAME>_<KEY>` variables whose `<NAME>` is a
/// misspelling of a linked method's: not the method's own prefix, but
/// within one letter of it (two for names of more than four letters), e.g.
/// `SHARE_BACKUP_PASWORD_POLICY`. Other `SHARE_BACKUP_*` variables are left
/// alone: they may belong to other tools (the project's test scripts use
/// `SHARE_BACKUP_S3_*`, `SHARE_BACKUP_SERVERS_DIR`, ...).
pub fn check_misspelt_env<'a>(
    names_set: impl IntoIterator<Item = &'a OsString>,
    linked: &[MethodId],
) -> Result<(), Error> {
    let methods: Vec<(String, &MethodId)> =
        linked.iter().map(|m| (env_prefix(m)[ENV_PREFIX.len()..].trim_end_matches('_').to_owned(), m)).collect();
    for k in names_set {
        let Some(k) = k.to_str() else { continue };
        let Some(rest) = k.strip_prefix(ENV_PREFIX) else { continue };
        if RESERVED_ENV.contains(&k) || methods.iter().any(|(name, _)| rest.starts_with(&format!("{name}_"))) {
            continue;
        }
        // Every `<NAME>` the variable could mean: the words before each `_` but the last.
        let cuts = rest.match_indices('_').map(|(i, _)| &rest[..i]);
        for cand in cuts {
            for (name, m) in &methods {
                let limit = if name.len() > 4 { 2 } else { 1 };
                let d = distance(cand, name);
                if d > 0 && d <= limit {
                    let key = &rest[cand.len() + 1..];
                    return Err(Error::invalid_input(format!(
                        "environment variable {k} names no linked provider ({}); it looks like a setting of method {m}",
                        names(linked)
                    ))
                    .with_hint(format!("rename it to {ENV_PREFIX}{name}_{key}, or unset it")));
                }
            }
        }
    }
    Ok(())
}

/// Parses a comma-separated default chain.
pub fn parse_chain(items: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Vec<MethodId>, Error> {
    let chain: Vec<MethodId> = items
        .into_iter()
        .map(|s| s.as_ref().trim().to_owned())
        .filter(|s| !s.is_empty())
        .map(|s| MethodId::new(&s))
        .collect::<Result<_, _>>()?;
    if chain.is_empty() {
        return Err(
            Error::invalid_input("the default chain is empty").with_hint("name at least one method, e.g. gdrive")
        );
    }
    Ok(chain)
}

/// Resolves the configuration for `linked` methods.
pub fn resolve(
    global: &Global,
    dirs: &Dirs,
    linked: &[MethodId],
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Resolved, Error> {
    let vars: Vec<(OsString, OsString)> = vars.into_iter().collect();
    let (file, config_file) = match &global.config {
        Some(p) => (read_file(p, true)?, Some(p.clone())),
        None => {
            let p = dirs.config.join("config.toml");
            let f = read_file(&p, false)?;
            let shown = f.as_ref().map(|_| p);
            (f, shown)
        }
    };
    let file = file.unwrap_or_default();
    let warnings = Vec::new();

    let store_url = match global.store.clone().or(file.store.url.clone()) {
        Some(u) => u,
        None => {
            let dir = dirs.data.join("store");
            url::Url::from_directory_path(&dir)
                .map_err(|()| {
                    Error::invalid_input(format!("the data directory {} is not an absolute path", dir.display()))
                        .with_hint("pass --store file:///absolute/dir")
                })?
                .to_string()
        }
    };
    let store_options = file
        .store
        .options
        .iter()
        .map(|(k, v)| Ok((k.clone(), value_to_setting(k, v)?)))
        .collect::<Result<Vec<_>, Error>>()?;

    let notifier = global.notifier.or(file.notifier.kind).unwrap_or(NotifierKind::Log);
    let notify_log = global
        .notify_log
        .clone()
        .or(file.notifier.log.clone())
        .unwrap_or_else(|| dirs.data.join("notifications.jsonl"));

    let mut settings: BTreeMap<MethodId, Settings> = BTreeMap::new();
    for (method, table) in &file.providers {
        let id = MethodId::new(method)
            .map_err(|e| Error::invalid_input(format!("config file: [providers.{method}]: {}", e.message())))?;
        if !linked.contains(&id) {
            return Err(Error::invalid_input(format!(
                "config file: [providers.{id}] is not a provider this build links ({})",
                names(linked)
            ))
            .with_hint("fix the section's name, or remove it; `share-backup providers` lists the linked providers"));
        }
        let s = settings.entry(id).or_default();
        for (k, v) in table {
            s.insert(k.clone(), value_to_setting(k, v)?);
        }
    }
    check_misspelt_env(vars.iter().map(|(k, _)| k), linked)?;
    for (m, env) in env_settings(vars.iter().cloned(), linked)? {
        let s = settings.entry(m).or_default();
        for (k, v) in env.iter() {
            s.insert(k, v);
        }
    }

    let pin_method = crate::pin::method();
    let pin_tokens = match settings.get(&pin_method) {
        Some(s) => {
            let (rest, tokens) = crate::pin::split(s);
            settings.insert(pin_method, rest);
            tokens
        }
        None => crate::pin::TokenSetting::default(),
    };

    let env_chain = vars.iter().find(|(k, _)| k == DEFAULT_CHAIN_ENV).and_then(|(_, v)| v.to_str().map(str::to_owned));
    let default_chain = match (env_chain, &file.default_chain) {
        (Some(c), _) => Some(parse_chain(c.split(','))?),
        (None, Some(c)) => Some(parse_chain(c)?),
        (None, None) => None,
    };

    Ok(Resolved {
        store_url,
        store_options,
        notifier,
        notify_log,
        portal_url: file.notifier.portal_url,
        settings,
        default_chain,
        config_file,
        warnings,
        pin_tokens,
    })
}

/// Applies the settings and the default chain to the registry: each
/// configured provider is built now, so a bad setting fails here.
pub fn apply(registry: &mut Registry, resolved: &Resolved) -> Result<(), Error> {
    for (m, s) in &resolved.settings {
        registry.configure(m, s.clone()).map_err(|e| {
            let e = if e.method().is_some() { e } else { e.with_method(m.clone()) };
            let hint = format!(
                "fix [providers.{m}] in the config file or the {}* environment variables; `share-backup providers` lists the settings",
                env_prefix(m)
            );
            e.with_hint(hint)
        })?;
    }
    if let Some(chain) = &resolved.default_chain {
        registry.set_default_chain(chain.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect()
    }

    #[test]
    fn env_settings_go_to_the_method_with_the_longest_matching_prefix() {
        let foo = MethodId::new("foo").unwrap();
        let foobar = MethodId::new("foo-bar").unwrap();
        let s = env_settings(
            vars(&[
                ("SHARE_BACKUP_FOO_BAR_DIR", "/x"),
                ("SHARE_BACKUP_FOO_SPACE_COST", "64"),
                ("SHARE_BACKUP_STORE", "memory://"),
                ("SHARE_BACKUP_OTHER_KEY", "1"),
                ("UNRELATED", "1"),
            ]),
            &[foo.clone(), foobar.clone()],
        )
        .unwrap();
        assert_eq!(s[&foobar].get("dir"), Some("/x"));
        assert_eq!(s[&foo].get("space_cost"), Some("64"));
        assert_eq!(s[&foo].len(), 1);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn reserved_variables_are_never_provider_settings() {
        let store = MethodId::new("store").unwrap();
        let s = env_settings(vars(&[("SHARE_BACKUP_STORE", "memory://")]), &[store]).unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn config_values_of_any_scalar_type_become_setting_strings() {
        let f = parse_file(
            r#"
            default_chain = ["password", "gdrive"]
            [store]
            url = "memory://"
            [store.options]
            aws_allow_http = true
            [providers.password]
            policy = "pin"
            space_cost = 1024
            blocklist = ["acme", "acmewallet"]
            "#,
        )
        .unwrap();
        let p = &f.providers["password"];
        assert_eq!(value_to_setting("space_cost", &p["space_cost"]).unwrap(), "1024");
        assert_eq!(value_to_setting("blocklist", &p["blocklist"]).unwrap(), "acme,acmewallet");
        assert_eq!(value_to_setting("x", &f.store.options["aws_allow_http"]).unwrap(), "true");
        assert_eq!(f.default_chain.unwrap(), vec!["password", "gdrive"]);
    }

    #[test]
    fn a_typo_in_the_config_file_is_an_error_naming_it() {
        let e = parse_file("[stor]\nurl = \"memory://\"\n").unwrap_err();
        assert!(e.message().contains("stor"), "{e}");
        let e = parse_file("[notifier]\nkind = \"carrier-pigeon\"\n").unwrap_err();
        assert!(e.message().contains("carrier-pigeon") || e.message().contains("variant"), "{e}");
    }

    #[test]
    fn a_misspelt_method_in_an_env_variable_is_refused_naming_the_right_one() {
        let linked = [MethodId::PASSWORD, MethodId::GDRIVE];
        let check = |k: &str| check_misspelt_env([&OsString::from(k)], &linked);
        let e = check("SHARE_BACKUP_PASWORD_POLICY").unwrap_err();
        assert!(e.to_string().contains("SHARE_BACKUP_PASSWORD_POLICY"), "{e}");
        assert!(e.to_string().contains("linked: gdrive, password"), "{e}");
        assert!(check("SHARE_BACKUP_GDRIV_FOLDER_MODE").is_err());
        for fine in [
            "SHARE_BACKUP_PASSWORD_POLICY",
            "SHARE_BACKUP_STORE",
            "SHARE_BACKUP_S3_ENDPOINT",
            "SHARE_BACKUP_SERVERS_DIR",
            "SHARE_BACKUP_AZURITE_KEY",
            "SHARE_BACKUP_REQUIRE_SERVERS",
            "OTHER_PASWORD_X",
        ] {
            assert!(check(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn the_readme_config_examples_parse_and_guarded_pin_accepts_its_settings() {
        let readme = include_str!("../README.md");
        let blocks: Vec<&str> =
            readme.split("```toml\n").skip(1).map(|b| b.split("```").next().unwrap_or_default()).collect();
        assert!(blocks.len() >= 2, "the README shows the config file");
        for b in blocks {
            let f = parse_file(b).unwrap_or_else(|e| panic!("{e}\n{b}"));
            if let Some(t) = f.providers.get("guarded-pin") {
                let s = Settings::from_pairs(t.iter().map(|(k, v)| (k.clone(), value_to_setting(k, v).unwrap())));
                let (rest, tokens) = crate::pin::split(&s);
                assert!(tokens.command.is_some(), "{b}");
                let p = share_backup_guarded_pin::GuardedPinProvider::from_settings(&rest).unwrap();
                assert_eq!((p.realms().len(), p.threshold()), (3, 2));
            }
        }
    }

    #[test]
    fn an_empty_or_malformed_chain_is_refused() {
        assert!(parse_chain(["", " "]).is_err());
        assert!(parse_chain(["Bad Id"]).is_err());
        assert_eq!(parse_chain(["password", " gdrive "]).unwrap(), vec![MethodId::PASSWORD, MethodId::GDRIVE]);
    }
}
