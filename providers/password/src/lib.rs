#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod kdf;
mod normalize;
mod policy;
mod settings;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};
use share_backup_core::{
    BackupProvider, BackupProviderExt, BackupShare, Capabilities, Context, DataKey, Envelope, Error, ErrorKind,
    KeyHeader, MethodId, Registration, Result, SealedKey, Settings, Status, async_trait,
};
use tracing::Instrument;

pub use kdf::{
    BLOCK_LEN, BelowCostFloor, Calibration, CapExceeded, CostCap, HEADER_VERSION, KCV_LEN, KdfAlgorithm, KdfParams,
    MAX_PARALLELISM, MAX_SALT_LEN, MAX_SPACE_COST, MAX_TIME_COST, MIN_SALT_LEN, MIN_SEAL_SPACE_COST, MIN_SEAL_WORK,
    PasswordHeader, SALT_LEN, balloon_sha256, calibrate, calibrate_with,
};
pub use normalize::{MAX_PASSWORD_INPUT_BYTES, NormalizeError, NormalizedPassword};
pub use policy::{
    BUILTIN_BLOCKLIST, Blocklist, CharClass, CharClasses, MAX_PASSWORD_CHARS, Policy, PolicyViolations, Preset,
    Strength, Violation, strength,
};
pub use settings::SETTINGS;

/// This provider's method id.
pub static METHOD: MethodId = MethodId::PASSWORD;

/// The per-call config: the password, PIN or passcode the user typed.
///
/// Insert it into the call's [`Configs`](share_backup_core::Configs). It is
/// never printed, logged or stored; forgetting it means the backup cannot
/// be recovered.
///
/// ```
/// use share_backup_core::Configs;
/// use share_backup_password::PasswordConfig;
/// let configs = Configs::new().with(PasswordConfig::new("correct horse battery staple"));
/// assert_eq!(format!("{:?}", configs.get::<PasswordConfig>().unwrap()), "PasswordConfig { password: [REDACTED] }");
/// ```
pub struct PasswordConfig {
    /// The secret as typed (normalized by the provider before use).
    pub password: SecretString,
}

impl PasswordConfig {
    /// A config holding `password`.
    pub fn new(password: impl Into<String>) -> Self {
        PasswordConfig { password: SecretString::from(password.into()) }
    }
}

impl From<SecretString> for PasswordConfig {
    fn from(password: SecretString) -> Self {
        PasswordConfig { password }
    }
}

impl Clone for PasswordConfig {
    fn clone(&self) -> Self {
        PasswordConfig { password: SecretString::from(self.password.expose_secret()) }
    }
}

impl fmt::Debug for PasswordConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordConfig { password: [REDACTED] }")
    }
}

/// The password provider: derives each backup's data key from the user's
/// password with Balloon-M-SHA-256; stores nothing anywhere.
///
/// ```
/// use share_backup_password::{KdfParams, PasswordProvider, Policy};
/// let provider = PasswordProvider::builder()
///     .policy(Policy::pin())
///     .kdf_params(KdfParams::new(1 << 18, 3, 1).unwrap())
///     .build()
///     .unwrap();
/// assert_eq!(provider.policy().min_length(), 6);
/// ```
#[derive(Clone)]
pub struct PasswordProvider {
    policy: Policy,
    params: KdfParams,
    cap: CostCap,
    limit: Arc<tokio::sync::Semaphore>,
    max_concurrent: usize,
    derivations: Arc<AtomicU64>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

/// Builds a [`PasswordProvider`]; every setting has a default.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct PasswordProviderBuilder {
    policy: Option<Policy>,
    params: Option<KdfParams>,
    cap: Option<CostCap>,
    max_concurrent: Option<usize>,
    below_floor: bool,
}

impl PasswordProviderBuilder {
    /// The requirements new passwords must meet ([`Policy::password`] by default).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The KDF costs of new backups ([`KdfParams::DEFAULT`] by default).
    pub fn kdf_params(mut self, params: KdfParams) -> Self {
        self.params = Some(params);
        self
    }

    /// The most work a backup may ask for on recovery ([`CostCap::DEFAULT`]).
    pub fn cost_cap(mut self, cap: CostCap) -> Self {
        self.cap = Some(cap);
        self
    }

    /// The most key derivations this provider runs at once (default: the
    /// number of CPUs). Each holds up to the cap's memory, so this bounds
    /// the memory a burst of recoveries can take to `n × max_memory_bytes`;
    /// more derivations wait their turn (a derivation is CPU-bound: running
    /// more than the cores at once gains nothing).
    pub fn max_concurrent_derivations(mut self, n: usize) -> Self {
        self.max_concurrent = Some(n);
        self
    }

    /// **Tests and benchmarks only** (the `test-support` feature, never
    /// enabled by a production build): accept KDF costs below the floor for
    /// new backups ([`MIN_SEAL_SPACE_COST`], [`MIN_SEAL_WORK`]), so that a
    /// test can derive in microseconds. Backups made so are cheap to guess.
    #[cfg(feature = "test-support")]
    pub fn insecure_allow_costs_below_floor(mut self) -> Self {
        self.below_floor = true;
        self
    }

    /// Builds the provider.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when the policy is inconsistent, the
    /// costs are below the floor for new backups (source [`BelowCostFloor`]),
    /// or the costs exceed the cap (this process could not open its own
    /// backups).
    pub fn build(self) -> Result<PasswordProvider> {
        let policy = self.policy.unwrap_or_default();
        let params = self.params.unwrap_or_default();
        let cap = self.cap.unwrap_or_default();
        policy.validate()?;
        if !self.below_floor {
            kdf::check_floor(&params)?;
        }
        cap.check(&params).map_err(|e| {
            Error::invalid_input(format!(
                "the KDF costs for new backups exceed the cost cap, so this process could not open them: {}",
                e.message()
            ))
            .with_hint("lower space_cost / time_cost / parallelism, or raise max_work / max_memory_mib")
        })?;
        let max_concurrent = self.max_concurrent.unwrap_or_else(default_concurrency);
        if max_concurrent == 0 || max_concurrent > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(Error::invalid_input("max_concurrent_derivations must be at least 1"));
        }
        Ok(PasswordProvider::with_parts(policy, params, cap, max_concurrent))
    }
}

impl Default for PasswordProvider {
    fn default() -> Self {
        PasswordProvider::with_parts(Policy::default(), KdfParams::DEFAULT, CostCap::DEFAULT, default_concurrency())
    }
}

fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

impl PasswordProvider {
    fn with_parts(policy: Policy, params: KdfParams, cap: CostCap, max_concurrent: usize) -> Self {
        let limit = Arc::new(tokio::sync::Semaphore::new(max_concurrent));
        PasswordProvider {
            policy,
            params,
            cap,
            limit,
            max_concurrent,
            derivations: Arc::new(AtomicU64::new(0)),
            running: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// How many key derivations this provider has started (sealing and
    /// opening), counted inside the KDF module just before the Balloon
    /// hashing begins; clones of the provider share the count. A diagnostic
    /// for tests and metrics: a refused envelope (over the [`CostCap`],
    /// malformed) leaves it unchanged, because it is refused before any
    /// hashing.
    pub fn derivations_started(&self) -> u64 {
        self.derivations.load(Ordering::Relaxed)
    }

    /// The most key derivations run at once.
    pub fn max_concurrent_derivations(&self) -> usize {
        self.max_concurrent
    }

    /// Runs a derivation under the concurrency limit, off the executor. The
    /// permit moves into the blocking task and is released when the
    /// derivation ends, not when this future is dropped: a cancelled call
    /// keeps its slot until its Balloon run finishes, so cancel-and-retry
    /// never runs more than `max_concurrent` derivations.
    async fn derive<T: Send + 'static>(&self, f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let permit = self
            .limit
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("the derivation limiter was closed"))?;
        let (running, peak) = (self.running.clone(), self.peak.clone());
        off_executor(move || {
            let _permit = permit;
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let r = f();
            running.fetch_sub(1, Ordering::SeqCst);
            r
        })
        .await
    }

    /// The most key derivations that have run at the same moment in this
    /// provider (and its clones) so far: a diagnostic for tests and metrics,
    /// never above [`Self::max_concurrent_derivations`].
    pub fn peak_concurrent_derivations(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// A builder with the defaults.
    pub fn builder() -> PasswordProviderBuilder {
        PasswordProviderBuilder::default()
    }

    /// Builds the provider from registry settings (see [`SETTINGS`] and the README).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for an unknown key, a value that does not
    /// parse, or an inconsistent combination.
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        settings::build(settings)
    }

    /// The requirements new passwords must meet.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The KDF costs of new backups.
    pub fn kdf_params(&self) -> &KdfParams {
        &self.params
    }

    /// The cap checked on recovery.
    pub fn cost_cap(&self) -> &CostCap {
        &self.cap
    }

    /// Checks `password` against the policy for `ctx`'s user, without deriving anything.
    ///
    /// # Errors
    /// [`ErrorKind::PolicyViolation`] with a [`PolicyViolations`] source.
    pub fn check_password(&self, password: &str, ctx: &Context) -> Result<()> {
        self.policy.enforce(password, &[ctx.user().as_str()])
    }

    /// Re-wraps a backup under a new password without changing the share:
    /// opens `envelope` with the [`PasswordConfig`] of `old`, and seals the
    /// same share with the one of `new` (checked against the policy) into a
    /// new envelope with `new`'s backup id. Store the result as a new
    /// version; the old envelope stays valid with the old password until it
    /// is pruned.
    ///
    /// # Errors
    /// `WrongSecret` for a wrong old password; `PolicyViolation` for a new
    /// one that breaks the policy; `InvalidInput` if `new` names another
    /// user, custodian or client than `old`.
    pub async fn rewrap(&self, envelope: &Envelope, old: &Context, new: &Context) -> Result<Envelope> {
        if old.binding() != new.binding() {
            return Err(Error::invalid_input(
                "re-wrapping keeps the backup's user, custodian and client; both contexts must name the same ones",
            )
            .with_method(METHOD.clone()));
        }
        // Check the new password first: no KDF run is wasted on a rejected one.
        let new_pw = normalized(new)?;
        violations_to_error(self.policy.check_normalized(&new_pw, &[new.user().as_str()]))?;
        let share: BackupShare = self.open_envelope(envelope, old).await?;
        let (env, _key) = self.seal_share(&share, new).await?;
        Ok(env)
    }
}

fn violations_to_error(v: Vec<Violation>) -> Result<()> {
    policy::violations_to_result(v).map_err(|e| e.with_method(METHOD.clone()))
}

fn normalized(ctx: &Context) -> Result<NormalizedPassword> {
    let cfg = ctx.require_config::<PasswordConfig>()?;
    NormalizedPassword::new(cfg.password.expose_secret()).map_err(|e| {
        let v = match e {
            NormalizeError::Empty => Violation::Empty,
            NormalizeError::TooLong => {
                Violation::TooLong { max: MAX_PASSWORD_CHARS, actual: cfg.password.expose_secret().chars().count() }
            }
            _ => Violation::InvalidCharacter,
        };
        policy::violation_error(vec![v]).with_method(METHOD.clone())
    })
}

/// Runs CPU-heavy key derivation off the async executor when a tokio
/// runtime is present (on its blocking pool), inline otherwise.
async fn off_executor<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(f).await.map_err(|e| {
            if e.is_cancelled() {
                Error::new(ErrorKind::Cancelled, "the key derivation was cancelled")
            } else {
                Error::internal("the key derivation panicked")
            }
        })?,
        Err(_) => f(),
    }
}

#[async_trait]
impl BackupProvider for PasswordProvider {
    fn method(&self) -> &MethodId {
        &METHOD
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new().with_needs_user_secret(true).with_remote(false).with_deletes(false).with_probes(true)
    }

    async fn probe(&self, ctx: &Context) -> Result<()> {
        let pw = normalized(ctx)?;
        violations_to_error(self.policy.check_normalized(&pw, &[ctx.user().as_str()]))
    }

    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey> {
        let span = tracing::info_span!(
            "password.seal_key",
            user = %ctx.user(),
            backup_id = %ctx.backup_id(),
            space_cost = self.params.space_cost(),
            time_cost = self.params.time_cost(),
            parallelism = self.params.parallelism(),
        );
        async {
            let pw = normalized(ctx)?;
            violations_to_error(self.policy.check_normalized(&pw, &[ctx.user().as_str()]))?;
            ctx.report(Status::DerivingKey);
            let (params, started) = (self.params, self.derivations.clone());
            let t0 = Instant::now();
            let (derived, header) = self.derive(move || kdf::seal(&pw, &params, &started)).await?;
            tracing::info!(ms = t0.elapsed().as_millis() as u64, "derived the data key of a new backup");
            Ok(SealedKey { key: derived.key, header: KeyHeader::new(header.to_bytes())? })
        }
        .instrument(span)
        .await
        .map_err(|e: Error| if e.method().is_some() { e } else { e.with_method(METHOD.clone()) })
    }

    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey> {
        let span = tracing::info_span!("password.open_key", user = %ctx.user(), backup_id = %ctx.backup_id());
        async {
            // Parse and check the cap before anything else: a hostile header
            // costs nothing but this check.
            let parsed = PasswordHeader::parse(header.as_bytes())?;
            self.cap.check(parsed.params())?;
            tracing::debug!(params = %parsed.params(), algorithm = parsed.algorithm().name(), "header accepted");
            let cfg = ctx.require_config::<PasswordConfig>()?;
            // NormalizedPassword::new refuses an overlong text before normalizing it.
            let pw = NormalizedPassword::new(cfg.password.expose_secret()).map_err(|e| match e {
                NormalizeError::Empty => Error::new(ErrorKind::WrongSecret, "no password was given (it is empty)")
                    .with_hint("type the password this backup was made with"),
                NormalizeError::TooLong => Error::new(
                    ErrorKind::WrongSecret,
                    "the password is longer than any password a backup can be made with, so it cannot open this backup",
                )
                .with_hint("check that the password field holds only the password, then try again"),
                _ => Error::new(
                    ErrorKind::WrongSecret,
                    "the password contains characters no password can contain, so it cannot open this backup",
                )
                .with_hint("check for a stray line break or tab, then try again"),
            })?;
            ctx.report(Status::DerivingKey);
            let (cap, header, started) = (self.cap, header.clone(), self.derivations.clone());
            let t0 = Instant::now();
            let r = self.derive(move || kdf::open(&pw, &header, &cap, &started)).await;
            tracing::info!(ms = t0.elapsed().as_millis() as u64, ok = r.is_ok(), "derived a backup's data key");
            r
        }
        .instrument(span)
        .await
        .map_err(|e: Error| if e.method().is_some() { e } else { e.with_method(METHOD.clone()) })
    }

    async fn delete_key(&self, _header: &KeyHeader, _ctx: &Context) -> Result<()> {
        // Nothing is stored anywhere: the key exists only while derived.
        Ok(())
    }
}

impl fmt::Debug for PasswordProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordProvider")
            .field("policy", &self.policy.preset().name())
            .field("kdf", &format_args!("{}", self.params))
            .field("max_work", &self.cap.max_work())
            .field("max_memory_bytes", &self.cap.max_memory_bytes())
            .field("max_concurrent_derivations", &self.max_concurrent)
            .finish()
    }
}

fn build(settings: &Settings) -> Result<Arc<dyn BackupProvider>> {
    Ok(Arc::new(PasswordProvider::from_settings(settings)?))
}

share_backup_core::register_provider!(
    Registration::new(
        "password",
        "Password, PIN or passcode chosen by the user; balloon-hash KDF; no escrow",
        env!("CARGO_PKG_NAME"),
        build
    )
    .with_settings(SETTINGS)
);

// Test-vector support, only with the `test-support` feature (for this
// crate's own tests; never enable it in a production build).
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod __private {
    //! Test-vector support; not a stable API.
    use super::*;

    /// Seals with a fixed salt (test vectors only): returns the header bytes and key.
    pub fn seal_with_salt(password: &str, params: &KdfParams, salt: Vec<u8>) -> Result<(Vec<u8>, DataKey)> {
        let pw = NormalizedPassword::new(password).map_err(|e| Error::invalid_input(e.to_string()))?;
        let (d, h) = kdf::seal_with_salt(&pw, params, salt, &AtomicU64::new(0))?;
        Ok((h.to_bytes(), d.key))
    }
}
