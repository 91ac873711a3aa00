//! The integrator's tokens: EdDSA (Ed25519) JSON Web Tokens (RFC 7519,
//! RFC 8037) that name one user (`sub`) at one realm (`aud`).
//!
//! The integrator's server signs them; a realm verifies them with the
//! integrator's public key. [`mint`] is for integrators and tests.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The claims a realm requires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The integrator (tenant) that signed the token; names its key.
    pub iss: String,
    /// The user the token is for (the integrator's user id).
    pub sub: String,
    /// The one realm the token is for (its realm id).
    pub aud: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    kid: String,
}

/// Why a token was refused. Never contains the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not three base64url parts of JSON, or not EdDSA.
    #[error("the token is not an EdDSA JWT")]
    Malformed,
    /// No key is configured for the token's issuer.
    #[error("no key is configured for issuer {0:?}")]
    UnknownIssuer(String),
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// The token is for another realm.
    #[error("the token is for another realm")]
    WrongAudience,
    /// Expired, not yet valid, or living longer than this realm accepts.
    #[error("the token is expired, not yet valid, or lives longer than {0} s")]
    Expired(u64),
}

/// Signs `claims` with the integrator's key (header `kid` = `claims.iss`).
pub fn mint(key: &SigningKey, claims: &Claims) -> String {
    let header = Header { alg: "EdDSA".into(), typ: Some("JWT".into()), kid: claims.iss.clone() };
    let h = B64.encode(serde_json::to_vec(&header).unwrap_or_default());
    let c = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
    let input = format!("{h}.{c}");
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(sig.to_bytes()))
}

/// Verifies tokens for one realm against the integrators' public keys.
#[derive(Clone)]
pub struct TokenVerifier {
    realm_id: String,
    keys: HashMap<String, VerifyingKey>,
    max_lifetime_secs: u64,
    leeway_secs: u64,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut issuers: Vec<_> = self.keys.keys().collect();
        issuers.sort();
        f.debug_struct("TokenVerifier")
            .field("realm_id", &self.realm_id)
            .field("issuers", &issuers)
            .field("max_lifetime_secs", &self.max_lifetime_secs)
            .finish()
    }
}

impl TokenVerifier {
    /// A verifier for `realm_id` accepting tokens that live at most `max_lifetime_secs`.
    pub fn new(realm_id: impl Into<String>, max_lifetime_secs: u64) -> Self {
        TokenVerifier { realm_id: realm_id.into(), keys: HashMap::new(), max_lifetime_secs, leeway_secs: 30 }
    }

    /// Trusts `key` for tokens of `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>, key: VerifyingKey) -> Self {
        self.keys.insert(issuer.into(), key);
        self
    }

    /// The realm id tokens must name.
    pub fn realm_id(&self) -> &str {
        &self.realm_id
    }

    /// Checks `token` at time `now` (Unix seconds) and returns its claims.
    ///
    /// # Errors
    /// A [`TokenError`] saying why it was refused.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_json(h)?;
        if header.alg != "EdDSA" {
            return Err(TokenError::Malformed);
        }
        let key = self.keys.get(&header.kid).ok_or_else(|| TokenError::UnknownIssuer(header.kid.clone()))?;
        let sig: [u8; 64] = B64.decode(s).ok().and_then(|v| v.try_into().ok()).ok_or(TokenError::Malformed)?;
        let signed_len = h.len() + 1 + c.len();
        key.verify(&token.as_bytes()[..signed_len], &Signature::from_bytes(&sig))
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = decode_json(c)?;
        if claims.iss != header.kid {
            return Err(TokenError::UnknownIssuer(claims.iss));
        }
        if claims.aud != self.realm_id {
            return Err(TokenError::WrongAudience);
        }
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if now > claims.exp.saturating_add(self.leeway_secs)
            || claims.iat > now.saturating_add(self.leeway_secs)
            || lifetime > self.max_lifetime_secs
        {
            return Err(TokenError::Expired(self.max_lifetime_secs));
        }
        Ok(claims)
    }
}

fn decode_json<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, TokenError> {
    let bytes = B64.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// Parses an Ed25519 public key given as 64 hex digits or 43 base64url characters.
///
/// # Errors
/// [`TokenError::Malformed`] otherwise.
pub fn parse_verifying_key(text: &str) -> Result<VerifyingKey, TokenError> {
    let t = text.trim();
    let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32).map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16)).collect::<Result<Vec<u8>, _>>().ok()
    } else {
        B64.decode(t).ok()
    };
    let arr: [u8; 32] = bytes.and_then(|b| b.try_into().ok()).ok_or(TokenError::Malformed)?;
    VerifyingKey::from_bytes(&arr).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn claims(aud: &str) -> Claims {
        Claims { iss: "acme".into(), sub: "alice".into(), aud: aud.into(), iat: 1000, exp: 1300 }
    }

    #[test]
    fn a_minted_token_verifies_for_its_realm_only() {
        let v = TokenVerifier::new("realm-a", 600).with_issuer("acme", key().verifying_key());
        let t = mint(&key(), &claims("realm-a"));
        assert_eq!(v.verify(&t, 1100).unwrap().sub, "alice");
        let other = mint(&key(), &claims("realm-b"));
        assert_eq!(v.verify(&other, 1100), Err(TokenError::WrongAudience));
    }

    #[test]
    fn expired_long_lived_forged_and_unknown_tokens_are_refused() {
        let v = TokenVerifier::new("realm-a", 600).with_issuer("acme", key().verifying_key());
        let t = mint(&key(), &claims("realm-a"));
        assert_eq!(v.verify(&t, 2000), Err(TokenError::Expired(600)));
        let long = mint(&key(), &Claims { exp: 100_000, ..claims("realm-a") });
        assert_eq!(v.verify(&long, 1100), Err(TokenError::Expired(600)));
        let forged = mint(&SigningKey::from_bytes(&[8u8; 32]), &claims("realm-a"));
        assert_eq!(v.verify(&forged, 1100), Err(TokenError::BadSignature));
        let other = mint(&key(), &Claims { iss: "evil".into(), ..claims("realm-a") });
        assert!(matches!(v.verify(&other, 1100), Err(TokenError::UnknownIssuer(_))));
        // Claims swapped under a valid header and signature of another token.
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        parts[1] = B64.encode(serde_json::to_vec(&Claims { sub: "mallory".into(), ..claims("realm-a") }).unwrap());
        assert_eq!(v.verify(&parts.join("."), 1100), Err(TokenError::BadSignature));
        assert_eq!(v.verify("a.b", 1100), Err(TokenError::Malformed));
    }
}
