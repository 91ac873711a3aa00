#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod messages;
pub mod oprf;
pub mod shamir;
pub mod token;

pub use client::{RecoverFailure, Recovery, Registration, RegistrationHeader, UnlockKey, register};
pub use messages::*;
pub use token::{Claims, TokenError, TokenVerifier, mint, parse_verifying_key};

pub use curve25519_dalek::scalar::Scalar;
pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// A protocol step failed. Never contains secret bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An input of the wrong shape.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// The OS had no randomness to give.
    #[error("the operating system's random source failed")]
    Random,
}

/// The realm's side of phase 1: evaluates a blinded element with the stored key.
///
/// # Errors
/// [`ProtocolError::Malformed`] for a bad key or element.
pub fn realm_evaluate(oprf_key: &[u8], blinded: &[u8]) -> Result<[u8; 32], ProtocolError> {
    let k = oprf::decode_scalar(oprf_key)?;
    let b = oprf::decode_element(blinded)?;
    Ok(oprf::blind_evaluate(&k, &b).compress().to_bytes())
}
