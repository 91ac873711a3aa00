#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use share_backup_core::{
    BackupProvider, Capabilities, Context, DataKey, Error, ErrorKind, GuessDetails, KeyHeader, MethodId, Registration,
    Result, SealedKey, SettingSpec, Settings, Status, UserId, async_trait,
};
use share_backup_password::{NormalizedPassword, Policy};
use share_backup_realm_protocol::messages::codes;
use share_backup_realm_protocol::{
    DeleteRequest, ErrorBody, Recover1Response, Recover2Response, RecoverFailure, Recovery, RegisterResponse,
    RegistrationHeader, UnlockKey, register,
};

/// This provider's method id.
pub static METHOD: MethodId = MethodId::from_static("guarded-pin");

/// The per-call config: the PIN the user typed. Never printed or stored.
pub struct PinConfig {
    /// The PIN (normalized like a password before use).
    pub pin: SecretString,
}

impl PinConfig {
    /// A config holding `pin`.
    pub fn new(pin: impl Into<String>) -> Self {
        PinConfig { pin: SecretString::from(pin.into()) }
    }
}

impl fmt::Debug for PinConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinConfig { pin: [REDACTED] }")
    }
}

/// Per-call tokens, one per realm id, signed by the integrator's server for
/// this user. Takes precedence over the provider's [`TokenSource`].
#[derive(Default)]
pub struct RealmTokens(HashMap<String, SecretString>);

impl RealmTokens {
    /// No token.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds the token for `realm_id`.
    pub fn with(mut self, realm_id: impl Into<String>, token: impl Into<String>) -> Self {
        self.0.insert(realm_id.into(), SecretString::from(token.into()));
        self
    }
}

impl fmt::Debug for RealmTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.0.keys().collect();
        ids.sort();
        write!(f, "RealmTokens({ids:?}: [REDACTED])")
    }
}

/// Where the integrator's tokens come from when the call brings none
/// (typically: ask the integrator's server).
#[async_trait]
pub trait TokenSource: fmt::Debug + Send + Sync + 'static {
    /// A fresh token for `user` at `realm_id`.
    async fn token(&self, user: &UserId, realm_id: &str) -> Result<SecretString>;
}

/// One realm: its id and base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Realm {
    /// The realm id (its tokens' `aud`).
    pub id: String,
    /// Base URL: `https://…`, or `http://` to a loopback IP literal only.
    pub url: url::Url,
}

impl Realm {
    /// Checks and makes a realm.
    ///
    /// # Errors
    /// `InvalidInput` for a bad id or URL, or plain http to anything but a loopback IP literal.
    pub fn new(id: impl Into<String>, url: &str) -> Result<Self> {
        let id = id.into();
        if id.is_empty() || id.len() > share_backup_realm_protocol::client::MAX_REALM_ID_LEN {
            return Err(Error::invalid_input("a realm id is 1 to 64 bytes"));
        }
        let url = url::Url::parse(url).map_err(|_| Error::invalid_input(format!("realm {id}: not a URL")))?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            _ => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(Error::invalid_input(format!(
                    "realm {id}: use https:// (plain http only to 127.0.0.1 or [::1])"
                )));
            }
        }
        Ok(Realm { id, url })
    }
}

/// The guarded-PIN provider.
#[derive(Clone)]
pub struct GuardedPinProvider {
    realms: Arc<Vec<Realm>>,
    threshold: usize,
    max_guesses: u32,
    policy: Policy,
    http: reqwest::Client,
    tokens: Option<Arc<dyn TokenSource>>,
}

impl fmt::Debug for GuardedPinProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedPinProvider")
            .field("realms", &self.realms.iter().map(|r| r.id.as_str()).collect::<Vec<_>>())
            .field("threshold", &self.threshold)
            .field("max_guesses", &self.max_guesses)
            .field("policy", &self.policy.preset().name())
            .field("token_source", &self.tokens.is_some())
            .finish()
    }
}

/// Builds a [`GuardedPinProvider`].
#[derive(Debug, Default)]
#[must_use]
pub struct GuardedPinBuilder {
    realms: Vec<Realm>,
    threshold: Option<usize>,
    max_guesses: Option<u32>,
    policy: Option<Policy>,
    timeout: Option<Duration>,
    tokens: Option<Arc<dyn TokenSource>>,
    roots: Vec<Root>,
    unconfigured: bool,
}

/// A CA certificate trusted for the realms' HTTPS.
#[derive(Debug)]
enum Root {
    Der(Vec<u8>),
    Pem(Vec<u8>),
}

/// The environment variable read when the `realms` setting is absent.
pub const REALMS_ENV: &str = "SHARE_BACKUP_GUARDED_PIN_REALMS";

/// The default guess limit of a registration (per realm).
pub const DEFAULT_MAX_GUESSES: u32 = 10;

impl GuardedPinBuilder {
    /// Adds a realm.
    pub fn realm(mut self, realm: Realm) -> Self {
        self.realms.push(realm);
        self
    }
    /// Shares needed to recover (default: a majority, `n / 2 + 1`).
    pub fn threshold(mut self, t: usize) -> Self {
        self.threshold = Some(t);
        self
    }
    /// Wrong guesses per realm before erasure (default 10).
    pub fn max_guesses(mut self, n: u32) -> Self {
        self.max_guesses = Some(n);
        self
    }
    /// PIN requirements (default [`Policy::pin`]: 6+ digits, no 000000, 123456, …).
    pub fn policy(mut self, p: Policy) -> Self {
        self.policy = Some(p);
        self
    }
    /// Per-request timeout (default 10 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    /// Where tokens come from when a call brings no [`RealmTokens`].
    pub fn token_source(mut self, s: Arc<dyn TokenSource>) -> Self {
        self.tokens = Some(s);
        self
    }
    /// Trusts this CA (or self-signed) certificate, DER, for the realms'
    /// HTTPS, besides the platform's roots: for realms under a private CA.
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.roots.push(Root::Der(der.into()));
        self
    }
    /// Trusts every certificate of this PEM bundle for the realms' HTTPS,
    /// besides the platform's roots (the `ca_cert` setting reads a file into it).
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots.push(Root::Pem(pem.into()));
        self
    }
    /// Builds the provider.
    ///
    /// # Errors
    /// `InvalidInput` unless `2 <= threshold <= realms <= 16` with distinct ids.
    pub fn build(self) -> Result<GuardedPinProvider> {
        let n = self.realms.len();
        let threshold = self.threshold.unwrap_or(n / 2 + 1);
        let mut ids: Vec<_> = self.realms.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        if !self.unconfigured && (threshold < 2 || threshold > n)
            || n > share_backup_realm_protocol::client::MAX_REALMS
            || ids.len() != n
        {
            return Err(Error::invalid_input(format!(
                "guarded-pin needs 2 <= threshold <= realms <= 16 with distinct ids; got threshold {threshold} of {n} realms"
            )));
        }
        let max_guesses = self.max_guesses.unwrap_or(DEFAULT_MAX_GUESSES);
        if max_guesses == 0 || max_guesses > 1000 {
            return Err(Error::invalid_input("max_guesses is 1 to 1000"));
        }
        let policy = self.policy.unwrap_or_else(Policy::pin);
        policy.validate()?;
        let mut http = reqwest::Client::builder().timeout(self.timeout.unwrap_or(Duration::from_secs(10)));
        if !self.roots.is_empty() {
            let mut certs = Vec::new();
            for root in &self.roots {
                match root {
                    Root::Der(der) => certs.push(
                        reqwest::Certificate::from_der(der)
                            .map_err(|_| Error::invalid_input("a root certificate for the realms is not DER"))?,
                    ),
                    Root::Pem(pem) => {
                        let bundle = reqwest::Certificate::from_pem_bundle(pem)
                            .ok()
                            .filter(|b| !b.is_empty())
                            .ok_or_else(|| Error::invalid_input("the realms' CA file holds no PEM CERTIFICATE"))?;
                        certs.extend(bundle);
                    }
                }
            }
            http = http.tls_certs_merge(certs);
        }
        let http = http.build().map_err(|e| Error::internal("could not build the HTTP client").with_source(e))?;
        Ok(GuardedPinProvider {
            realms: Arc::new(self.realms),
            threshold,
            max_guesses,
            policy,
            http,
            tokens: self.tokens,
        })
    }
}

/// How one realm answered.
enum Answer<T> {
    Ok(T),
    Refused(ErrorBody, u16),
    Down(String),
}

impl GuardedPinProvider {
    /// A builder.
    pub fn builder() -> GuardedPinBuilder {
        GuardedPinBuilder::default()
    }

    /// Builds from registry settings: `realms` (`id=url,id=url,…`),
    /// `threshold`, `max_guesses`, `policy` (`pin`, `passcode`, `password`), `timeout_secs`,
    /// `ca_cert` (a PEM or DER CA file trusted for the realms' HTTPS).
    ///
    /// # Errors
    /// `InvalidInput` for unknown keys or bad values.
    pub fn from_settings(s: &Settings) -> Result<Self> {
        s.deny_unknown(&["realms", "threshold", "max_guesses", "policy", "timeout_secs", "ca_cert"])?;
        let mut b = GuardedPinProvider::builder();
        let from_env = std::env::var(REALMS_ENV).ok();
        let realms = s.get("realms").or(from_env.as_deref()).unwrap_or("");
        for entry in realms.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, url) =
                entry.split_once('=').ok_or_else(|| Error::invalid_input("setting realms: each entry is id=url"))?;
            b = b.realm(Realm::new(id.trim(), url.trim())?);
        }
        if let Some(t) = s.parse::<usize>("threshold")? {
            b = b.threshold(t);
        }
        if let Some(m) = s.parse::<u32>("max_guesses")? {
            b = b.max_guesses(m);
        }
        if let Some(p) = s.parse::<share_backup_password::Preset>("policy")? {
            b = b.policy(Policy::from_preset(p));
        }
        if let Some(path) = s.get("ca_cert").filter(|p| !p.trim().is_empty()) {
            let bytes = std::fs::read(path).map_err(|e| {
                Error::invalid_input(format!("setting ca_cert: cannot read {path}: {e}"))
                    .with_hint("give the path of a PEM (or DER) CA certificate that signed the realms' certificates")
            })?;
            b = if bytes.starts_with(b"-----BEGIN") {
                b.add_root_certificates_pem(bytes)
            } else {
                b.add_root_certificate(bytes)
            };
        }
        if let Some(t) = s.parse::<u64>("timeout_secs")? {
            b = b.timeout(Duration::from_secs(t));
        }
        if b.realms.is_empty() {
            // Registered but not configured: every call says how to configure it.
            b.threshold = Some(0);
            b.unconfigured = true;
        }
        b.build()
    }

    fn configured(&self) -> Result<()> {
        if self.realms.is_empty() {
            return Err(Error::invalid_input("guarded-pin has no realms configured")
                .with_hint(format!("set the realms setting (id=https://realm,…) or ${REALMS_ENV}"))
                .with_method(METHOD.clone()));
        }
        Ok(())
    }

    /// The realms.
    pub fn realms(&self) -> &[Realm] {
        &self.realms
    }

    /// The threshold.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The PIN requirements a new backup's PIN must meet.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn pin(&self, ctx: &Context, check_policy: bool) -> Result<NormalizedPassword> {
        let cfg = ctx.require_config::<PinConfig>()?;
        if check_policy {
            self.policy
                .enforce(cfg.pin.expose_secret(), &[ctx.user().as_str()])
                .map_err(|e| e.with_method(METHOD.clone()))?;
        }
        NormalizedPassword::new(cfg.pin.expose_secret()).map_err(|_| {
            Error::new(ErrorKind::WrongSecret, "the PIN contains characters no PIN can contain")
                .with_method(METHOD.clone())
        })
    }

    async fn token(&self, ctx: &Context, realm_id: &str) -> Result<SecretString> {
        if let Some(t) = ctx.config::<RealmTokens>() {
            if let Some(tok) = t.0.get(realm_id) {
                return Ok(tok.clone());
            }
        }
        match &self.tokens {
            Some(s) => s.token(ctx.user(), realm_id).await,
            None => Err(Error::invalid_input(format!("no token for realm {realm_id}"))
                .with_hint("insert RealmTokens into the call's configs, or give the provider a TokenSource")),
        }
    }

    fn realm(&self, id: &str) -> Option<&Realm> {
        self.realms.iter().find(|r| r.id == id)
    }

    async fn call<Req: Serialize + Sync, Resp: DeserializeOwned>(
        &self,
        ctx: &Context,
        realm_id: &str,
        path: &str,
        body: &Req,
    ) -> Answer<Resp> {
        match self.token(ctx, realm_id).await {
            Ok(token) => self.post_with(&token, realm_id, path, body).await,
            Err(e) => Answer::Down(e.message().to_string()),
        }
    }

    /// One request to `realm_id` with `token`.
    async fn post_with<Req: Serialize + Sync, Resp: DeserializeOwned>(
        &self,
        token: &SecretString,
        realm_id: &str,
        path: &str,
        body: &Req,
    ) -> Answer<Resp> {
        let Some(realm) = self.realm(realm_id) else {
            return Answer::Down(format!("realm {realm_id} is not configured"));
        };
        let url = match realm.url.join(path) {
            Ok(u) => u,
            Err(_) => return Answer::Down(format!("realm {realm_id}: bad URL")),
        };
        let resp = match self.http.post(url).bearer_auth(token.expose_secret()).json(body).send().await {
            Ok(r) => r,
            Err(e) => {
                // reqwest errors name the URL, never the bearer token.
                return Answer::Down(format!("realm {realm_id} is unreachable: {}", e.without_url()));
            }
        };
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            match resp.json::<Resp>().await {
                Ok(v) => Answer::Ok(v),
                Err(_) => Answer::Down(format!("realm {realm_id} sent a malformed answer")),
            }
        } else {
            match resp.json::<ErrorBody>().await {
                Ok(b) => Answer::Refused(b, status),
                Err(_) => Answer::Down(format!("realm {realm_id} failed with HTTP {status}")),
            }
        }
    }
}

fn refusal(realm: &str, body: &ErrorBody, status: u16) -> Error {
    let kind = match body.error.as_str() {
        codes::UNAUTHENTICATED => ErrorKind::Unauthenticated,
        codes::RATE_LIMITED => ErrorKind::RateLimited,
        codes::NOT_FOUND | codes::LOCKED_OUT => ErrorKind::NotFound,
        // Another recovery holds the last guess; the realm erases the part
        // when its phase-2 window ends unless that recovery unlocks.
        codes::EXHAUSTED => ErrorKind::InProgress,
        codes::CONFLICT => ErrorKind::Conflict,
        codes::INVALID_INPUT => ErrorKind::InvalidInput,
        _ if status >= 500 => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    Error::new(kind, format!("realm {realm}: {} ({})", body.message, body.error)).with_method(METHOD.clone())
}

fn unavailable(msg: String) -> Error {
    Error::new(ErrorKind::Unavailable, msg).with_method(METHOD.clone())
}

/// The first error of the most telling kind among realm failures, when fewer
/// than `threshold` realms could help.
fn too_few(threshold: usize, errors: Vec<Error>) -> Error {
    let pick = |k: ErrorKind| errors.iter().position(|e| e.kind() == &k);
    let reasons: Vec<String> = errors.iter().map(|e| e.message().to_string()).collect();
    let lead = pick(ErrorKind::Unauthenticated)
        .or_else(|| pick(ErrorKind::RateLimited))
        .or_else(|| pick(ErrorKind::InProgress))
        .or_else(|| pick(ErrorKind::Unavailable))
        .or_else(|| pick(ErrorKind::NotFound));
    let kind = lead.map_or(ErrorKind::Unavailable, |i| errors[i].kind().clone());
    Error::new(kind, format!("fewer than {threshold} realms could answer: {}", reasons.join("; ")))
        .with_method(METHOD.clone())
}

#[async_trait]
impl BackupProvider for GuardedPinProvider {
    fn method(&self) -> &MethodId {
        &METHOD
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new().with_needs_user_secret(true).with_remote(true).with_deletes(true).with_probes(true)
    }

    #[tracing::instrument(name = "guarded_pin.probe", skip_all, fields(backup_id = %ctx.backup_id()))]
    async fn probe(&self, ctx: &Context) -> Result<()> {
        self.configured()?;
        self.pin(ctx, true)?;
        for r in self.realms.iter() {
            self.token(ctx, &r.id).await?;
        }
        Ok(())
    }

    #[tracing::instrument(name = "guarded_pin.seal_key", skip_all, fields(backup_id = %ctx.backup_id()))]
    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey> {
        self.configured()?;
        let pin = self.pin(ctx, true)?;
        ctx.report(Status::Generating);
        let ids: Vec<String> = self.realms.iter().map(|r| r.id.clone()).collect();
        let reg = register(
            pin.expose_secret().as_bytes(),
            ctx.user().as_str(),
            *ctx.backup_id().as_bytes(),
            &ids,
            self.threshold,
            self.max_guesses,
        )
        .map_err(|e| Error::internal(format!("preparing the registration failed: {e}")).with_method(METHOD.clone()))?;
        ctx.report(Status::UploadingKey);
        let answers = join_all(
            reg.requests
                .iter()
                .zip(&ids)
                .map(|(req, id)| self.call::<_, RegisterResponse>(ctx, id, "v1/register", req)),
        )
        .await;
        let mut errors = vec![];
        for (a, id) in answers.into_iter().zip(&ids) {
            match a {
                Answer::Ok(_) => {}
                Answer::Refused(b, s) => errors.push(refusal(id, &b, s)),
                Answer::Down(m) => errors.push(unavailable(m)),
            }
        }
        if !errors.is_empty() {
            // Registration needs every realm: undo the parts that were stored.
            let _ = self.delete_parts(ctx, &reg.header).await;
            return Err(too_few(ids.len(), errors));
        }
        tracing::info!(user = %ctx.user(), backup_id = %ctx.backup_id(), realms = ids.len(), threshold = self.threshold, "guarded-pin registered");
        let key = share_backup_realm_protocol::client::data_key(
            &reg.secret[..],
            ctx.backup_id().as_bytes(),
            ctx.user().as_str(),
        );
        Ok(SealedKey { key: DataKey::from_slice(&key[..])?, header: KeyHeader::new(reg.header.to_bytes())? })
    }

    #[tracing::instrument(name = "guarded_pin.open_key", skip_all, fields(backup_id = %ctx.backup_id()))]
    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey> {
        self.configured()?;
        let header = RegistrationHeader::parse(header.as_bytes())
            .map_err(|e| Error::invalid_envelope(e.to_string()).with_method(METHOD.clone()))?;
        let pin = self.pin(ctx, false)?;
        let t = header.threshold as usize;
        ctx.report(Status::FetchingKey);
        let (recovery, phase1) = Recovery::start(pin.expose_secret().as_bytes(), ctx.user().as_str(), header)
            .map_err(|e| Error::internal(e.to_string()).with_method(METHOD.clone()))?;
        let realms = recovery.header().realms.clone();
        let answers = join_all(
            phase1.iter().zip(&realms).map(|(req, id)| self.call::<_, Recover1Response>(ctx, id, "v1/recover1", req)),
        )
        .await;
        let (mut ok, mut errors, mut erased, mut unanswered) = (vec![], vec![], 0usize, vec![]);
        for (pos, a) in answers.into_iter().enumerate() {
            match a {
                Answer::Ok(r) => ok.push((pos, r)),
                Answer::Refused(b, s) if b.error == codes::LOCKED_OUT => {
                    erased += 1;
                    errors.push(refusal(&realms[pos], &b, s));
                }
                Answer::Refused(b, s) => errors.push(refusal(&realms[pos], &b, s)),
                Answer::Down(m) => {
                    unanswered.push(pos);
                    errors.push(unavailable(m));
                }
            }
        }
        if ok.len() < t {
            // More than n - t realms (and at least two) say they erased
            // their part for lack of guesses: fewer than t can still hold
            // one, so the backup is gone (a realm saying so falsely only
            // speaks for itself, and one realm's word is never enough).
            if erased > lockout_quorum(realms.len(), t) {
                return Err(locked_out_error(
                    "this backup was erased after too many wrong PINs; no PIN can recover it now",
                ));
            }
            return Err(too_few(t, errors));
        }
        let key = match recovery.unlock(&ok) {
            Ok(k) => k,
            Err(_) => return Err(self.wrong_pin(ctx, &recovery, &ok, erased, t).await),
        };
        // Phase 2 at every realm that answered phase 1, so each resets its
        // count; the realms whose answer never arrived get theirs in the
        // background (`reset_unanswered`).
        let positions: Vec<usize> = ok.iter().map(|(p, _)| *p).collect();
        let reqs = recovery.phase2(&key, &positions);
        let answers = join_all(
            reqs.iter().map(|(p, req)| self.call::<_, Recover2Response>(ctx, &realms[*p], "v1/recover2", req)),
        )
        .await;
        // Only after the phase 2 the recovery waits for, so fetching these
        // tokens never delays it.
        self.reset_unanswered(ctx, &recovery, &key, &unanswered).await;
        let mut shares = vec![];
        for ((p, _), a) in reqs.iter().zip(answers) {
            match a {
                Answer::Ok(r) => shares.push((*p, r)),
                Answer::Refused(b, s) => errors.push(refusal(&realms[*p], &b, s)),
                Answer::Down(m) => errors.push(unavailable(m)),
            }
        }
        if shares.len() < t {
            return Err(too_few(t, errors));
        }
        match recovery.finish(&key, &shares) {
            Ok(dk) => DataKey::from_slice(&dk[..]),
            Err(RecoverFailure::NoSecret { bad_realms }) => {
                let names: Vec<&str> = bad_realms.iter().filter_map(|p| realms.get(*p).map(String::as_str)).collect();
                Err(Error::new(
                    ErrorKind::Integrity,
                    format!("fewer than {t} realms released shares that authenticate; altered by: {names:?}"),
                )
                .with_method(METHOD.clone()))
            }
            Err(RecoverFailure::NoUnlock) => {
                Err(Error::internal("unexpected recovery state").with_method(METHOD.clone()))
            }
        }
    }

    #[tracing::instrument(name = "guarded_pin.delete_key", skip_all, fields(backup_id = %ctx.backup_id()))]
    async fn delete_key(&self, header: &KeyHeader, ctx: &Context) -> Result<()> {
        self.configured()?;
        let header = RegistrationHeader::parse(header.as_bytes())
            .map_err(|e| Error::invalid_envelope(e.to_string()).with_method(METHOD.clone()))?;
        self.delete_parts(ctx, &header).await
    }
}

impl GuardedPinProvider {
    /// A realm whose phase-1 answer never arrived (down, or slow past the
    /// timeout) may still have counted the guess: it gets its phase 2 too,
    /// in the background (its answer is not needed), so a count left at the
    /// limit does not lead it to erase its part after a successful recovery.
    async fn reset_unanswered(&self, ctx: &Context, recovery: &Recovery, key: &UnlockKey, unanswered: &[usize]) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let realms = &recovery.header().realms;
        for (p, req) in recovery.phase2(key, unanswered) {
            let Ok(token) = self.token(ctx, &realms[p]).await else { continue };
            let (this, realm) = (self.clone(), realms[p].clone());
            rt.spawn(async move {
                let _ = this.post_with::<_, Recover2Response>(&token, &realm, "v1/recover2", &req).await;
            });
        }
    }

    async fn delete_parts(&self, ctx: &Context, header: &RegistrationHeader) -> Result<()> {
        let req = DeleteRequest { reg_id: share_backup_realm_protocol::client::hex_id(&header.reg_id) };
        let answers =
            join_all(header.realms.iter().map(|id| self.call::<_, serde_json::Value>(ctx, id, "v1/delete", &req)))
                .await;
        let mut errors = vec![];
        for (a, id) in answers.into_iter().zip(&header.realms) {
            match a {
                Answer::Ok(_) => {}
                Answer::Refused(b, _) if b.error == codes::NOT_FOUND => {}
                Answer::Refused(b, s) => errors.push(refusal(id, &b, s)),
                Answer::Down(m) => errors.push(unavailable(m)),
            }
        }
        match errors.into_iter().next() {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// A wrong PIN (phase 1's evaluations reconstruct no committed unlock
    /// key): how many guesses are left, and whether the backup is gone.
    ///
    /// Nothing here trusts one realm's word about another realm's part. The
    /// guess counts the realms report only shape the message. A realm that
    /// reports no guess left is sent a wrong phase-2 tag, so it erases its
    /// part now by its own count (an honest realm erases only a part whose
    /// count is exhausted; without the tag it erases it itself after its
    /// phase-2 window). The client deletes the remaining parts only when
    /// more than n - t realms confirm (answer `locked_out`) that their part
    /// is erased, so that fewer than t honest realms could still hold one:
    /// a lying realm can then neither make the client delete honest parts
    /// nor turn a wrong answer into an erasure.
    async fn wrong_pin(
        &self,
        ctx: &Context,
        recovery: &Recovery,
        ok: &[(usize, Recover1Response)],
        erased_before: usize,
        t: usize,
    ) -> Error {
        let realms = &recovery.header().realms;
        let exhausted: Vec<usize> = ok.iter().filter(|(_, r)| r.guesses_left == 0).map(|(p, _)| *p).collect();
        let confirm = exhausted.iter().map(|&p| async move {
            let Ok(req) = recovery.phase2_wrong() else { return false };
            matches!(
                self.call::<_, Recover2Response>(ctx, &realms[p], "v1/recover2", &req).await,
                Answer::Refused(b, _) if b.error == codes::LOCKED_OUT
            )
        });
        let confirmed = erased_before + join_all(confirm).await.into_iter().filter(|c| *c).count();
        if confirmed > lockout_quorum(realms.len(), t) {
            // Fewer than t realms can still hold a part: the backup cannot be
            // recovered, so the others are asked to delete theirs, as
            // delete_key does. A realm that is down keeps its part (fewer
            // than t shares, which reveal nothing) until delete_key reaches it.
            let rest = self.delete_parts(ctx, recovery.header()).await;
            tracing::warn!(user = %ctx.user(), backup_id = %ctx.backup_id(), confirmed, all_deleted = rest.is_ok(), "last wrong PIN: the registration is erased");
            return locked_out_error("wrong PIN, and that was the last guess: the backup has been erased");
        }
        // The t-th largest count: what an honest client querying every realm
        // can still try. Reported by the realms, so only as good as they are.
        let mut left: Vec<u32> = ok.iter().map(|(_, r)| r.guesses_left).collect();
        left.sort_unstable_by(|a, b| b.cmp(a));
        let remaining = left.get(t - 1).copied().unwrap_or(0);
        let (msg, hint) = if remaining > 0 {
            (
                format!("wrong PIN; {remaining} guesses left"),
                "check the PIN and try again; after the last wrong guess the backup is erased",
            )
        } else {
            (
                "wrong PIN; the realms report no guess left, but fewer than needed confirmed the erasure".to_string(),
                "a realm may be down or misbehaving; the backup is probably lost, retry later to confirm",
            )
        };
        Error::new(ErrorKind::WrongSecret, msg)
            .with_hint(hint)
            .with_guesses(GuessDetails::new(remaining, false))
            .with_method(METHOD.clone())
    }
}

/// How many realms must confirm an erasure, plus one, before the client
/// calls the backup erased and deletes the rest: more than `n - t` (so fewer
/// than `t` could still hold a part), and never one realm alone (with
/// `t = n`, a single lying realm could otherwise erase the others' parts).
fn lockout_quorum(n: usize, t: usize) -> usize {
    (n - t).max(1)
}

/// The typed lock-out: `WrongSecret` with no guess left and `locked_out`.
fn locked_out_error(message: &'static str) -> Error {
    Error::new(ErrorKind::WrongSecret, message)
        .with_hint("this backup can never be recovered; make a new backup with another method or PIN")
        .with_guesses(GuessDetails::new(0, true))
        .with_method(METHOD.clone())
}

fn build(s: &Settings) -> Result<Arc<dyn BackupProvider>> {
    Ok(Arc::new(GuardedPinProvider::from_settings(s)?))
}

share_backup_core::register_provider!(
    Registration::new(
        "guarded-pin",
        "A short PIN checked by guess-limited realms (OPRF + Shamir); erased after the guess limit",
        env!("CARGO_PKG_NAME"),
        build
    )
    .with_settings(&[
        SettingSpec::new(
            "realms",
            "the realms, id=url comma-separated (https, or http to 127.0.0.1)",
            "a=https://realm-a.example,b=https://realm-b.example,c=https://realm-c.example"
        ),
        SettingSpec::new("threshold", "realms needed to recover (default: a majority)", "2"),
        SettingSpec::new("max_guesses", "wrong guesses per realm before erasure (default 10)", "10"),
        SettingSpec::new("policy", "PIN requirements preset: pin (default), passcode or password", "pin"),
        SettingSpec::new("timeout_secs", "per-request timeout in seconds (default 10)", "10"),
        SettingSpec::new(
            "ca_cert",
            "path of a PEM or DER CA certificate file (e.g. /etc/share-backup/realms-ca.pem) trusted for the realms' HTTPS besides the platform's roots; empty: none",
            ""
        ),
    ])
);

/// A [`TokenSource`] that signs tokens itself with the integrator's Ed25519
/// key. For tests, examples and an integrator's own server: a client app
/// must never hold this key (it could then burn any user's guesses).
pub struct SigningTokenSource {
    issuer: String,
    key: share_backup_realm_protocol::SigningKey,
    lifetime_secs: u64,
}

impl SigningTokenSource {
    /// Signs as `issuer` with `key`; tokens live 5 minutes.
    pub fn new(issuer: impl Into<String>, key: share_backup_realm_protocol::SigningKey) -> Self {
        SigningTokenSource { issuer: issuer.into(), key, lifetime_secs: 300 }
    }
}

impl fmt::Debug for SigningTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningTokenSource").field("issuer", &self.issuer).field("key", &"[REDACTED]").finish()
    }
}

#[async_trait]
impl TokenSource for SigningTokenSource {
    async fn token(&self, user: &UserId, realm_id: &str) -> Result<SecretString> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| Error::internal("the clock is before 1970"))?
            .as_secs();
        let claims = share_backup_realm_protocol::Claims {
            iss: self.issuer.clone(),
            sub: user.as_str().to_string(),
            aud: realm_id.to_string(),
            iat: now,
            exp: now + self.lifetime_secs,
        };
        Ok(SecretString::from(share_backup_realm_protocol::mint(&self.key, &claims)))
    }
}
