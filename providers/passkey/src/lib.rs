#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod custody;
mod software;
mod webauthn;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use share_backup_core::{
    BackupProvider, Capabilities, Context, DataKey, Error, ErrorKind, KeyHeader, MethodId, Registration, Result,
    SealedKey, SettingSpec, Settings, Status, async_trait,
};
use tracing::Instrument;

pub use custody::{
    Entry, HEADER_VERSION, HKDF_INFO_LABEL, HKDF_SALT, MAX_CREDENTIALS, MAX_RP_ID_LEN, PasskeyHeader, WRAP_AD,
    WRAPPED_LEN, check_rp_id, hkdf_info,
};
pub use software::{Behaviour, SoftwareAuthenticator};
pub use webauthn::{
    AuthenticatorSelection, CeremonyError, CredentialDescriptor, CredentialId, MAX_CREDENTIAL_ID_LEN, PRF_CONTEXT,
    PRF_LEN, PrfAuthenticator, PrfCredential, PrfInput, PrfOutput, PrfRequest, PrfResponse, PubKeyCredParam, Purpose,
    RegistrationOptions, RpEntity, UserEntity,
};

/// This provider's method id.
pub static METHOD: MethodId = MethodId::from_static("passkey");

/// The default time a ceremony may take before the call fails as `Cancelled`.
pub const DEFAULT_CEREMONY_TIMEOUT: Duration = Duration::from_secs(300);

/// The per-call config: the app's authenticator, and the credentials a new
/// backup enrols (any one of them opens it).
///
/// ```
/// use std::sync::Arc;
/// use share_backup_core::Configs;
/// use share_backup_passkey::{PasskeyConfig, SoftwareAuthenticator};
/// let auth = SoftwareAuthenticator::from_seed(b"demo");
/// let ids = auth.credential_ids();
/// let configs = Configs::new().with(PasskeyConfig::new(Arc::new(auth), ids));
/// assert!(configs.get::<PasskeyConfig>().is_some());
/// ```
#[derive(Clone)]
pub struct PasskeyConfig {
    authenticator: Arc<dyn PrfAuthenticator>,
    enroll: Vec<CredentialId>,
}

impl PasskeyConfig {
    /// The authenticator the app drives, and the credentials to enrol in a
    /// new backup (ignored on recovery, where the header says which ones
    /// are enrolled). Empty `enroll` means the provider's `credential_ids`.
    pub fn new(authenticator: Arc<dyn PrfAuthenticator>, enroll: Vec<CredentialId>) -> Self {
        PasskeyConfig { authenticator, enroll }
    }

    /// The credentials a new backup enrols.
    pub fn enroll(&self) -> &[CredentialId] {
        &self.enroll
    }
}

impl fmt::Debug for PasskeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyConfig").field("enroll", &self.enroll).finish_non_exhaustive()
    }
}

/// Keeps each backup's data key wrapped under keys derived from the PRF
/// outputs of the user's passkeys (WebAuthn `prf` extension); stores
/// nothing anywhere: the key header carries the wrapped keys.
///
/// ```
/// use share_backup_passkey::{PasskeyProvider, CredentialId};
/// let p = PasskeyProvider::builder().rp_id("wallet.example.com").build().unwrap();
/// assert_eq!(p.rp_id(), Some("wallet.example.com"));
/// ```
#[derive(Clone, Debug)]
pub struct PasskeyProvider {
    rp_id: Option<String>,
    accepted: Option<Vec<CredentialId>>,
    timeout: Duration,
}

/// Builds a [`PasskeyProvider`].
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct PasskeyProviderBuilder {
    rp_id: Option<String>,
    accepted: Option<Vec<CredentialId>>,
    timeout: Option<Duration>,
}

impl PasskeyProviderBuilder {
    /// The relying-party id the passkeys are registered for (required to
    /// back up or recover).
    pub fn rp_id(mut self, rp_id: impl Into<String>) -> Self {
        self.rp_id = Some(rp_id.into());
        self
    }

    /// The only credentials this provider enrols and accepts (default:
    /// whichever the per-call [`PasskeyConfig`] names, and every enrolled one).
    pub fn credential_ids(mut self, ids: Vec<CredentialId>) -> Self {
        self.accepted = Some(ids);
        self
    }

    /// How long one ceremony may take (default 300 s); then the call is `Cancelled`.
    pub fn ceremony_timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Builds the provider.
    ///
    /// # Errors
    /// `InvalidInput` for an invalid relying-party id or an empty credential list.
    pub fn build(self) -> Result<PasskeyProvider> {
        if let Some(rp) = &self.rp_id {
            check_rp_id(rp)?;
        }
        if let Some(ids) = &self.accepted {
            if ids.is_empty() || ids.len() > MAX_CREDENTIALS {
                return Err(Error::invalid_input(format!(
                    "credential_ids lists 1 to {MAX_CREDENTIALS} credentials, got {}",
                    ids.len()
                )));
            }
        }
        Ok(PasskeyProvider {
            rp_id: self.rp_id,
            accepted: self.accepted,
            timeout: self.timeout.unwrap_or(DEFAULT_CEREMONY_TIMEOUT),
        })
    }
}

/// The settings [`PasskeyProvider::from_settings`] accepts.
pub static SETTINGS: &[SettingSpec] = &[
    SettingSpec::new(
        "rp_id",
        "relying-party id the passkeys are registered for (required to back up)",
        "wallet.example.com",
    ),
    SettingSpec::new(
        "credential_ids",
        "comma-separated base64url credential ids: the only passkeys enrolled and accepted (default: per call)",
        "AQIDBAUGBwgJCgsMDQ4PEA,ERITFBUWFxgZGhscHR4fIA",
    ),
    SettingSpec::new("ceremony_timeout_secs", "seconds one passkey prompt may take (default 300)", "120"),
];

impl PasskeyProvider {
    /// A builder.
    pub fn builder() -> PasskeyProviderBuilder {
        PasskeyProviderBuilder::default()
    }

    /// Builds from registry settings (see [`SETTINGS`]).
    ///
    /// # Errors
    /// `InvalidInput` for an unknown key or a value that does not parse.
    pub fn from_settings(s: &Settings) -> Result<Self> {
        s.deny_unknown(&SETTINGS.iter().map(|s| s.key).collect::<Vec<_>>())?;
        let mut b = Self::builder();
        if let Some(rp) = s.get("rp_id") {
            b = b.rp_id(rp);
        }
        if let Some(list) = s.get("credential_ids") {
            let ids = list
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(CredentialId::from_base64url)
                .collect::<Result<Vec<_>>>()
                .map_err(|e| Error::invalid_input(format!("setting credential_ids: {}", e.message())))?;
            b = b.credential_ids(ids);
        }
        if let Some(secs) = s.parse::<u64>("ceremony_timeout_secs")? {
            if secs == 0 {
                return Err(Error::invalid_input("setting ceremony_timeout_secs must be at least 1"));
            }
            b = b.ceremony_timeout(Duration::from_secs(secs));
        }
        b.build()
    }

    /// The relying-party id, if set.
    pub fn rp_id(&self) -> Option<&str> {
        self.rp_id.as_deref()
    }

    fn require_rp_id(&self) -> Result<&str> {
        self.rp_id.as_deref().ok_or_else(|| {
            Error::invalid_input("the passkey provider has no relying-party id")
                .with_hint("set rp_id (the domain the passkeys are registered for) in the provider's settings")
        })
    }

    fn accepted(&self, id: &CredentialId) -> bool {
        self.accepted.as_ref().is_none_or(|a| a.contains(id))
    }

    async fn ceremony(&self, auth: &dyn PrfAuthenticator, request: &PrfRequest) -> Result<PrfResponse> {
        match tokio::time::timeout(self.timeout, auth.evaluate(request)).await {
            Err(_) => Err(Error::new(ErrorKind::Cancelled, "the passkey prompt timed out")
                .with_hint("ask the user to try again and complete the passkey prompt")),
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(ceremony_error(e)),
        }
    }

    /// The credentials a backup in `ctx` would enrol.
    fn to_enroll(&self, cfg: &PasskeyConfig) -> Result<Vec<CredentialId>> {
        let ids: Vec<CredentialId> =
            if cfg.enroll.is_empty() { self.accepted.clone().unwrap_or_default() } else { cfg.enroll.clone() };
        if ids.is_empty() {
            return Err(Error::invalid_input("no passkey to enrol in the backup")
                .with_hint("list the user's PRF passkeys in PasskeyConfig (or credential_ids in the settings)"));
        }
        if ids.len() > MAX_CREDENTIALS {
            return Err(Error::invalid_input(format!(
                "at most {MAX_CREDENTIALS} passkeys per backup, got {}",
                ids.len()
            )));
        }
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) {
                return Err(Error::invalid_input(format!("passkey {id} is listed twice")));
            }
            if !self.accepted(id) {
                return Err(Error::invalid_input(format!("passkey {id} is not among this provider's credential_ids")));
            }
        }
        Ok(ids)
    }
}

fn ceremony_error(e: CeremonyError) -> Error {
    match e {
        CeremonyError::Cancelled => Error::new(ErrorKind::Cancelled, "the user cancelled the passkey prompt")
            .with_hint("nothing changed; ask the user to try again and confirm with the passkey"),
        CeremonyError::PrfUnsupported => Error::unsupported("the passkey or the platform does not support the PRF extension")
            .with_hint(
                "create the passkey with extensions {prf: {}} and check that getClientExtensionResults().prf.enabled is \
                 true; PRF needs a recent platform (iOS/macOS 18+, Android with Google Password Manager, Chrome 116+, \
                 Safari 18+, Firefox 135+) or a security key with hmac-secret; otherwise back up with another method",
            ),
        CeremonyError::NoCredential => Error::new(ErrorKind::WrongSecret, "none of the passkeys of this backup is available")
            .with_hint("use a passkey enrolled in this backup (synced to this device, or a security key); without one the backup cannot be recovered"),
        CeremonyError::Failed(m) => Error::new(ErrorKind::Unavailable, format!("the passkey ceremony failed: {m}")),
    }
}

fn wrong_credential() -> Error {
    Error::new(ErrorKind::WrongSecret, "the passkey that answered is not enrolled in this backup")
        .with_hint("use a passkey enrolled in this backup; without one the backup cannot be recovered")
}

#[async_trait]
impl BackupProvider for PasskeyProvider {
    fn method(&self) -> &MethodId {
        &METHOD
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new().with_needs_user_secret(true).with_probes(true)
    }

    async fn probe(&self, ctx: &Context) -> Result<()> {
        self.require_rp_id()?;
        let cfg = ctx.require_config::<PasskeyConfig>()?;
        self.to_enroll(cfg).map(|_| ())
    }

    async fn seal_key(&self, ctx: &Context) -> Result<SealedKey> {
        let span = tracing::info_span!("passkey.seal_key", user = %ctx.user(), backup_id = %ctx.backup_id());
        async {
            let rp_id = self.require_rp_id()?.to_owned();
            let cfg = ctx.require_config::<PasskeyConfig>()?;
            let ids = self.to_enroll(cfg)?;
            let size =
                3 + rp_id.len() + ids.iter().map(|i| 2 + i.as_bytes().len() + PRF_LEN + WRAPPED_LEN).sum::<usize>();
            if size > KeyHeader::MAX_LEN {
                return Err(Error::invalid_input(format!(
                    "{} passkeys make a {size}-byte key header, over the {} allowed",
                    ids.len(),
                    KeyHeader::MAX_LEN
                )));
            }
            // One step of the seal phase: the ceremonies derive the wrapping keys.
            ctx.report(Status::DerivingKey);
            let key = DataKey::generate()?;
            let binding = ctx.binding();
            let mut entries = Vec::with_capacity(ids.len());
            for id in ids {
                let input = PrfInput::generate()?;
                let request = PrfRequest {
                    rp_id: rp_id.clone(),
                    credentials: vec![PrfCredential { id: id.clone(), input }],
                    purpose: Purpose::Enroll,
                };
                let r = self.ceremony(cfg.authenticator.as_ref(), &request).await?;
                if r.credential_id != id {
                    return Err(Error::invalid_input(
                        "the authenticator answered with another passkey than the one asked for",
                    )
                    .with_hint("restrict the ceremony to PrfRequest.credentials (allowCredentials)"));
                }
                let info = hkdf_info(&rp_id, &id, &input, &ctx.backup_id(), &binding);
                let wrapped = custody::wrap(&key, &r.output, &info)?;
                tracing::debug!(credential = %id, "enrolled a passkey");
                entries.push(Entry { credential_id: id, input, wrapped });
            }
            let header = PasskeyHeader { rp_id, entries }.to_key_header()?;
            tracing::info!(header_bytes = header.as_bytes().len(), "sealed the data key of a new backup");
            Ok(SealedKey { key, header })
        }
        .instrument(span)
        .await
        .map_err(|e: Error| e.with_method(METHOD.clone()))
    }

    async fn open_key(&self, header: &KeyHeader, ctx: &Context) -> Result<DataKey> {
        let span = tracing::info_span!("passkey.open_key", user = %ctx.user(), backup_id = %ctx.backup_id());
        async {
            let parsed = PasskeyHeader::parse(header.as_bytes())?;
            let rp_id = self.require_rp_id()?;
            if parsed.rp_id != rp_id {
                return Err(Error::invalid_input(format!(
                    "this backup was made for relying party {:?}, the provider is set up for {rp_id:?}",
                    parsed.rp_id
                ))
                .with_hint("open it with a provider whose rp_id is the backup's"));
            }
            let cfg = ctx.require_config::<PasskeyConfig>()?;
            let credentials: Vec<PrfCredential> = parsed
                .entries
                .iter()
                .filter(|e| self.accepted(&e.credential_id))
                .map(|e| PrfCredential { id: e.credential_id.clone(), input: e.input })
                .collect();
            if credentials.is_empty() {
                return Err(Error::new(
                    ErrorKind::WrongSecret,
                    "none of the passkeys enrolled in this backup is among this provider's credential_ids",
                ));
            }
            ctx.report(Status::DerivingKey);
            let request = PrfRequest { rp_id: parsed.rp_id.clone(), credentials, purpose: Purpose::Recover };
            let r = self.ceremony(cfg.authenticator.as_ref(), &request).await?;
            let Some(entry) = parsed.entries.iter().find(|e| e.credential_id == r.credential_id) else {
                return Err(wrong_credential());
            };
            if request.input_for(&r.credential_id).is_none() {
                return Err(wrong_credential());
            }
            let info = hkdf_info(&parsed.rp_id, &entry.credential_id, &entry.input, &ctx.backup_id(), &ctx.binding());
            let key = custody::unwrap(&entry.wrapped, &r.output, &info);
            tracing::info!(credential = %entry.credential_id, ok = key.is_ok(), "opened with a passkey");
            key
        }
        .instrument(span)
        .await
        .map_err(|e: Error| e.with_method(METHOD.clone()))
    }

    async fn delete_key(&self, _header: &KeyHeader, _ctx: &Context) -> Result<()> {
        // Nothing is stored anywhere: the wrapped keys live in the envelope.
        Ok(())
    }
}

fn build(settings: &Settings) -> Result<Arc<dyn BackupProvider>> {
    Ok(Arc::new(PasskeyProvider::from_settings(settings)?))
}

share_backup_core::register_provider!(
    Registration::new(
        "passkey",
        "Data key wrapped under the user's passkeys (WebAuthn PRF); any enrolled passkey opens it; no escrow",
        env!("CARGO_PKG_NAME"),
        build
    )
    .with_settings(SETTINGS)
);

#[doc(hidden)]
pub mod __private {
    //! Test-vector support; not a stable API.
    pub use crate::custody::{unwrap, wrap, wrapping_key_bytes};
}
