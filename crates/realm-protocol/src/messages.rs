//! The JSON messages between a client and a realm (see SPEC.md, "Messages").
//!
//! Every byte field is base64url without padding. `Debug` prints byte
//! lengths only: no key, share, tag or evaluation is ever printed.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes carried as base64url; zeroized on drop; `Debug` shows the length only.
#[derive(Clone, PartialEq, Eq, Default, Zeroize, ZeroizeOnDrop)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({})", self.0.len())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(v.to_vec())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        B64.decode(s.as_bytes()).map(Bytes).map_err(|_| serde::de::Error::custom("expected base64url without padding"))
    }
}

/// `POST /v1/register`: stores one realm's part of a registration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The registration id (the backup id), 32 lower-case hex digits.
    pub reg_id: String,
    /// This realm's Shamir x-coordinate, 1..=n.
    pub share_index: u8,
    /// This realm's OPRF key (a canonical ristretto255 scalar).
    pub oprf_key: Bytes,
    /// The realm's unlock-key share, masked with its OPRF output (32 bytes).
    pub masked_unlock_share: Bytes,
    /// The tag proving knowledge of the unlock key (32 bytes).
    pub unlock_tag: Bytes,
    /// The realm's share of the secret, encrypted under a key from the unlock key.
    pub encrypted_share: Bytes,
    /// Wrong guesses allowed before the registration is erased.
    pub max_guesses: u32,
}

/// Answer to [`RegisterRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// False when the identical registration was already stored (a retry).
    pub created: bool,
}

/// `POST /v1/recover1`: one guess; the realm evaluates the blinded input.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recover1Request {
    /// The registration id.
    pub reg_id: String,
    /// The blinded OPRF input (a ristretto255 element).
    pub blinded: Bytes,
}

/// Answer to [`Recover1Request`]; the guess has been counted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Recover1Response {
    /// The realm's Shamir x-coordinate.
    pub share_index: u8,
    /// The blinded OPRF evaluation.
    pub evaluated: Bytes,
    /// The masked unlock-key share.
    pub masked_unlock_share: Bytes,
    /// Guesses left after this one.
    pub guesses_left: u32,
}

/// `POST /v1/recover2`: proves the unlock key; releases the encrypted share.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recover2Request {
    /// The registration id.
    pub reg_id: String,
    /// The unlock tag for this realm.
    pub unlock_tag: Bytes,
}

/// Answer to a correct [`Recover2Request`]; the guess count is back to 0.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Recover2Response {
    /// The encrypted secret share.
    pub encrypted_share: Bytes,
}

/// `POST /v1/delete`: erases a registration (idempotent).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// The registration id.
    pub reg_id: String,
}

/// Every error answer of a realm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable code: see [`codes`].
    pub error: String,
    /// What happened, for people.
    pub message: String,
    /// Guesses left, with `bad_unlock_tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guesses_left: Option<u32>,
}

/// The error codes of [`ErrorBody::error`].
pub mod codes {
    /// No such registration.
    pub const NOT_FOUND: &str = "not_found";
    /// The guess limit was reached; the registration is erased.
    pub const LOCKED_OUT: &str = "locked_out";
    /// No guess left right now: a recovery that used the last guess may
    /// still unlock within the realm's phase-2 window; otherwise the realm
    /// erases the registration when the window ends. Not an erasure yet.
    pub const EXHAUSTED: &str = "exhausted";
    /// Phase 2 with a wrong unlock tag (a wrong PIN); `guesses_left` given.
    pub const BAD_UNLOCK_TAG: &str = "bad_unlock_tag";
    /// Missing, expired, forged or misaddressed token.
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    /// Too many requests with this token.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// A malformed request.
    pub const INVALID_INPUT: &str = "invalid_input";
    /// Another registration with this id exists.
    pub const CONFLICT: &str = "conflict";
    /// The realm failed (its database); retry.
    pub const UNAVAILABLE: &str = "unavailable";
}

/// Whether `s` is a registration id: 32 lower-case hex digits.
pub fn valid_reg_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
