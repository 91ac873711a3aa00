//! The passkey method (`passkey`, WebAuthn PRF) from Kotlin, Swift and
//! Python: the app runs the ceremony through its platform (Credential
//! Manager, AuthenticationServices, a browser bridge) behind the foreign
//! trait [`PasskeyAuthenticator`]; the provider derives the wrapping key
//! from the 32-byte PRF output it returns.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use share_backup_conformance::{Harness, run_provider_cases};
use share_backup_core::{ClientId, Configs, CustodianId, async_trait};
use share_backup_passkey::{
    CeremonyError, CredentialId, PasskeyConfig as CorePasskeyConfig, PasskeyProvider, PrfAuthenticator, PrfOutput,
    PrfRequest, PrfResponse, Purpose, RegistrationOptions,
};
use zeroize::Zeroize;

use crate::conformance::ConformanceReport;
use crate::error::{ErrorKind, ShareBackupError};
use crate::runtime::call_foreign;

/// Why the provider asks for a ceremony.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum PasskeyPurpose {
    /// A new backup: one credential with a fresh input; the user is asked
    /// once per credential being enrolled.
    Enroll,
    /// A recovery: every enrolled credential, each with its own input;
    /// whichever the user picks answers.
    Recover,
}

/// One credential allowed to answer, and the PRF input to evaluate with it.
/// Neither is secret.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PasskeyCredential {
    /// The raw credential id (`rawId`; `allowCredentials[i].id`).
    pub credential_id: Vec<u8>,
    /// The same id as unpadded base64url (`PublicKeyCredential.id`, the JSON forms).
    pub credential_id_base64url: String,
    /// The 32-byte WebAuthn-level PRF input (`evalByCredential[id].first`,
    /// iOS's `saltInput1`). Pass it as it is: the platform hashes it into
    /// the CTAP2 `hmac-secret` salt.
    pub prf_input: Vec<u8>,
}

/// One ceremony the provider asks the app to run: a WebAuthn "get" with the
/// `prf` extension, restricted to `credentials`, user verification required.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PasskeyRequest {
    /// The relying-party id (`rpId`).
    pub rp_id: String,
    /// The credentials allowed to answer, each with its PRF input.
    pub credentials: Vec<PasskeyCredential>,
    /// Enrolment (backup) or recovery.
    pub purpose: PasskeyPurpose,
}

/// The app's answer: which credential answered and its PRF output.
#[derive(uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct PasskeyAssertion {
    /// The raw id of the credential that answered (`rawId`).
    pub credential_id: Vec<u8>,
    /// `getClientExtensionResults().prf.results.first`: exactly 32 bytes. A
    /// secret: it crosses the boundary as plain bytes; Rust copies it into
    /// a zeroizing buffer and wipes its own copy at once; the app should
    /// drop (or wipe) its copy as soon as it returned it.
    pub prf_output: Vec<u8>,
}

impl fmt::Debug for PasskeyAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyAssertion")
            .field("credential_id", &b64(&self.credential_id))
            .field("prf_output", &"[REDACTED]")
            .finish()
    }
}

impl fmt::Display for PasskeyAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

fn b64(bytes: &[u8]) -> String {
    CredentialId::new(bytes.to_vec()).map_or_else(|_| format!("<{} bytes>", bytes.len()), |c| c.to_base64url())
}

/// The app's side of a passkey ceremony (the `passkey` method).
///
/// Called on a share-backup thread, never the caller's: block it until the
/// platform's prompt ends (Kotlin: `runBlocking { credentialManager.getCredential(...) }`
/// with the activity; Swift: wait for the `ASAuthorizationController`
/// delegate; a web bridge: await the page's `navigator.credentials.get`).
/// The call is bounded by the call timeout (`ShareBackupConfig.call_timeout_ms`,
/// default 30 s): raise it for prompts the user may take longer over.
///
/// Throw `ShareBackupError` with kind `Cancelled` when the user dismissed
/// the prompt, `Unsupported` when the passkey or platform gives no PRF
/// result (`prf.results` absent), `WrongSecret` (or `NotFound`) when none of
/// the allowed credentials is on this device. Any other kind, or another
/// exception, fails the call as `Unavailable` with the message (which must
/// carry no secret).
#[uniffi::export(foreign)]
pub trait PasskeyAuthenticator: Send + Sync {
    /// Runs one ceremony and returns which credential answered and its PRF
    /// output for that credential's input.
    fn evaluate(&self, request: PasskeyRequest) -> Result<PasskeyAssertion, ShareBackupError>;
}

/// The passkey method's per-call part (`CallConfigs.passkey`).
#[derive(Clone, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct PasskeyCallConfig {
    /// The app's authenticator.
    pub authenticator: Arc<dyn PasskeyAuthenticator>,
    /// Raw ids of the credentials a new backup enrols (any one of them
    /// opens it); ignored on recovery. Empty: the provider's
    /// `credential_ids` setting.
    #[uniffi(default)]
    pub enroll_credential_ids: Vec<Vec<u8>>,
}

impl fmt::Debug for PasskeyCallConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyCallConfig")
            .field("authenticator", &"app")
            .field("enroll_credential_ids", &self.enroll_credential_ids.iter().map(|c| b64(c)).collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for PasskeyCallConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl PasskeyCallConfig {
    /// The provider's config for this call.
    pub(crate) fn into_core(self, timeout: Option<Duration>) -> Result<CorePasskeyConfig, ShareBackupError> {
        let enroll =
            self.enroll_credential_ids.into_iter().map(CredentialId::new).collect::<share_backup_core::Result<_>>()?;
        Ok(CorePasskeyConfig::new(Arc::new(ForeignAuthenticator { inner: self.authenticator, timeout }), enroll))
    }
}

/// The app's authenticator as the provider's.
pub(crate) struct ForeignAuthenticator {
    inner: Arc<dyn PasskeyAuthenticator>,
    timeout: Option<Duration>,
}

impl fmt::Debug for ForeignAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ForeignAuthenticator")
    }
}

fn request_to_ffi(r: &PrfRequest) -> PasskeyRequest {
    PasskeyRequest {
        rp_id: r.rp_id.clone(),
        credentials: r
            .credentials
            .iter()
            .map(|c| PasskeyCredential {
                credential_id: c.id.as_bytes().to_vec(),
                credential_id_base64url: c.id.to_base64url(),
                prf_input: c.input.as_bytes().to_vec(),
            })
            .collect(),
        purpose: match r.purpose {
            Purpose::Enroll => PasskeyPurpose::Enroll,
            _ => PasskeyPurpose::Recover,
        },
    }
}

/// The ceremony error for an error the app threw (or the call's timeout).
fn ceremony_error(e: &share_backup_core::Error) -> CeremonyError {
    match ErrorKind::from_core(e.kind()) {
        ErrorKind::Cancelled => CeremonyError::Cancelled,
        ErrorKind::Unsupported => CeremonyError::PrfUnsupported,
        ErrorKind::WrongSecret | ErrorKind::NotFound => CeremonyError::NoCredential,
        _ => CeremonyError::Failed(e.message().to_owned()),
    }
}

#[async_trait]
impl PrfAuthenticator for ForeignAuthenticator {
    async fn evaluate(&self, request: &PrfRequest) -> Result<PrfResponse, CeremonyError> {
        let (inner, req) = (self.inner.clone(), request_to_ffi(request));
        let mut a = call_foreign("the app's passkey authenticator", self.timeout, move || inner.evaluate(req))
            .await
            .map_err(|e| ceremony_error(&e))?;
        let output = PrfOutput::from_slice(&a.prf_output).map_err(|_| {
            CeremonyError::Failed(format!(
                "the app returned a {}-byte PRF output; pass prf.results.first (32 bytes) as the platform returned it",
                a.prf_output.len()
            ))
        });
        a.prf_output.zeroize();
        let output = output?;
        let credential_id = CredentialId::new(std::mem::take(&mut a.credential_id)).map_err(|e| {
            CeremonyError::Failed(format!("the app returned an invalid credential id: {}", e.message()))
        })?;
        Ok(PrfResponse { credential_id, output })
    }
}

/// The options to create a passkey with PRF enabled, as WebAuthn's
/// `PublicKeyCredentialCreationOptionsJSON` (pass it to Android's
/// `CreatePublicKeyCredentialRequest(requestJson)`, to
/// `PublicKeyCredential.parseCreationOptionsFromJSON` on the web; on iOS
/// read its fields into `ASAuthorizationPlatformPublicKeyCredentialProvider`
/// with `prf = .checkForSupport`). `exclude` lists the user's existing
/// credential ids (raw) so a second passkey lands on another authenticator.
/// After creation check `prf.enabled == true`: otherwise the passkey cannot
/// protect a backup.
///
/// # Errors
/// `InvalidInput` for an invalid credential id in `exclude`.
#[uniffi::export(default(exclude = []))]
pub fn passkey_registration_options_json(
    rp_id: String,
    rp_name: String,
    user_handle: Vec<u8>,
    user_name: String,
    challenge: Vec<u8>,
    exclude: Vec<Vec<u8>>,
) -> Result<String, ShareBackupError> {
    let exclude = exclude.into_iter().map(CredentialId::new).collect::<share_backup_core::Result<Vec<_>>>()?;
    let o = RegistrationOptions::new(&rp_id, &rp_name, &user_handle, &user_name, &challenge).exclude(&exclude);
    serde_json::to_string(&o).map_err(|e| ShareBackupError::new(ErrorKind::Internal, e.to_string()))
}

/// A request as WebAuthn's `PublicKeyCredentialRequestOptionsJSON` with the
/// app's fresh random `challenge` (Android's `GetPublicKeyCredentialOption(requestJson)`;
/// `PublicKeyCredential.parseRequestOptionsFromJSON` on the web): `rpId`,
/// `allowCredentials`, `userVerification: "required"` and
/// `extensions.prf.evalByCredential`, each credential with its own input.
///
/// # Errors
/// `InvalidInput` for a credential id or a PRF input of the wrong size.
#[uniffi::export]
pub fn passkey_request_options_json(request: PasskeyRequest, challenge: Vec<u8>) -> Result<String, ShareBackupError> {
    use share_backup_passkey::{PRF_LEN, PrfCredential, PrfInput};
    let mut credentials = Vec::with_capacity(request.credentials.len());
    for c in request.credentials {
        let input: [u8; PRF_LEN] = c.prf_input.as_slice().try_into().map_err(|_| {
            ShareBackupError::invalid_input(format!("a PRF input is {PRF_LEN} bytes, got {}", c.prf_input.len()))
        })?;
        credentials.push(PrfCredential { id: CredentialId::new(c.credential_id)?, input: PrfInput::from_bytes(input) });
    }
    let purpose = match request.purpose {
        PasskeyPurpose::Enroll => Purpose::Enroll,
        PasskeyPurpose::Recover => Purpose::Recover,
    };
    let r = PrfRequest { rp_id: request.rp_id, credentials, purpose };
    Ok(r.to_request_options_json(&challenge).to_string())
}

/// Runs every provider case of the conformance suite on the linked
/// `passkey` provider (relying party `rp_id`) driven by an app's
/// authenticator: `authenticator` holds the credentials `enroll_credential_ids`
/// (the same for every test user); `wrong_authenticator` answers for the
/// same credential ids with other secrets (a passkey that is not the one
/// enrolled) and must be refused as `WrongSecret`.
///
/// # Errors
/// `InvalidInput` for an invalid relying-party id or credential id.
#[uniffi::export(default(call_timeout_ms = None))]
pub async fn run_passkey_conformance(
    rp_id: String,
    authenticator: Arc<dyn PasskeyAuthenticator>,
    wrong_authenticator: Arc<dyn PasskeyAuthenticator>,
    enroll_credential_ids: Vec<Vec<u8>>,
    call_timeout_ms: Option<u64>,
) -> Result<ConformanceReport, ShareBackupError> {
    // Released on the caller's thread when this future ends (see api.rs).
    let _on_caller = (authenticator.clone(), wrong_authenticator.clone());
    let timeout = Some(call_timeout_ms.map_or(Duration::from_secs(30), Duration::from_millis));
    let provider = PasskeyProvider::builder().rp_id(rp_id).build()?;
    let right =
        PasskeyCallConfig { authenticator, enroll_credential_ids: enroll_credential_ids.clone() }.into_core(timeout)?;
    let wrong = PasskeyCallConfig { authenticator: wrong_authenticator, enroll_credential_ids }.into_core(timeout)?;
    let harness = Harness::new()
        .with_config_type::<CorePasskeyConfig>()
        .with_configs(move |_| Configs::new().with(right.clone()))
        .with_wrong_secret(move |_| Configs::new().with(wrong.clone()))
        .with_custodian(CustodianId::new("custodian-1")?)
        .with_client(ClientId::new("client-1")?);
    crate::runtime::spawn(async move { Ok(run_provider_cases(Arc::new(provider), harness).await.into()) }).await
}

/// The settings map of the `passkey` provider (`ShareBackupConfig.provider_settings["passkey"]`)
/// for relying party `rp_id` and, when not empty, the only credentials it
/// enrols and accepts (raw ids; written as comma-separated base64url).
#[uniffi::export(default(credential_ids = []))]
pub fn passkey_settings(rp_id: String, credential_ids: Vec<Vec<u8>>) -> HashMap<String, String> {
    let mut m = HashMap::new();
    m.insert("rp_id".to_owned(), rp_id);
    if !credential_ids.is_empty() {
        m.insert("credential_ids".to_owned(), credential_ids.iter().map(|c| b64(c)).collect::<Vec<_>>().join(","));
    }
    m
}

#[cfg(test)]
mod tests {
    use share_backup_core::{Error, ErrorKind as CoreKind};

    use super::*;

    #[test]
    fn app_kinds_become_the_ceremony_errors_the_provider_types() {
        let e = |k| ceremony_error(&Error::new(k, "from the app"));
        assert_eq!(e(CoreKind::Cancelled), CeremonyError::Cancelled);
        assert_eq!(e(CoreKind::Unsupported), CeremonyError::PrfUnsupported);
        assert_eq!(e(CoreKind::WrongSecret), CeremonyError::NoCredential);
        assert_eq!(e(CoreKind::NotFound), CeremonyError::NoCredential);
        assert!(matches!(e(CoreKind::Internal), CeremonyError::Failed(m) if m.contains("from the app")));
    }

    #[test]
    fn an_assertion_prints_its_credential_but_never_its_prf_output() {
        let a = PasskeyAssertion { credential_id: vec![0xfb, 0xff, 1], prf_output: vec![0x42; 32] };
        assert_eq!(format!("{a:?}"), r#"PasskeyAssertion { credential_id: "-_8B", prf_output: "[REDACTED]" }"#);
        assert_eq!(a.to_string(), format!("{a:?}"));
    }

    #[test]
    fn settings_write_credential_ids_as_the_provider_parses_them() {
        let m = passkey_settings("wallet.example.com".into(), vec![vec![1, 2, 3], vec![0xfb, 0xff, 1]]);
        assert_eq!(m["credential_ids"], "AQID,-_8B");
        let s = share_backup_core::Settings::from_pairs(m);
        assert!(PasskeyProvider::from_settings(&s).is_ok());
    }
}
