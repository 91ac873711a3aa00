//! An in-memory authenticator that computes PRF outputs exactly as a CTAP2
//! authenticator with `hmac-secret` does, behind a WebAuthn client that
//! hashes the inputs: for tests, demos and the conformance suite. Its
//! secrets live in process memory: never use it to protect a real backup.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{KeyInit, Mac};
use sha2_v011::{Digest, Sha256};
use share_backup_core::{Result, async_trait, fill_random};
use zeroize::Zeroizing;

use crate::webauthn::{CeremonyError, CredentialId, PrfAuthenticator, PrfOutput, PrfRequest, PrfResponse};

type HmacSha256 = hmac::Hmac<Sha256>;

/// How a [`SoftwareAuthenticator`] behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Behaviour {
    /// Answers with the first allowed credential it holds.
    Normal,
    /// Holds credentials but without PRF (`hmac-secret`) support.
    NoPrf,
    /// The user dismisses every prompt.
    Cancel,
}

/// A software authenticator and WebAuthn client in one: holds credentials
/// (id and `CredRandom`) and answers [`PrfRequest`]s with
/// `HMAC-SHA-256(CredRandom, SHA-256("WebAuthn PRF" || 0x00 || input))`,
/// the output a platform returns for a credential with `hmac-secret` under
/// user verification.
///
/// ```
/// use share_backup_passkey::{SoftwareAuthenticator, PrfInput};
/// let auth = SoftwareAuthenticator::from_seed(b"alice's test passkey");
/// let id = auth.credential_ids()[0].clone();
/// let out = auth.prf(&id, &PrfInput::from_bytes([1; 32])).unwrap();
/// assert_eq!(format!("{auth:?}"), format!("SoftwareAuthenticator {{ credentials: [{id:?}], behaviour: Normal }}"));
/// # let _ = out;
/// ```
#[derive(Clone)]
pub struct SoftwareAuthenticator {
    credentials: BTreeMap<CredentialId, Zeroizing<[u8; 32]>>,
    behaviour: Behaviour,
}

impl SoftwareAuthenticator {
    /// An authenticator without credentials.
    pub fn new() -> Self {
        SoftwareAuthenticator { credentials: BTreeMap::new(), behaviour: Behaviour::Normal }
    }

    /// An authenticator with one credential derived from `seed` (id and
    /// secret are SHA-256 of labelled seeds): the same seed gives the same
    /// credential, as a synced passkey on two devices.
    pub fn from_seed(seed: &[u8]) -> Self {
        let id = Sha256::new().chain_update(b"share-backup soft credential id\0").chain_update(seed).finalize();
        let secret: [u8; 32] =
            Sha256::new().chain_update(b"share-backup soft cred random\0").chain_update(seed).finalize().into();
        Self::new().with_credential(CredentialId::new(id[..16].to_vec()).expect("16 bytes"), secret)
    }

    /// Adds a credential with its `CredRandom`.
    pub fn with_credential(mut self, id: CredentialId, cred_random: [u8; 32]) -> Self {
        self.credentials.insert(id, Zeroizing::new(cred_random));
        self
    }

    /// Adds a credential with a fresh random id and secret; returns its id.
    ///
    /// # Errors
    /// `Internal` if the OS has no randomness.
    pub fn create_credential(&mut self) -> Result<CredentialId> {
        let mut id = [0u8; 16];
        fill_random(&mut id)?;
        let mut secret = Zeroizing::new([0u8; 32]);
        fill_random(&mut secret[..])?;
        let id = CredentialId::new(id.to_vec())?;
        self.credentials.insert(id.clone(), secret);
        Ok(id)
    }

    /// Sets the behaviour.
    pub fn with_behaviour(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    /// The ids of the credentials it holds.
    pub fn credential_ids(&self) -> Vec<CredentialId> {
        self.credentials.keys().cloned().collect()
    }

    /// The PRF output of credential `id` for `input`, if it holds `id`.
    pub fn prf(&self, id: &CredentialId, input: &crate::PrfInput) -> Option<PrfOutput> {
        let secret = self.credentials.get(id)?;
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&secret[..]).expect("any key length");
        mac.update(&input.hmac_secret_salt());
        let mut out: [u8; 32] = mac.finalize().into_bytes().into();
        let o = PrfOutput::from_array(out);
        zeroize::Zeroize::zeroize(&mut out);
        Some(o)
    }
}

impl Default for SoftwareAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SoftwareAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareAuthenticator")
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .field("behaviour", &self.behaviour)
            .finish()
    }
}

#[async_trait]
impl PrfAuthenticator for SoftwareAuthenticator {
    async fn evaluate(&self, request: &PrfRequest) -> std::result::Result<PrfResponse, CeremonyError> {
        if self.behaviour == Behaviour::Cancel {
            return Err(CeremonyError::Cancelled);
        }
        let Some(c) = request.credentials.iter().find(|c| self.credentials.contains_key(&c.id)) else {
            return Err(CeremonyError::NoCredential);
        };
        if self.behaviour == Behaviour::NoPrf {
            return Err(CeremonyError::PrfUnsupported);
        }
        let output = self.prf(&c.id, &c.input).ok_or(CeremonyError::NoCredential)?;
        Ok(PrfResponse { credential_id: c.id.clone(), output })
    }
}
