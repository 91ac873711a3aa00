//! t-of-n Shamir secret sharing of byte strings over GF(2^8), through
//! vsss-rs (`Gf256::split_bytes` / `combine_bytes`).
//!
//! A share is `[x] || y-bytes`: one identifier byte (1..=n, sequential)
//! followed by one byte per secret byte.

use std::convert::Infallible;

use rand_core_v010::{TryCryptoRng, TryRng};
use vsss_rs::Gf256;
use zeroize::Zeroizing;

use crate::ProtocolError;

/// The random source vsss-rs draws polynomial coefficients from: OS
/// randomness read up front (vsss-rs takes an infallible rand_core 0.10
/// generator; getrandom's failure is reported before splitting).
struct Prefilled {
    buf: Zeroizing<Vec<u8>>,
    pos: usize,
    exhausted: bool,
}

impl TryRng for Prefilled {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for d in dst {
            match self.buf.get(self.pos) {
                Some(b) => *d = *b,
                None => {
                    self.exhausted = true;
                    *d = 0;
                }
            }
            self.pos += 1;
        }
        Ok(())
    }
}

impl TryCryptoRng for Prefilled {}

/// Splits `secret` into `n` shares, any `t` of which recover it.
///
/// # Errors
/// [`ProtocolError::Malformed`] unless `2 <= t <= n <= 255` and the secret
/// is not empty; [`ProtocolError::Random`] when the OS has no randomness.
pub fn split(t: usize, n: usize, secret: &[u8]) -> Result<Vec<Zeroizing<Vec<u8>>>, ProtocolError> {
    if t < 2 || t > n || n > 255 || secret.is_empty() {
        return Err(ProtocolError::Malformed("Shamir needs 2 <= threshold <= realms <= 255 and a secret"));
    }
    // vsss-rs draws (t - 1) coefficients of one byte per secret byte; twice
    // that (and a margin) is read, and running out is an error, never a
    // weak share.
    let mut buf = Zeroizing::new(vec![0u8; 2 * t * secret.len() + 64]);
    getrandom::fill(&mut buf[..]).map_err(|_| ProtocolError::Random)?;
    let mut rng = Prefilled { buf, pos: 0, exhausted: false };
    let shares = Gf256::split_bytes(t, n, secret, &mut rng).map_err(|_| ProtocolError::Malformed("Shamir split"))?;
    if rng.exhausted {
        return Err(ProtocolError::Random);
    }
    Ok(shares.into_iter().map(Zeroizing::new).collect())
}

/// Recovers the secret from shares (each `[x] || y`), distinct identifiers.
///
/// Any `t` or more shares of one split give the secret; fewer, or shares of
/// different splits, give unrelated bytes: check the result against a
/// commitment.
///
/// # Errors
/// [`ProtocolError::Malformed`] for fewer than two shares, unequal
/// lengths, a zero or repeated identifier.
pub fn combine(shares: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>, ProtocolError> {
    if shares.len() < 2 {
        return Err(ProtocolError::Malformed("combining needs at least two shares"));
    }
    let len = shares[0].len();
    let mut ids = std::collections::BTreeSet::new();
    for s in shares {
        if s.len() != len || len < 2 || s[0] == 0 || !ids.insert(s[0]) {
            return Err(ProtocolError::Malformed("shares of unequal length or with a zero or repeated identifier"));
        }
    }
    let plain: Vec<Vec<u8>> = shares.iter().map(|s| s.to_vec()).collect();
    let out = Gf256::combine_bytes(&plain).map_err(|_| ProtocolError::Malformed("Shamir combine"));
    for mut p in plain {
        zeroize::Zeroize::zeroize(&mut p);
    }
    out.map(Zeroizing::new)
}
