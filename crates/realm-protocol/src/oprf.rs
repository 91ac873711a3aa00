//! RFC 9497 OPRF mode (mode 0x00) with the ristretto255-SHA512 suite.
//!
//! Written from the RFC (sections 3.3.1, 4.1) and RFC 9380's
//! `expand_message_xmd`; checked against the RFC's test vectors in
//! `tests/vectors.rs`.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use sha2_v011::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::ProtocolError;

/// `contextString` of RFC 9497 for OPRF mode and ristretto255-SHA512.
pub const CONTEXT: &[u8] = b"OPRFV1-\x00-ristretto255-SHA512";
/// Length of an encoded element or scalar.
pub const ELEMENT_LEN: usize = 32;
/// Length of an OPRF output (SHA-512).
pub const OUTPUT_LEN: usize = 64;

/// RFC 9380 section 5.3.1 `expand_message_xmd` with SHA-512 (b = 64, s = 128 bytes).
pub fn expand_message_xmd(msg: &[&[u8]], dst: &[u8], len: usize) -> Result<Vec<u8>, ProtocolError> {
    let ell = len.div_ceil(64);
    if ell > 255 || len > 65535 || dst.len() > 255 {
        return Err(ProtocolError::Malformed("expand_message_xmd arguments out of range"));
    }
    let dst_prime = |h: &mut Sha512| {
        h.update(dst);
        h.update([dst.len() as u8]);
    };
    let mut h = Sha512::new();
    h.update([0u8; 128]);
    for m in msg {
        h.update(m);
    }
    h.update((len as u16).to_be_bytes());
    h.update([0u8]);
    dst_prime(&mut h);
    let b0: [u8; 64] = h.finalize().into();
    let mut out = Vec::with_capacity(ell * 64);
    let mut prev = [0u8; 64];
    for i in 1..=ell {
        let mut h = Sha512::new();
        let mut x = [0u8; 64];
        for j in 0..64 {
            x[j] = b0[j] ^ prev[j];
        }
        h.update(x);
        h.update([i as u8]);
        dst_prime(&mut h);
        prev = h.finalize().into();
        out.extend_from_slice(&prev);
    }
    out.truncate(len);
    Ok(out)
}

/// `HashToGroup` of the suite: hash_to_ristretto255 with DST `"HashToGroup-" || contextString`.
pub fn hash_to_group(input: &[u8]) -> Result<RistrettoPoint, ProtocolError> {
    let dst = [b"HashToGroup-".as_slice(), CONTEXT].concat();
    let u = expand_message_xmd(&[input], &dst, 64)?;
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&u);
    Ok(RistrettoPoint::from_uniform_bytes(&wide))
}

/// Decodes an element, refusing a non-canonical encoding and the identity.
pub fn decode_element(bytes: &[u8]) -> Result<RistrettoPoint, ProtocolError> {
    let c = CompressedRistretto::from_slice(bytes).map_err(|_| ProtocolError::Malformed("an element is 32 bytes"))?;
    let p = c.decompress().ok_or(ProtocolError::Malformed("not a ristretto255 element"))?;
    if p == RistrettoPoint::identity() {
        return Err(ProtocolError::Malformed("the identity element is refused"));
    }
    Ok(p)
}

/// Decodes a canonical, non-zero scalar.
pub fn decode_scalar(bytes: &[u8]) -> Result<Scalar, ProtocolError> {
    let arr: [u8; 32] = bytes.try_into().map_err(|_| ProtocolError::Malformed("a scalar is 32 bytes"))?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(arr))
        .ok_or(ProtocolError::Malformed("not a canonical scalar"))?;
    if s == Scalar::ZERO {
        return Err(ProtocolError::Malformed("the zero scalar is refused"));
    }
    Ok(s)
}

/// A uniformly random non-zero scalar from the OS.
pub fn random_scalar() -> Result<Scalar, ProtocolError> {
    loop {
        let mut wide = Zeroizing::new([0u8; 64]);
        getrandom::fill(&mut wide[..]).map_err(|_| ProtocolError::Random)?;
        let s = Scalar::from_bytes_mod_order_wide(&wide);
        if s != Scalar::ZERO {
            return Ok(s);
        }
    }
}

/// The client's `Blind` with a given blind (RFC 9497 section 3.3.1).
pub fn blind_with(input: &[u8], blind: &Scalar) -> Result<RistrettoPoint, ProtocolError> {
    let p = hash_to_group(input)?;
    if p == RistrettoPoint::identity() {
        return Err(ProtocolError::Malformed("the input hashes to the identity"));
    }
    Ok(blind * p)
}

/// The client's `Blind` with a fresh random blind.
pub fn blind(input: &[u8]) -> Result<(Scalar, RistrettoPoint), ProtocolError> {
    let r = random_scalar()?;
    Ok((r, blind_with(input, &r)?))
}

/// The server's `BlindEvaluate`.
pub fn blind_evaluate(key: &Scalar, blinded: &RistrettoPoint) -> RistrettoPoint {
    key * blinded
}

fn finalize_hash(input: &[u8], unblinded: &RistrettoPoint) -> [u8; OUTPUT_LEN] {
    let mut h = Sha512::new();
    h.update((input.len() as u16).to_be_bytes());
    h.update(input);
    h.update((ELEMENT_LEN as u16).to_be_bytes());
    h.update(unblinded.compress().as_bytes());
    h.update(b"Finalize");
    h.finalize().into()
}

/// The client's `Finalize`: unblinds and hashes.
pub fn finalize(input: &[u8], blind: &Scalar, evaluated: &RistrettoPoint) -> Zeroizing<[u8; OUTPUT_LEN]> {
    Zeroizing::new(finalize_hash(input, &(blind.invert() * evaluated)))
}

/// The server-side `Evaluate` (the whole PRF with the key in hand): the
/// registering client uses it, holding the fresh per-realm key.
pub fn evaluate(key: &Scalar, input: &[u8]) -> Result<Zeroizing<[u8; OUTPUT_LEN]>, ProtocolError> {
    let p = hash_to_group(input)?;
    Ok(Zeroizing::new(finalize_hash(input, &(key * p))))
}
