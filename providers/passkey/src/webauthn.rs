//! The WebAuthn side: credential ids, PRF inputs and outputs, the trait the
//! app implements to run a ceremony, and the JSON options an app hands to
//! its platform.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretBox};
use serde::Serialize;
use serde_json::{Value, json};
use sha2_v011::{Digest, Sha256};
use share_backup_core::{Error, Result, async_trait, fill_random};

/// The context string WebAuthn Level 3 puts before a PRF input when it
/// turns it into a CTAP2 `hmac-secret` salt (§10.1.4, `prf` extension).
pub const PRF_CONTEXT: &[u8] = b"WebAuthn PRF";
/// The longest credential id WebAuthn allows, in bytes.
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;
/// Length of a PRF input this provider draws, and of every PRF output.
pub const PRF_LEN: usize = 32;

/// A WebAuthn credential id (the `rawId` of a `PublicKeyCredential`): not
/// secret; 1 to 1023 bytes. Written as unpadded base64url, as WebAuthn's
/// JSON forms and `PublicKeyCredential.id` write it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CredentialId(Vec<u8>);

impl CredentialId {
    /// Wraps raw credential id bytes.
    ///
    /// # Errors
    /// `InvalidInput` when empty or longer than [`MAX_CREDENTIAL_ID_LEN`].
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        if bytes.is_empty() || bytes.len() > MAX_CREDENTIAL_ID_LEN {
            return Err(Error::invalid_input(format!(
                "a credential id is 1 to {MAX_CREDENTIAL_ID_LEN} bytes, got {}",
                bytes.len()
            )));
        }
        Ok(CredentialId(bytes))
    }

    /// Parses the unpadded base64url form (`PublicKeyCredential.id`).
    ///
    /// # Errors
    /// `InvalidInput` when it is not canonical unpadded base64url of 1 to 1023 bytes.
    pub fn from_base64url(s: &str) -> Result<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(s.trim()).map_err(|_| {
            Error::invalid_input(format!(
                "credential id {:?} is not unpadded base64url (as PublicKeyCredential.id writes it)",
                s.chars().take(48).collect::<String>()
            ))
        })?;
        Self::new(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Unpadded base64url, as `PublicKeyCredential.id`.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64url())
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialId({})", self.to_base64url())
    }
}

impl std::str::FromStr for CredentialId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_base64url(s)
    }
}

/// A PRF input at the WebAuthn level: what a web page passes as
/// `extensions.prf.evalByCredential[id].first` (and Android's JSON and iOS's
/// `saltInput1` take the same bytes). Not secret; stored in the key header.
///
/// The platform never hands these bytes to the authenticator as they are:
/// it hashes them into the CTAP2 `hmac-secret` salt, see
/// [`PrfInput::hmac_secret_salt`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrfInput([u8; PRF_LEN]);

impl PrfInput {
    /// A fresh random input from the OS CSPRNG.
    ///
    /// # Errors
    /// `Internal` if the OS has no randomness to give.
    pub fn generate() -> Result<Self> {
        let mut b = [0u8; PRF_LEN];
        fill_random(&mut b)?;
        Ok(PrfInput(b))
    }

    /// An input with these bytes (parsing, test vectors).
    pub const fn from_bytes(bytes: [u8; PRF_LEN]) -> Self {
        PrfInput(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; PRF_LEN] {
        &self.0
    }

    /// Unpadded base64url of the bytes (WebAuthn's JSON forms).
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The CTAP2 `hmac-secret` salt a WebAuthn client sends for this input:
    /// `SHA-256("WebAuthn PRF" || 0x00 || input)` (WebAuthn Level 3, `prf`
    /// extension). An app that talks CTAP2 to a security key itself (no
    /// browser or platform API in between) must send this salt, not the
    /// input; every platform API (browser, Android, iOS) does the hashing.
    pub fn hmac_secret_salt(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(PRF_CONTEXT);
        h.update([0u8]);
        h.update(self.0);
        h.finalize().into()
    }
}

impl fmt::Debug for PrfInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrfInput({})", self.to_base64url())
    }
}

/// A PRF output: the 32 bytes a credential returns for an input
/// (`getClientExtensionResults().prf.results.first`). Secret: zeroized on
/// drop, never printed.
pub struct PrfOutput(SecretBox<[u8; PRF_LEN]>);

impl PrfOutput {
    /// Copies an output from a slice (the caller zeroizes its own copy).
    ///
    /// # Errors
    /// `InvalidInput` when not exactly 32 bytes (a platform that returns
    /// another length does not implement the PRF extension).
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; PRF_LEN] = bytes.try_into().map_err(|_| {
            Error::invalid_input(format!("a PRF output is {PRF_LEN} bytes, got {}", bytes.len()))
                .with_hint("pass prf.results.first exactly as the platform returned it")
        })?;
        Ok(Self::from_array(arr))
    }

    /// Takes an output from an array (zeroizing the array passed in).
    pub fn from_array(mut bytes: [u8; PRF_LEN]) -> Self {
        let out = PrfOutput(SecretBox::new(Box::new(bytes)));
        zeroize::Zeroize::zeroize(&mut bytes);
        out
    }

    /// Parses unpadded (or padded) base64url, as a JSON bridge carries it.
    ///
    /// # Errors
    /// `InvalidInput` when it does not decode to 32 bytes.
    pub fn from_base64url(s: &str) -> Result<Self> {
        let bytes = zeroize::Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(s.trim().trim_end_matches('='))
                .map_err(|_| Error::invalid_input("a PRF output must be base64url"))?,
        );
        Self::from_slice(&bytes)
    }
}

impl ExposeSecret<[u8; PRF_LEN]> for PrfOutput {
    fn expose_secret(&self) -> &[u8; PRF_LEN] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for PrfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrfOutput([REDACTED])")
    }
}

/// Why the provider asks for a PRF evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// A new backup: one credential, a fresh input; the user is asked once
    /// per credential being enrolled.
    Enroll,
    /// A recovery: every enrolled credential with its input; whichever of
    /// them the user picks answers.
    Recover,
}

/// One credential the ceremony may use, and the PRF input to evaluate with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrfCredential {
    /// The credential id (`allowCredentials[i].id`).
    pub id: CredentialId,
    /// The WebAuthn-level PRF input (`evalByCredential[id].first`).
    pub input: PrfInput,
}

/// What the provider asks the app's [`PrfAuthenticator`] to do: one
/// `navigator.credentials.get` (or platform equivalent) with the PRF
/// extension, restricted to these credentials, each with its own input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrfRequest {
    /// The relying-party id (`rpId`).
    pub rp_id: String,
    /// The credentials allowed to answer, each with its PRF input.
    pub credentials: Vec<PrfCredential>,
    /// Enrolment (backup) or recovery.
    pub purpose: Purpose,
}

impl PrfRequest {
    /// The input of `credential`, if it is in this request.
    pub fn input_for(&self, credential: &CredentialId) -> Option<&PrfInput> {
        self.credentials.iter().find(|c| &c.id == credential).map(|c| &c.input)
    }

    /// The request as WebAuthn's `PublicKeyCredentialRequestOptionsJSON`
    /// (what Android's `GetPublicKeyCredentialOption(requestJson)` takes, and
    /// what `PublicKeyCredential.parseRequestOptionsFromJSON` reads on the
    /// web): `rpId`, `allowCredentials`, `userVerification: "required"`, and
    /// `extensions.prf.evalByCredential` mapping each credential id
    /// (base64url) to `{ "first": <input, base64url> }`. The challenge is
    /// the app's (any fresh random value: nothing here verifies the
    /// assertion's signature; the PRF output is what counts).
    pub fn to_request_options_json(&self, challenge: &[u8]) -> Value {
        let allow: Vec<Value> =
            self.credentials.iter().map(|c| json!({ "type": "public-key", "id": c.id.to_base64url() })).collect();
        let eval: serde_json::Map<String, Value> = self
            .credentials
            .iter()
            .map(|c| (c.id.to_base64url(), json!({ "first": c.input.to_base64url() })))
            .collect();
        json!({
            "challenge": URL_SAFE_NO_PAD.encode(challenge),
            "rpId": self.rp_id,
            "allowCredentials": allow,
            "userVerification": "required",
            "timeout": 120000,
            "extensions": { "prf": { "evalByCredential": eval } },
        })
    }
}

/// What the app's authenticator answers: which credential signed, and the
/// PRF output it produced for that credential's input.
#[derive(Debug)]
pub struct PrfResponse {
    /// The credential that answered (`PublicKeyCredential.rawId`).
    pub credential_id: CredentialId,
    /// `getClientExtensionResults().prf.results.first`.
    pub output: PrfOutput,
}

/// How a ceremony failed, as the app reports it. Each becomes a typed
/// [`share_backup_core::Error`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CeremonyError {
    /// The user dismissed the prompt, or it timed out (`NotAllowedError` on
    /// the web, `GetCredentialCancellationException` on Android,
    /// `ASAuthorizationError.canceled` on iOS). Becomes `Cancelled`.
    Cancelled,
    /// The credential or the platform does not support PRF: the response had
    /// no `prf.results` (or `prf.enabled` was false at registration).
    /// Becomes `Unsupported`.
    PrfUnsupported,
    /// None of the allowed credentials is on this device or account
    /// (Android's `NoCredentialException`). Becomes `WrongSecret`.
    NoCredential,
    /// Any other failure; the message must not contain a secret.
    Failed(String),
}

impl fmt::Display for CeremonyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CeremonyError::Cancelled => f.write_str("the passkey ceremony was cancelled"),
            CeremonyError::PrfUnsupported => f.write_str("the passkey or platform does not support the PRF extension"),
            CeremonyError::NoCredential => f.write_str("none of the allowed passkeys is available"),
            CeremonyError::Failed(m) => write!(f, "the passkey ceremony failed: {m}"),
        }
    }
}

impl std::error::Error for CeremonyError {}

/// The app's side of a passkey ceremony: on a phone or in a browser only
/// the platform talks to the authenticator, so the provider asks the app.
///
/// Given a [`PrfRequest`], run one WebAuthn "get" with the `prf` extension
/// (`evalByCredential`, one input per allowed credential) and return which
/// credential answered and its PRF output (`results.first`). Do not verify
/// anything or hash anything: pass the inputs as they are (the platform
/// hashes them for the authenticator) and the output as it is.
///
/// Implementations come from the app (a browser bridge, Android's
/// Credential Manager, iOS's AuthenticationServices); tests use
/// [`crate::SoftwareAuthenticator`] or a full software WebAuthn stack.
#[async_trait]
pub trait PrfAuthenticator: Send + Sync + 'static {
    /// Runs the ceremony.
    ///
    /// # Errors
    /// A [`CeremonyError`] saying why there is no output.
    async fn evaluate(&self, request: &PrfRequest) -> std::result::Result<PrfResponse, CeremonyError>;
}

/// The options an app passes to create a passkey that supports PRF
/// (WebAuthn's `PublicKeyCredentialCreationOptionsJSON`): ES256 and RS256,
/// a discoverable credential, user verification required, and the `prf`
/// extension requested (`"extensions": {"prf": {}}`). After creation, check
/// `getClientExtensionResults().prf.enabled == true` (the provider cannot:
/// it never sees the registration); if it is false or absent, the passkey
/// cannot protect a backup.
///
/// ```
/// use share_backup_passkey::RegistrationOptions;
/// let o = RegistrationOptions::new("wallet.example.com", "Example Wallet", b"user-handle-1", "alice", b"challenge-bytes");
/// let json = serde_json::to_value(&o).unwrap();
/// assert_eq!(json["extensions"]["prf"], serde_json::json!({}));
/// assert_eq!(json["rp"]["id"], "wallet.example.com");
/// assert_eq!(json["authenticatorSelection"]["userVerification"], "required");
/// ```
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationOptions {
    /// `{ id, name }` of the relying party.
    pub rp: RpEntity,
    /// `{ id (base64url), name, displayName }` of the user.
    pub user: UserEntity,
    /// The app's random challenge, base64url.
    pub challenge: String,
    /// `[{type: "public-key", alg: -7}, {type: "public-key", alg: -257}]`.
    pub pub_key_cred_params: Vec<PubKeyCredParam>,
    /// Milliseconds.
    pub timeout: u32,
    /// Credentials the user already has (base64url ids), so that a second
    /// passkey lands on another authenticator.
    pub exclude_credentials: Vec<CredentialDescriptor>,
    /// Discoverable credential, user verification required.
    pub authenticator_selection: AuthenticatorSelection,
    /// `"none"`.
    pub attestation: &'static str,
    /// `{ "prf": {} }`.
    pub extensions: Value,
}

/// The relying party of [`RegistrationOptions`].
#[derive(Clone, Debug, Serialize)]
pub struct RpEntity {
    /// The relying-party id (a registrable domain, `localhost` in tests).
    pub id: String,
    /// A human-readable name.
    pub name: String,
}

/// The user of [`RegistrationOptions`].
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEntity {
    /// The user handle, base64url (an opaque id, never an email address).
    pub id: String,
    /// Account name shown by the platform.
    pub name: String,
    /// Display name shown by the platform.
    pub display_name: String,
}

/// One algorithm of [`RegistrationOptions`].
#[derive(Clone, Debug, Serialize)]
pub struct PubKeyCredParam {
    /// `"public-key"`.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// COSE algorithm number.
    pub alg: i32,
}

/// A credential descriptor (`{type, id}`).
#[derive(Clone, Debug, Serialize)]
pub struct CredentialDescriptor {
    /// `"public-key"`.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// The credential id, base64url.
    pub id: String,
}

/// `authenticatorSelection` of [`RegistrationOptions`].
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelection {
    /// `"required"`: a discoverable (synced) passkey.
    pub resident_key: &'static str,
    /// `true`, for older platforms.
    pub require_resident_key: bool,
    /// `"required"`: PRF outputs differ with and without UV; always ask for it.
    pub user_verification: &'static str,
}

impl RegistrationOptions {
    /// Options for creating a PRF passkey for `user_name` (with user handle
    /// `user_handle`) at relying party `rp_id`.
    pub fn new(rp_id: &str, rp_name: &str, user_handle: &[u8], user_name: &str, challenge: &[u8]) -> Self {
        RegistrationOptions {
            rp: RpEntity { id: rp_id.to_owned(), name: rp_name.to_owned() },
            user: UserEntity {
                id: URL_SAFE_NO_PAD.encode(user_handle),
                name: user_name.to_owned(),
                display_name: user_name.to_owned(),
            },
            challenge: URL_SAFE_NO_PAD.encode(challenge),
            pub_key_cred_params: vec![
                PubKeyCredParam { ty: "public-key", alg: -7 },
                PubKeyCredParam { ty: "public-key", alg: -257 },
            ],
            timeout: 120_000,
            exclude_credentials: Vec::new(),
            authenticator_selection: AuthenticatorSelection {
                resident_key: "required",
                require_resident_key: true,
                user_verification: "required",
            },
            attestation: "none",
            extensions: json!({ "prf": {} }),
        }
    }

    /// Excludes the user's existing credentials (a second passkey should
    /// live on another authenticator).
    pub fn exclude(mut self, ids: &[CredentialId]) -> Self {
        self.exclude_credentials =
            ids.iter().map(|id| CredentialDescriptor { ty: "public-key", id: id.to_base64url() }).collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_secret_salt_is_sha256_of_context_zero_and_input() {
        let input = PrfInput::from_bytes([7; 32]);
        let mut pre = b"WebAuthn PRF\0".to_vec();
        pre.extend_from_slice(&[7; 32]);
        assert_eq!(input.hmac_secret_salt().to_vec(), Sha256::digest(&pre).to_vec());
    }

    #[test]
    fn credential_ids_round_trip_through_base64url_and_are_bounded() {
        let id = CredentialId::new(vec![0xfb, 0xff, 1]).unwrap();
        assert_eq!(id.to_base64url(), "-_8B");
        assert_eq!(CredentialId::from_base64url("-_8B").unwrap(), id);
        assert!(CredentialId::from_base64url("+/8B").is_err());
        assert!(CredentialId::new(vec![]).is_err());
        assert!(CredentialId::new(vec![1; 1024]).is_err());
    }

    #[test]
    fn request_json_maps_each_credential_to_its_own_input() {
        let (a, b) = (CredentialId::new(vec![1]).unwrap(), CredentialId::new(vec![2]).unwrap());
        let r = PrfRequest {
            rp_id: "example.com".into(),
            credentials: vec![
                PrfCredential { id: a.clone(), input: PrfInput::from_bytes([0xaa; 32]) },
                PrfCredential { id: b.clone(), input: PrfInput::from_bytes([0xbb; 32]) },
            ],
            purpose: Purpose::Recover,
        };
        let j = r.to_request_options_json(b"c");
        assert_eq!(j["rpId"], "example.com");
        assert_eq!(j["allowCredentials"][1]["id"], b.to_base64url());
        assert_eq!(
            j["extensions"]["prf"]["evalByCredential"][a.to_base64url()]["first"],
            URL_SAFE_NO_PAD.encode([0xaa; 32])
        );
        assert_eq!(
            j["extensions"]["prf"]["evalByCredential"][b.to_base64url()]["first"],
            URL_SAFE_NO_PAD.encode([0xbb; 32])
        );
    }

    #[test]
    fn prf_output_debug_is_redacted_and_length_checked() {
        let o = PrfOutput::from_slice(&[0x42; 32]).unwrap();
        assert_eq!(format!("{o:?}"), "PrfOutput([REDACTED])");
        assert!(PrfOutput::from_slice(&[0; 31]).is_err());
    }
}
