//! Real WebAuthn ceremonies through 1Password's passkey-rs (a software CTAP2
//! authenticator with hmac-secret behind its WebAuthn client, which hashes
//! the PRF inputs as WebAuthn Level 3 says): register passkeys with PRF,
//! back up, recover; either of two passkeys opens; an unenrolled one is
//! WrongSecret; an authenticator without PRF is Unsupported.

use std::sync::Arc;

use passkey_authenticator::{Authenticator, MemoryStore, UiHint, UserCheck, UserValidationMethod, extensions};
use passkey_client::{Client, DefaultClientData};
use passkey_crypto::{AvailableBackend, AvailableRng, rng::RngBackend};
use passkey_types::{Bytes, Passkey, ctap2, ctap2::Ctap2Error, webauthn};
use share_backup_core::{BackupId, BackupProviderExt, BackupShare, Context, ErrorKind, ExposeSecret, UserId};
use share_backup_passkey::{
    CeremonyError, CredentialId, PasskeyConfig, PasskeyProvider, PrfAuthenticator, PrfInput, PrfOutput, PrfRequest,
    PrfResponse, SoftwareAuthenticator,
};
use tokio::sync::Mutex;
use url::Url;

const RP: &str = "wallet.example.com";

/// A user who always approves, with user verification (a platform passkey).
struct Approves;

#[async_trait::async_trait]
impl UserValidationMethod for Approves {
    type PasskeyItem = Passkey;
    async fn check_user<'a>(&self, _: UiHint<'a, Passkey>, _: bool, _: bool) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck { presence: true, verification: true })
    }
    fn is_presence_enabled(&self) -> bool {
        true
    }
    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

type RsClient = Client<MemoryStore, Approves, AvailableBackend, public_suffix::PublicSuffixList, ()>;

/// The app's side, as a browser would do it: passkey-rs's WebAuthn client.
struct PasskeyRs {
    client: Mutex<RsClient>,
    origin: Url,
}

impl PasskeyRs {
    fn new(prf: bool) -> Self {
        let mut auth = Authenticator::new(ctap2::Aaguid::new_empty(), MemoryStore::new(), Approves, AvailableBackend);
        if prf {
            auth = auth.hmac_secret(extensions::HmacSecretConfig::new_with_uv_only());
        }
        PasskeyRs { client: Mutex::new(Client::new(auth)), origin: Url::parse(&format!("https://{RP}")).unwrap() }
    }

    /// Registers a passkey with the options the provider documents (`prf: {}`), returns its id
    /// and whether the client reported `prf.enabled`.
    async fn register(&self, user: &str) -> (CredentialId, bool) {
        let opts = webauthn::PublicKeyCredentialCreationOptions {
            rp: webauthn::PublicKeyCredentialRpEntity { id: Some(RP.into()), name: "Example Wallet".into() },
            user: webauthn::PublicKeyCredentialUserEntity {
                id: AvailableRng::random_vec(16).into(),
                display_name: user.into(),
                name: user.into(),
            },
            challenge: AvailableRng::random_vec(32).into(),
            pub_key_cred_params: vec![webauthn::PublicKeyCredentialParameters {
                ty: webauthn::PublicKeyCredentialType::PublicKey,
                alg: coset::iana::Algorithm::ES256,
            }],
            timeout: None,
            exclude_credentials: None,
            authenticator_selection: None,
            hints: None,
            attestation: Default::default(),
            attestation_formats: None,
            extensions: Some(webauthn::AuthenticationExtensionsClientInputs {
                prf: Some(webauthn::AuthenticationExtensionsPrfInputs { eval: None, eval_by_credential: None }),
                ..Default::default()
            }),
        };
        let created = self
            .client
            .lock()
            .await
            .register(&self.origin, webauthn::CredentialCreationOptions { public_key: opts }, DefaultClientData)
            .await
            .expect("registration succeeds");
        let enabled = created.client_extension_results.prf.and_then(|p| p.enabled).unwrap_or(false);
        (CredentialId::new(created.raw_id.to_vec()).unwrap(), enabled)
    }

    /// The stored CredRandom (hmac-secret) of a credential, to pin the salt encoding.
    async fn cred_random(&self, id: &CredentialId) -> Vec<u8> {
        let c = self.client.lock().await;
        let pk = c.authenticator().store().get(id.as_bytes()).expect("stored");
        pk.extensions.hmac_secret.as_ref().expect("hmac-secret").cred_with_uv.clone()
    }
}

#[async_trait::async_trait]
impl PrfAuthenticator for PasskeyRs {
    async fn evaluate(&self, request: &PrfRequest) -> Result<PrfResponse, CeremonyError> {
        let eval = request
            .credentials
            .iter()
            .map(|c| {
                let values = webauthn::AuthenticationExtensionsPrfValues {
                    first: Bytes::from(c.input.as_bytes().to_vec()),
                    second: None,
                };
                (c.id.to_base64url(), values)
            })
            .collect();
        let opts = webauthn::PublicKeyCredentialRequestOptions {
            challenge: AvailableRng::random_vec(32).into(),
            timeout: None,
            rp_id: Some(request.rp_id.clone()),
            allow_credentials: Some(
                request
                    .credentials
                    .iter()
                    .map(|c| webauthn::PublicKeyCredentialDescriptor {
                        ty: webauthn::PublicKeyCredentialType::PublicKey,
                        id: c.id.as_bytes().to_vec().into(),
                        transports: None,
                    })
                    .collect(),
            ),
            user_verification: webauthn::UserVerificationRequirement::Required,
            hints: None,
            attestation: Default::default(),
            attestation_formats: None,
            extensions: Some(webauthn::AuthenticationExtensionsClientInputs {
                prf: Some(webauthn::AuthenticationExtensionsPrfInputs { eval: None, eval_by_credential: Some(eval) }),
                ..Default::default()
            }),
        };
        let got = self
            .client
            .lock()
            .await
            .authenticate(&self.origin, webauthn::CredentialRequestOptions { public_key: opts }, DefaultClientData)
            .await
            .map_err(|e| match e {
                passkey_client::WebauthnError::CredentialNotFound => CeremonyError::NoCredential,
                other => CeremonyError::Failed(format!("{other:?}")),
            })?;
        let first =
            got.client_extension_results.prf.and_then(|p| p.results).ok_or(CeremonyError::PrfUnsupported)?.first;
        let output = PrfOutput::from_slice(&first).map_err(|e| CeremonyError::Failed(e.message().to_owned()))?;
        Ok(PrfResponse { credential_id: CredentialId::new(got.raw_id.to_vec()).unwrap(), output })
    }
}

fn provider() -> PasskeyProvider {
    PasskeyProvider::builder().rp_id(RP).build().unwrap()
}

fn ctx(user: &str, auth: Arc<dyn PrfAuthenticator>, enroll: Vec<CredentialId>) -> Context {
    Context::new(UserId::new(user).unwrap(), BackupId::generate().unwrap())
        .with_configs(share_backup_core::Configs::new().with(PasskeyConfig::new(auth, enroll)))
}

fn share() -> BackupShare {
    BackupShare::new(b"client key share of an MPC wallet".to_vec()).unwrap()
}

#[tokio::test]
async fn a_passkey_registered_with_prf_backs_up_and_recovers() {
    let app = Arc::new(PasskeyRs::new(true));
    let (id, enabled) = app.register("alice").await;
    assert!(enabled, "passkey-rs reports prf.enabled for the documented registration options");
    let p = provider();
    let (env, _) = p.seal_share(&share(), &ctx("alice", app.clone(), vec![id])).await.unwrap();
    let back = p.open_envelope(&env, &ctx("alice", app, vec![]).with_backup_id(env.backup_id())).await.unwrap();
    assert_eq!(back.expose_secret(), share().expose_secret());
}

#[tokio::test]
async fn either_of_two_enrolled_passkeys_opens_the_backup_and_a_third_is_wrong_secret() {
    // A synced passkey and a security key: two authenticators, one credential each.
    let (phone, key, stranger) =
        (Arc::new(PasskeyRs::new(true)), Arc::new(PasskeyRs::new(true)), Arc::new(PasskeyRs::new(true)));
    let (a, _) = phone.register("bob").await;
    let (b, _) = key.register("bob").await;
    let _ = stranger.register("bob").await;
    let p = provider();
    // Enrolment asks each credential once: two ceremonies on the one "app" that routes them.
    let both = Arc::new(Router(vec![phone.clone(), key.clone()]));
    let (env, _) = p.seal_share(&share(), &ctx("bob", both, vec![a, b])).await.unwrap();
    for (name, auth) in [("phone", phone as Arc<dyn PrfAuthenticator>), ("security key", key)] {
        let back = p.open_envelope(&env, &ctx("bob", auth, vec![]).with_backup_id(env.backup_id())).await;
        assert_eq!(back.unwrap_or_else(|e| panic!("{name}: {e}")).expose_secret(), share().expose_secret());
    }
    let e = p.open_envelope(&env, &ctx("bob", stranger, vec![]).with_backup_id(env.backup_id())).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongSecret, "{e}");
}

/// Routes each ceremony to the first authenticator that holds an allowed credential.
struct Router(Vec<Arc<PasskeyRs>>);

#[async_trait::async_trait]
impl PrfAuthenticator for Router {
    async fn evaluate(&self, request: &PrfRequest) -> Result<PrfResponse, CeremonyError> {
        for a in &self.0 {
            match a.evaluate(request).await {
                Err(CeremonyError::NoCredential) => continue,
                r => return r,
            }
        }
        Err(CeremonyError::NoCredential)
    }
}

#[tokio::test]
async fn an_authenticator_without_prf_is_unsupported() {
    let app = Arc::new(PasskeyRs::new(false));
    let (id, enabled) = app.register("carol").await;
    assert!(!enabled, "no prf.enabled without hmac-secret");
    let e = provider().seal_share(&share(), &ctx("carol", app, vec![id])).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unsupported, "{e}");
    assert!(e.hint().contains("prf.enabled"), "the hint tells the app what to check: {}", e.hint());
}

#[tokio::test]
async fn passkey_rs_prf_output_equals_hmac_of_the_webauthn_prf_salt() {
    // Pins PrfInput::hmac_secret_salt against 1Password's client: the output
    // passkey-rs returns for input X is HMAC(CredRandom, SHA-256("WebAuthn PRF"||0||X)),
    // which is what the crate's software authenticator computes.
    let app = PasskeyRs::new(true);
    let (id, _) = app.register("dave").await;
    let cred_random: [u8; 32] = app.cred_random(&id).await.try_into().unwrap();
    let input = PrfInput::from_bytes([0x11; 32]);
    let req = PrfRequest {
        rp_id: RP.into(),
        credentials: vec![share_backup_passkey::PrfCredential { id: id.clone(), input }],
        purpose: share_backup_passkey::Purpose::Recover,
    };
    let real = app.evaluate(&req).await.unwrap();
    let soft = SoftwareAuthenticator::new().with_credential(id.clone(), cred_random).prf(&id, &input).unwrap();
    assert_eq!(real.output.expose_secret(), soft.expose_secret());
}
