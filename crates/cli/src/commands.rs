//! The commands.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use share_backup::object_store::ObjectCipherTextStore;
use share_backup::orchestrator::{HealthReport, KeyCheck, Orchestrator, Receipt};
use share_backup::providers::gdrive::DriveConfig;
use share_backup::providers::password::{self as pw, PasswordConfig, PasswordProvider, Policy, Preset};
use share_backup::{
    BackupId, BackupRequest, ClientId, Configs, Context, CustodianId, Error, ErrorKind, MethodId, RecoverRequest,
    Recovered, Registry, RotateRequest, Settings, UserId, VerifyRequest,
};
use share_backup_guarded_pin::{GuardedPinProvider, PinConfig};

use crate::cli::{
    BackupArgs, Binding, CalibrateArgs, Cli, Command, Global, PasswordArgs, ProbeArgs, RecoverArgs, RotateArgs,
    TokenArgs, UserArgs, VerifyArgs,
};
use crate::config::{self, Dirs, Resolved, env_prefix};
use crate::input::{self, Output, can_prompt, prompt_hidden, read_secret_line, secret_from_env};
use crate::output::{Mode, Reporter};
use crate::{cloud, exit, notify, pin, prompt};

/// How many times a mistyped password may be retried at the prompt on recovery.
const RECOVER_ATTEMPTS: usize = 3;

/// Runs a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> u8 {
    let Cli { global, command } = cli;
    let mut reporter = Reporter::new(global.json, global.quiet, global.verbose > 0);
    if let Command::Recover(a) = &command
        && a.out.as_os_str() == "-"
    {
        if global.json {
            return reporter.error(
                &Error::invalid_input("--out - writes the share to stdout, which --json needs for its output")
                    .with_hint("write the share to a file with --out FILE, or drop --json"),
            );
        }
        reporter.results_to_stderr();
    }
    let app = match App::new(global, reporter.clone()) {
        Ok(a) => a,
        Err(e) => return reporter.error(&e),
    };
    let r = match command {
        Command::Providers => app.providers(),
        Command::Backup(a) => app.backup(a),
        Command::Recover(a) => app.recover(a),
        Command::Verify(a) => app.verify(a),
        Command::Methods(a) => app.methods(a),
        Command::Rotate(a) => app.rotate(a),
        Command::Calibrate(a) => app.calibrate(a),
        Command::Probe(a) => app.probe(a),
    };
    // Do not wait for work an interruption abandoned (a key derivation on
    // the blocking pool): its result is no longer wanted.
    let r = r.map_err(|e| cloud::explain(&app.resolved.store_url, &app.cloud, e));
    app.rt.shutdown_background();
    match r {
        Ok(()) => exit::OK,
        Err(e) if is_interrupted(&e) => {
            reporter.error(&e);
            exit::INTERRUPTED
        }
        Err(e) => reporter.error(&e),
    }
}

fn interrupted() -> Error {
    Error::new(ErrorKind::Cancelled, "interrupted")
        .with_hint("nothing more was done; a backup that was not acknowledged leaves the previous one current")
        .with_source(InterruptedError)
}

/// The source of an interruption error.
#[derive(Debug)]
struct InterruptedError;

impl std::fmt::Display for InterruptedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted by the user")
    }
}

impl std::error::Error for InterruptedError {}

fn is_interrupted(e: &Error) -> bool {
    e.source_ref().is_some_and(|s| s.downcast_ref::<InterruptedError>().is_some())
}

/// Maps a terminal error: Ctrl-C at the prompt is an interruption.
fn prompt_error(e: Error) -> Error {
    if e.message().contains("interrupted") { interrupted() } else { e }
}

struct App {
    global: Global,
    reporter: Reporter,
    resolved: Resolved,
    /// Which cloud credentials are set (names only).
    cloud: cloud::Given,
    rt: tokio::runtime::Runtime,
    #[cfg(unix)]
    sigint: std::sync::Mutex<Option<tokio::signal::unix::Signal>>,
}

impl App {
    fn new(global: Global, reporter: Reporter) -> Result<Self, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::internal("cannot start the async runtime").with_source(e))?;
        // Catch Ctrl-C from now on: an interrupted operation is dropped
        // cleanly, and the password prompt restores the terminal.
        #[cfg(unix)]
        let sigint = {
            let _g = rt.enter();
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok()
        };
        let dirs = Dirs::platform()?;
        let linked: Vec<MethodId> =
            share_backup::linked_registrations().filter_map(|r| MethodId::new(r.method_str()).ok()).collect();
        let resolved = config::resolve(&global, &dirs, &linked, std::env::vars_os())?;
        for w in &resolved.warnings {
            reporter.note(w);
        }
        let cloud = cloud::Given::new(
            std::env::vars_os().filter_map(|(k, v)| {
                let k = k.into_string().ok()?;
                (k.starts_with("AWS_") || k.starts_with("AZURE_")).then(|| (k, !v.is_empty()))
            }),
            resolved.store_options.iter().map(|(k, _)| k.as_str()),
        );
        Ok(App {
            global,
            reporter,
            resolved,
            cloud,
            rt,
            #[cfg(unix)]
            sigint: std::sync::Mutex::new(sigint),
        })
    }

    /// Runs `fut` to completion, or stops at Ctrl-C (dropping it).
    fn block<T>(&self, fut: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        #[cfg(unix)]
        {
            let mut guard = self.sigint.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(sig) = guard.as_mut() {
                return self.rt.block_on(async {
                    tokio::select! {
                        r = fut => r,
                        _ = sig.recv() => Err(interrupted()),
                    }
                });
            }
        }
        self.rt.block_on(async {
            tokio::select! {
                r = fut => r,
                _ = tokio::signal::ctrl_c() => Err(interrupted()),
            }
        })
    }

    fn registry(&self) -> Result<Registry, Error> {
        let mut r = Registry::linked()?;
        config::apply(&mut r, &self.resolved)?;
        Ok(r)
    }

    /// The orchestrator, and the store's label (its URL without credentials).
    fn orchestrator(&self) -> Result<(Orchestrator, String), Error> {
        let registry = self.registry()?;
        cloud::precheck(&self.resolved.store_url, &self.cloud)?;
        let store = {
            let _g = self.rt.enter();
            ObjectCipherTextStore::from_url(&self.resolved.store_url, self.resolved.store_options.clone())?
        };
        let label = store.to_string();
        let notifier = {
            let _g = self.rt.enter();
            notify::build(self.resolved.notifier, &self.resolved.notify_log, self.resolved.portal_url.as_deref())?
        };
        let orch = Orchestrator::builder().registry(registry).store(Arc::new(store)).notifier(notifier).build()?;
        Ok((orch, label))
    }

    fn password_settings(&self) -> Settings {
        self.resolved.settings.get(&MethodId::PASSWORD).cloned().unwrap_or_default()
    }

    fn password_policy(&self) -> Result<Policy, Error> {
        Ok(PasswordProvider::from_settings(&self.password_settings())?.policy().clone())
    }

    fn pin_provider(&self) -> Result<GuardedPinProvider, Error> {
        let m = pin::method();
        GuardedPinProvider::from_settings(&self.resolved.settings.get(&m).cloned().unwrap_or_default())
    }

    /// The kind of per-call secret `method` needs that this tool asks for.
    fn secret_of(method: &MethodId) -> Option<Secret> {
        if method == &MethodId::PASSWORD {
            Some(Secret::Password)
        } else if method == &pin::method() {
            Some(Secret::Pin)
        } else {
            None
        }
    }

    /// The requirements a new secret of `kind` must meet.
    fn secret_policy(&self, kind: Secret) -> Result<Policy, Error> {
        match kind {
            Secret::Password => self.password_policy(),
            Secret::Pin => Ok(self.pin_provider()?.policy().clone()),
        }
    }

    fn secret_label(&self, kind: Secret) -> Result<&'static str, Error> {
        Ok(match kind {
            Secret::Password => Self::password_label(&self.password_policy()?),
            Secret::Pin => "PIN",
        })
    }

    fn interactive(&self) -> bool {
        can_prompt(self.global.no_prompt)
    }

    // ---- providers ----

    fn providers(&self) -> Result<(), Error> {
        let mut registry = Registry::linked()?;
        let applied = config::apply(&mut registry, &self.resolved);
        let infos = registry.infos();
        let chain: Vec<&str> = registry.default_chain().iter().map(MethodId::as_str).collect();
        let default = registry.default_method();
        let mut providers = Vec::new();
        let mut text = String::from("Linked providers:\n");
        for info in &infos {
            let configured = self.resolved.settings.get(&info.method);
            let crate_name = info.crate_name.unwrap_or("(inserted by the application)");
            text.push_str(&format!("  {:<10} {}  [{}]\n", info.method.as_str(), info.summary, crate_name));
            let mut settings = Vec::new();
            if !info.settings.is_empty() {
                text.push_str(&format!(
                    "      settings ([providers.{}] in the config file, or {}<KEY>):\n",
                    info.method,
                    env_prefix(&info.method)
                ));
            }
            for s in info.settings {
                let value = configured.and_then(|c| c.get(s.key));
                let shown = match value {
                    Some(v) => format!("{} = {v:?}", s.key),
                    None => format!("{} (e.g. {:?})", s.key, s.example),
                };
                text.push_str(&format!("        {shown}: {}\n", s.doc));
                settings.push(json!({"key": s.key, "doc": s.doc, "example": s.example, "value": value}));
            }
            if info.method == pin::method() {
                // This tool's own keys of the section (taken out before the provider sees it).
                let t = &self.resolved.pin_tokens;
                let own = [
                    (
                        pin::TOKEN_COMMAND,
                        "a command printing realm_id=token lines (sh -c; $SHARE_BACKUP_TOKEN_USER is the user)",
                        t.command.clone(),
                    ),
                    (
                        pin::TOKEN_FILE,
                        "a file of realm_id=token lines",
                        t.file.as_ref().map(|f| f.display().to_string()),
                    ),
                ];
                for (key, doc, value) in own {
                    match &value {
                        Some(v) => text.push_str(&format!("        {key} = {v:?}: {doc} (this tool's)\n")),
                        None => text.push_str(&format!("        {key}: {doc} (this tool's)\n")),
                    }
                    settings.push(json!({"key": key, "doc": doc, "value": value, "tool": true}));
                }
            }
            providers.push(json!({
                "method": info.method.as_str(),
                "summary": info.summary,
                "crate": info.crate_name,
                "settings": settings,
            }));
        }
        text.push_str(&format!("Default chain: {}\n", chain.join(", ")));
        let default_json = match &default {
            Ok(m) => {
                text.push_str(&format!("Without --method: {m}"));
                json!({"method": m.as_str()})
            }
            Err(e) => {
                text.push_str(&format!("Without --method: no provider ({}: {e})", e.kind().name()));
                json!({"error": {"kind": e.kind().name(), "message": e.message(), "hint": e.hint()}})
            }
        };
        if let Some(f) = &self.resolved.config_file {
            text.push_str(&format!("\nConfig file: {}", f.display()));
        }
        self.reporter.result(
            json!({
                "command": "providers",
                "providers": providers,
                "default_chain": chain,
                "default": default_json,
                "config_file": self.resolved.config_file.as_ref().map(|p| p.display().to_string()),
            }),
            &text,
        );
        applied
    }

    // ---- secrets ----

    fn password_label(policy: &Policy) -> &'static str {
        match policy.preset() {
            Preset::Pin => "PIN",
            Preset::Passcode => "passcode",
            _ => "password",
        }
    }

    /// A password from `--password-stdin` / `--password-env`, or `None`.
    fn given_password(
        &self,
        args: &PasswordArgs,
        stdin: &mut Option<std::io::StdinLock<'static>>,
        what: &str,
    ) -> Result<Option<SecretString>, Error> {
        if args.password_stdin {
            refuse_terminal_stdin("--password-stdin")?;
            let lock = stdin.get_or_insert_with(|| std::io::stdin().lock());
            return read_secret_line(lock, what).map(Some);
        }
        if let Some(var) = &args.password_env {
            return secret_from_env(var, what).map(Some);
        }
        Ok(None)
    }

    fn no_terminal(what: &str, flags: &str) -> Error {
        Error::invalid_input(format!("a {what} is needed and cannot be asked for (no terminal, or --no-prompt)"))
            .with_hint(format!("pass it with {flags} (never as an argument)"))
    }

    /// The new password of a backup: given (and checked against the policy), or chosen at the prompt.
    fn new_password(
        &self,
        kind: Secret,
        given: Option<SecretString>,
        user: &UserId,
        flags: &str,
    ) -> Result<SecretString, Error> {
        let policy = self.secret_policy(kind)?;
        let label = self.secret_label(kind)?;
        match given {
            Some(p) => {
                policy
                    .enforce(secrecy::ExposeSecret::expose_secret(&p), &[user.as_str()])
                    .map_err(|e| e.with_method(kind.method()))?;
                Ok(p)
            }
            None if self.interactive() => {
                let mut ui = std::io::stderr();
                prompt::new_password(&policy, user.as_str(), label, &mut ui, &mut prompt::tty_reader())
                    .map_err(prompt_error)
            }
            None => Err(Self::no_terminal(&format!("new {label}"), flags)),
        }
    }

    fn existing_password(
        &self,
        given: Option<SecretString>,
        prompt_text: &str,
        flags: &str,
    ) -> Result<SecretString, Error> {
        match given {
            Some(p) => Ok(p),
            None if self.interactive() => prompt_hidden(prompt_text).map_err(prompt_error),
            None => Err(Self::no_terminal("password", flags)),
        }
    }

    fn token_configs(
        &self,
        method: &MethodId,
        user: &UserId,
        token: &TokenArgs,
        configs: &mut Configs,
    ) -> Result<(), Error> {
        if method == &pin::method() {
            let provider = self.pin_provider()?;
            configs.insert(self.resolved.pin_tokens.tokens(user, &provider)?);
        }
        if method == &MethodId::GDRIVE {
            let t = secret_from_env(&token.access_token_env, "Google access token").map_err(|e| {
                Error::new(
                    ErrorKind::Unauthenticated,
                    format!("method gdrive needs the user's Google access token: {}", e.message()),
                )
                .with_method(MethodId::GDRIVE)
                .with_hint(format!(
                    "sign the user in to Google (scope drive.appdata) and put the access token in {}, or name another variable with --access-token-env",
                    token.access_token_env
                ))
            })?;
            configs.insert(DriveConfig::access_token(t));
        }
        Ok(())
    }

    fn method_arg(m: Option<&str>) -> Result<Option<MethodId>, Error> {
        m.map(|s| MethodId::new(s).map_err(|e| e.with_hint("pick one of the methods `share-backup providers` lists")))
            .transpose()
    }

    fn binding(b: &Binding) -> Result<(Option<CustodianId>, Option<ClientId>), Error> {
        Ok((
            b.custodian.as_deref().map(CustodianId::new).transpose()?,
            b.client.as_deref().map(ClientId::new).transpose()?,
        ))
    }

    fn user(u: &UserArgs) -> Result<UserId, Error> {
        UserId::new(&u.user)
    }

    // ---- backup ----

    fn backup(&self, a: BackupArgs) -> Result<(), Error> {
        let user = Self::user(&a.user)?;
        let (custodian, client) = Self::binding(&a.binding)?;
        let (orch, store) = self.orchestrator()?;
        let method = match Self::method_arg(a.method.as_deref())? {
            Some(m) => m,
            None => orch.registry().default_method()?,
        };
        let provider = orch.registry().resolve(Some(&method))?;
        let mut stdin = None;
        let share = match &a.share_file {
            Some(p) => input::read_share_file(p)?,
            None => {
                let lock = stdin.get_or_insert_with(|| std::io::stdin().lock());
                input::read_share(lock, "stdin")?
            }
        };
        let mut configs = Configs::new();
        if let Some(kind) = Self::secret_of(&method) {
            let label = self.secret_label(kind)?;
            let given = self.given_password(&a.password, &mut stdin, label)?;
            let p = self.new_password(kind, given, &user, "--password-stdin or --password-env VAR")?;
            kind.insert(&mut configs, p);
        } else if provider.capabilities().needs_user_secret {
            self.reporter.note(&format!(
                "method {method} needs a user secret that this tool cannot ask for; the provider will say what is missing"
            ));
        }
        self.token_configs(&method, &user, &a.token, &mut configs)?;
        drop(stdin);
        let mut req = BackupRequest::new(user.clone(), share)
            .with_method(method)
            .with_configs(configs)
            .with_progress(self.reporter.sink("backup"));
        if let Some(c) = custodian {
            req = req.with_custodian(c);
        }
        if let Some(c) = client {
            req = req.with_client(c);
        }
        let receipt = self.block(orch.backup(req))?;
        self.receipt("backup", &user, &store, &receipt);
        Ok(())
    }

    fn receipt(&self, command: &str, user: &UserId, store: &str, r: &Receipt) {
        let mut text = format!(
            "Backed up the share of {user} with method {}: backup {} ({} bytes of cipher text) is stored in {store} and acknowledged.",
            r.method,
            r.backup_id,
            r.envelope.len()
        );
        if let Some(p) = r.previous {
            text.push_str(&format!("\nIt replaces backup {p}"));
            if !r.pruned.is_empty() {
                text.push_str(&format!(", and {} superseded version(s) were removed", r.pruned.len()));
            }
            text.push('.');
        }
        if let Some(kind) = Self::secret_of(&r.method) {
            let label = self.secret_label(kind).unwrap_or("password");
            text.push_str(&format!("\nKeep the {label} safe: without it this backup cannot be recovered."));
        }
        self.reporter.result(
            json!({
                "command": command,
                "user": user.as_str(),
                "method": r.method.as_str(),
                "backup_id": r.backup_id.to_hex(),
                "previous": r.previous.map(|p| p.to_hex()),
                "pruned": r.pruned.iter().map(BackupId::to_hex).collect::<Vec<_>>(),
                "prune_failures": r.prune_failures,
                "envelope": r.envelope,
                "envelope_len": r.envelope.len(),
                "store": store,
                "timings_ms": r.timings.iter().map(|(s, d)| (s.as_str().to_owned(), Value::from(d.as_millis() as u64))).collect::<serde_json::Map<_, _>>(),
            }),
            &text,
        );
    }

    // ---- recover ----

    /// The method of a recovery when none is given: the user's only one, or
    /// the first of the default chain among them (as the orchestrator picks).
    fn pick_method(&self, orch: &Orchestrator, store: &str, user: &UserId) -> Result<MethodId, Error> {
        let methods = self.block(orch.methods(user))?;
        match methods.as_slice() {
            [] => Err(Error::not_found(format!("user {user} has no backup in {}", store))
                .with_hint("check the user id and --store, or make a backup first")),
            [only] => Ok(only.clone()),
            several => orch.registry().default_chain().iter().find(|m| several.contains(m)).cloned().ok_or_else(|| {
                Error::invalid_input(format!(
                    "user {user} has backups of several methods [{}]",
                    several.iter().map(MethodId::as_str).collect::<Vec<_>>().join(", ")
                ))
                .with_hint("say which one to recover with --method")
            }),
        }
    }

    fn recover(&self, a: RecoverArgs) -> Result<(), Error> {
        let user = Self::user(&a.user)?;
        let (custodian, client) = Self::binding(&a.binding)?;
        let out = Output::new(&a.out, a.force);
        out.precheck()?;
        let (orch, store) = self.orchestrator()?;
        let method = match Self::method_arg(a.method.as_deref())? {
            Some(m) => m,
            None => self.pick_method(&orch, &store, &user)?,
        };
        let mut base = Configs::new();
        self.token_configs(&method, &user, &a.token, &mut base)?;
        let password = match Self::secret_of(&method) {
            Some(kind) => {
                let label = self.secret_label(kind)?;
                let mut stdin = None;
                let given = self.given_password(&a.password, &mut stdin, label)?;
                Some(PasswordAsk { kind, given, prompt: format!("{}: ", capitalized(label)), label })
            }
            None => None,
        };
        let request = |configs| {
            bound(RecoverRequest::new(user.clone()), &custodian, &client)
                .with_method(method.clone())
                .with_configs(configs)
                .with_progress(self.reporter.sink("recovery"))
        };
        let (recovered, _) = self.recover_retrying(&orch, request, &base, password)?;
        out.write(recovered.share())?;
        let text = format!(
            "Recovered the share of {user} ({} bytes, method {}, backup {}) into {}.",
            recovered.share().len(),
            recovered.method(),
            recovered.backup_id(),
            out.describe()
        );
        self.reporter.result(
            json!({
                "command": "recover",
                "user": user.as_str(),
                "method": recovered.method().as_str(),
                "backup_id": recovered.backup_id().to_hex(),
                "share_len": recovered.share().len(),
                "out": out.describe(),
            }),
            &text,
        );
        Ok(())
    }

    // ---- verify, methods ----

    fn verify(&self, a: VerifyArgs) -> Result<(), Error> {
        let user = Self::user(&a.user)?;
        let (custodian, client) = Self::binding(&a.binding)?;
        let (orch, store) = self.orchestrator()?;
        let methods = match Self::method_arg(a.method.as_deref())? {
            Some(m) => vec![m],
            None => {
                let m = self.block(orch.methods(&user))?;
                if m.is_empty() {
                    return Err(Error::not_found(format!("user {user} has no backup in {}", store))
                        .with_hint("check the user id and --store, or make a backup first"));
                }
                m
            }
        };
        let mut checks = Vec::new();
        let mut lines = Vec::new();
        let mut first_error = None;
        for m in methods {
            let mut configs = Configs::new();
            let r = self.token_configs(&m, &user, &a.token, &mut configs).and_then(|()| {
                let mut req = VerifyRequest::new(user.clone(), m.clone()).with_configs(configs).with_progress(
                    if self.reporter.mode() == Mode::Json {
                        self.reporter.sink("verify")
                    } else {
                        share_backup::ProgressSink::none()
                    },
                );
                if let Some(c) = &custodian {
                    req = req.with_custodian(c.clone());
                }
                if let Some(c) = &client {
                    req = req.with_client(c.clone());
                }
                self.block(orch.verify(req))
            });
            match r {
                Ok(h) => {
                    lines.push(health_line(&h));
                    checks.push(health_json(&h));
                }
                Err(e) => {
                    lines.push(format!("{m}: FAILED: {e}"));
                    checks.push(
                        json!({"method": m.as_str(), "ok": false, "kind": e.kind().name(), "message": e.message()}),
                    );
                    first_error.get_or_insert(e);
                }
            }
        }
        let ok = first_error.is_none();
        self.reporter
            .result(json!({"command": "verify", "user": user.as_str(), "ok": ok, "checks": checks}), &lines.join("\n"));
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    fn methods(&self, a: UserArgs) -> Result<(), Error> {
        let user = Self::user(&a)?;
        let (orch, store) = self.orchestrator()?;
        let methods = self.block(orch.methods(&user))?;
        let text = if methods.is_empty() {
            format!("{user} has no acknowledged backup in {}.", store)
        } else {
            methods.iter().map(MethodId::as_str).collect::<Vec<_>>().join("\n")
        };
        self.reporter.result(
            json!({
                "command": "methods",
                "user": user.as_str(),
                "methods": methods.iter().map(MethodId::as_str).collect::<Vec<_>>(),
            }),
            &text,
        );
        Ok(())
    }

    // ---- rotate ----

    fn rotate(&self, a: RotateArgs) -> Result<(), Error> {
        let user = Self::user(&a.user)?;
        let (custodian, client) = Self::binding(&a.binding)?;
        let method = MethodId::new(&a.method)?;
        let (orch, store) = self.orchestrator()?;
        orch.registry().resolve(Some(&method))?;
        let mut old = Configs::new();
        self.token_configs(&method, &user, &a.token, &mut old)?;
        let mut new = old.clone();
        if let Some(kind) = Self::secret_of(&method) {
            let label = self.secret_label(kind)?;
            let mut stdin = None;
            let current = self.given_password(&a.password, &mut stdin, &format!("current {label}"))?;
            let new_given = if a.new_password_stdin {
                refuse_terminal_stdin("--new-password-stdin")?;
                let lock = stdin.get_or_insert_with(|| std::io::stdin().lock());
                Some(read_secret_line(lock, &format!("new {label}"))?)
            } else if let Some(var) = &a.new_password_env {
                Some(secret_from_env(var, &format!("new {label}"))?)
            } else {
                None
            };
            drop(stdin);
            // Before a new password is asked for at the prompt, the current
            // one is checked, so a mistyped one is found before the new one is chosen.
            let current = match current {
                Some(c) if new_given.is_some() || !self.interactive() => c,
                given => self.checked_current_password(kind, given, &orch, &user, &custodian, &client, &old)?,
            };
            let next = self.new_password(kind, new_given, &user, "--new-password-stdin or --new-password-env VAR")?;
            kind.insert(&mut old, current);
            kind.insert(&mut new, next);
        }
        let mut req = RotateRequest::new(user.clone(), method)
            .with_configs(old)
            .with_new_configs(new)
            .with_progress(self.reporter.sink("rotation"));
        if let Some(c) = custodian {
            req = req.with_custodian(c);
        }
        if let Some(c) = client {
            req = req.with_client(c);
        }
        let receipt = self.block(orch.rotate(req))?;
        self.receipt("rotate", &user, &store, &receipt);
        Ok(())
    }

    /// The current password (`given`, or asked at the prompt) checked
    /// against the backup before the new one is chosen; a mistyped one can
    /// be typed again at the prompt.
    #[allow(clippy::too_many_arguments)]
    fn checked_current_password(
        &self,
        kind: Secret,
        given: Option<SecretString>,
        orch: &Orchestrator,
        user: &UserId,
        custodian: &Option<CustodianId>,
        client: &Option<ClientId>,
        base: &Configs,
    ) -> Result<SecretString, Error> {
        let label = self.secret_label(kind)?;
        let ask = PasswordAsk { kind, given, prompt: format!("Current {label}: "), label };
        let request = |configs| {
            bound(RecoverRequest::new(user.clone()), custodian, client).with_method(kind.method()).with_configs(configs)
        };
        // The recovered share is dropped (and zeroized) at once: this only checks the password.
        let (_, p) = self.recover_retrying(orch, request, base, Some(ask))?;
        p.ok_or_else(|| Error::internal("a password recovery returned no password"))
    }

    /// Recovers with the `base` configs, plus the password when `password`
    /// says how to get it (given, or asked at the prompt again while it is
    /// wrong, [`RECOVER_ATTEMPTS`] times at most); returns the recovery and
    /// the password that opened it.
    fn recover_retrying(
        &self,
        orch: &Orchestrator,
        request: impl Fn(Configs) -> RecoverRequest,
        base: &Configs,
        password: Option<PasswordAsk>,
    ) -> Result<(Recovered, Option<SecretString>), Error> {
        let Some(PasswordAsk { kind, mut given, prompt, label }) = password else {
            return Ok((self.block(orch.recover(request(base.clone())))?, None));
        };
        let attempts = if given.is_some() { 1 } else { RECOVER_ATTEMPTS };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let p = self.existing_password(given.take(), &prompt, "--password-stdin or --password-env VAR")?;
            let mut configs = base.clone();
            kind.insert(&mut configs, p.clone());
            match self.block(orch.recover(request(configs))) {
                Ok(r) => return Ok((r, Some(p))),
                Err(e)
                    if e.kind() == &ErrorKind::WrongSecret
                        && attempt < attempts
                        && !e.guesses().is_some_and(|g| g.locked_out || g.guesses_left == 0) =>
                {
                    // A guess-limited method says how many guesses are left.
                    let left =
                        e.guesses().map(|g| format!(" ({} guesses left before the backup is erased)", g.guesses_left));
                    let _ = writeln!(
                        std::io::stderr(),
                        "That {label} does not open this backup{}. Try again ({} attempt(s) left).",
                        left.unwrap_or_default(),
                        attempts - attempt
                    );
                }
                Err(e) => return Err(e),
            }
        }
    }

    // ---- calibrate ----

    fn calibrate(&self, a: CalibrateArgs) -> Result<(), Error> {
        let target = Duration::from_millis(a.target_ms);
        if self.reporter.mode() != Mode::Json && !self.global.quiet {
            let _ = writeln!(
                std::io::stderr(),
                "share-backup: calibrating the password KDF for {} ms per derivation (takes a few times that)...",
                a.target_ms
            );
        }
        let (time_cost, parallelism) = (a.time_cost, a.parallelism);
        let c = self.block(async move {
            tokio::task::spawn_blocking(move || pw::calibrate_with(target, time_cost, parallelism))
                .await
                .map_err(|_| Error::internal("the calibration stopped"))?
        })?;
        let p = c.params;
        let cap = pw::CostCap::DEFAULT;
        let within = cap.check(&p).is_ok();
        let mut text = format!(
            "One derivation at space_cost = {}, time_cost = {}, parallelism = {} ({} MiB) took {} ms here.\n\
             Put this in the config file to use it for new password backups:\n\n\
             [providers.password]\nspace_cost = {}\ntime_cost = {}\nparallelism = {}",
            p.space_cost(),
            p.time_cost(),
            p.parallelism(),
            p.memory_bytes() >> 20,
            c.measured.as_millis(),
            p.space_cost(),
            p.time_cost(),
            p.parallelism(),
        );
        if !within {
            text.push_str(&format!(
                "\nmax_work = {}\nmax_memory_mib = {}\n\nThese costs exceed the default recovery cap: every device that recovers must set the same max_work and max_memory_mib.",
                p.work(),
                (p.memory_bytes() >> 20).max(1)
            ));
        }
        self.reporter.result(
            json!({
                "command": "calibrate",
                "target_ms": a.target_ms,
                "space_cost": p.space_cost(),
                "time_cost": p.time_cost(),
                "parallelism": p.parallelism(),
                "memory_bytes": p.memory_bytes(),
                "work": p.work(),
                "measured_ms": c.measured.as_millis() as u64,
                "within_default_cap": within,
            }),
            &text,
        );
        Ok(())
    }

    // ---- probe ----

    fn probe(&self, a: ProbeArgs) -> Result<(), Error> {
        let user = Self::user(&a.user)?;
        let (orch, store) = self.orchestrator()?;
        let method = match Self::method_arg(a.method.as_deref())? {
            Some(m) => m,
            None => orch.registry().default_method()?,
        };
        let provider = orch.registry().resolve(Some(&method))?;
        let mut configs = Configs::new();
        self.token_configs(&method, &user, &a.token, &mut configs)?;
        if let Some(kind) = Self::secret_of(&method) {
            let label = self.secret_label(kind)?;
            let mut stdin = None;
            let given = self.given_password(&a.password, &mut stdin, label)?;
            drop(stdin);
            let p = self.existing_password(
                given,
                &format!("{} to check: ", capitalized(label)),
                "--password-stdin or --password-env VAR",
            )?;
            kind.insert(&mut configs, p);
        }
        let ctx = Context::new(user.clone(), BackupId::generate()?).with_configs(configs);
        let store_label = store;
        let store = orch.store().clone();
        let (provider_r, store_r) = self.block(async {
            let p = provider.probe(&ctx).await;
            let s = store.methods(&(&user).into()).await;
            Ok((p, s))
        })?;
        let text = format!(
            "provider {method}: {}\nstore {store_label}: {}",
            provider_r.as_ref().map_or_else(ToString::to_string, |()| "ok".to_owned()),
            store_r.as_ref().map_or_else(ToString::to_string, |_| "ok".to_owned()),
        );
        let err_json = |e: &Error| json!({"ok": false, "kind": e.kind().name(), "message": e.message()});
        self.reporter.result(
            json!({
                "command": "probe",
                "user": user.as_str(),
                "method": method.as_str(),
                "ok": provider_r.is_ok() && store_r.is_ok(),
                "provider": provider_r.as_ref().map_or_else(err_json, |()| json!({"ok": true})),
                "store": store_r.as_ref().map_or_else(err_json, |_| json!({"ok": true, "url": store_label})),
            }),
            &text,
        );
        provider_r?;
        store_r?;
        Ok(())
    }
}

/// Refuses to read a password from stdin when stdin is the terminal: what
/// is typed would be shown.
fn refuse_terminal_stdin(flag: &str) -> Result<(), Error> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return Err(Error::invalid_input(format!(
            "{flag} reads stdin, which is the terminal here: what you type would be shown"
        ))
        .with_hint(format!(
            "drop {flag} to type it at the hidden prompt, or pipe it in (printf '%s\\n' \"$PW\" | share-backup ...)"
        )));
    }
    Ok(())
}

/// `pin` → `PIN` is already upper case; `passcode` → `Passcode`.
fn capitalized(label: &str) -> String {
    let mut c = label.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

fn health_line(h: &HealthReport) -> String {
    let key = match &h.key {
        KeyCheck::Opens => "the provider's key opens it".to_owned(),
        KeyCheck::NotChecked(why) => format!("key not checked: {why}"),
        _ => "key check unknown".to_owned(),
    };
    let mut s = format!(
        "{}: ok: backup {} ({} bytes sealed, {} bytes of cipher text); {key}",
        h.method, h.backup_id, h.share_len, h.envelope_len
    );
    if !h.other_versions.is_empty() {
        s.push_str(&format!("; {} other version(s) stored", h.other_versions.len()));
    }
    s
}

fn health_json(h: &HealthReport) -> Value {
    let (checked, why) = match &h.key {
        KeyCheck::Opens => (true, None),
        KeyCheck::NotChecked(why) => (false, Some(*why)),
        _ => (false, None),
    };
    json!({
        "method": h.method.as_str(),
        "ok": true,
        "backup_id": h.backup_id.to_hex(),
        "share_len": h.share_len,
        "envelope_len": h.envelope_len,
        "key_checked": checked,
        "key_not_checked_because": why,
        "other_versions": h.other_versions.iter().map(BackupId::to_hex).collect::<Vec<_>>(),
    })
}

/// How [`App::recover_retrying`] gets a password: the one given on
/// stdin or in the environment, else the prompt with this text.
struct PasswordAsk {
    kind: Secret,
    given: Option<SecretString>,
    prompt: String,
    label: &'static str,
}

/// A per-call secret this tool asks for: a password (method password) or a
/// PIN (method guarded-pin). Both come from the same prompt and flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Secret {
    Password,
    Pin,
}

impl Secret {
    fn method(self) -> MethodId {
        match self {
            Secret::Password => MethodId::PASSWORD,
            Secret::Pin => pin::method(),
        }
    }

    fn insert(self, configs: &mut Configs, secret: SecretString) {
        match self {
            Secret::Password => {
                configs.insert(PasswordConfig::from(secret));
            }
            Secret::Pin => {
                configs.insert(PinConfig { pin: secret });
            }
        }
    }
}

/// `req` bound to the custodian and client ids, when given.
fn bound(mut req: RecoverRequest, custodian: &Option<CustodianId>, client: &Option<ClientId>) -> RecoverRequest {
    if let Some(c) = custodian {
        req = req.with_custodian(c.clone());
    }
    if let Some(c) = client {
        req = req.with_client(c.clone());
    }
    req
}
