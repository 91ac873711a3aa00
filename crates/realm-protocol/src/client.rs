//! The client side: preparing a registration and recovering (SPEC.md).

use aes_siv::aead::KeyInit;
use aes_siv::siv::Aes256Siv;
use curve25519_dalek::scalar::Scalar;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2_v011::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::messages::{Bytes, Recover1Request, Recover1Response, Recover2Request, Recover2Response, RegisterRequest};
use crate::{ProtocolError, oprf, shamir};

/// Length of the unlock key, the secret and every tag and commitment.
pub const KEY_LEN: usize = 32;
/// The largest number of realms of one registration.
pub const MAX_REALMS: usize = 16;
/// The longest realm id, in bytes.
pub const MAX_REALM_ID_LEN: usize = 64;
/// The version byte of [`RegistrationHeader`]'s encoding.
pub const HEADER_VERSION: u8 = 1;

const D_ACCESS: &[u8] = b"share-backup/guarded-pin/v1/access-key";
const D_MASK: &[u8] = b"share-backup/guarded-pin/v1/mask";
const D_TAG: &[u8] = b"share-backup/guarded-pin/v1/unlock-tag";
const D_SHARE_KEY: &[u8] = b"share-backup/guarded-pin/v1/share-key";
const D_SHARE_AAD: &[u8] = b"share-backup/guarded-pin/v1/share";
const D_COMMIT_U: &[u8] = b"share-backup/guarded-pin/v1/unlock-key-commitment";
const D_COMMIT_S: &[u8] = b"share-backup/guarded-pin/v1/secret-commitment";
const D_DATA_KEY: &[u8] = b"share-backup/guarded-pin/v1/data-key";

fn lp(h: &mut impl Digest, b: &[u8]) {
    h.update((b.len() as u16).to_be_bytes());
    h.update(b);
}

/// The OPRF input: SHA-512 over the domain, user, registration id and PIN.
pub fn access_key(pin: &[u8], user: &str, reg_id: &[u8; 16]) -> Zeroizing<[u8; 64]> {
    let mut h = Sha512::new();
    h.update(D_ACCESS);
    lp(&mut h, user.as_bytes());
    h.update(reg_id);
    lp(&mut h, pin);
    Zeroizing::new(h.finalize().into())
}

fn mask(oprf_output: &[u8; 64]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut h = Sha512::new();
    h.update(D_MASK);
    h.update(oprf_output);
    let full: Zeroizing<[u8; 64]> = Zeroizing::new(h.finalize().into());
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(&full[..KEY_LEN]);
    out
}

fn xor32(a: &[u8], b: &[u8; KEY_LEN]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(a.iter().zip(b.iter()).map(|(x, y)| x ^ y).collect())
}

/// The unlock tag of one realm: HMAC-SHA256(unlock key, domain || reg id || realm id).
pub fn unlock_tag(unlock_key: &[u8], reg_id: &[u8; 16], realm_id: &str) -> [u8; KEY_LEN] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(unlock_key).expect("HMAC takes any key length");
    m.update(D_TAG);
    m.update(reg_id);
    m.update(&(realm_id.len() as u16).to_be_bytes());
    m.update(realm_id.as_bytes());
    m.finalize().into_bytes().into()
}

fn commitment(domain: &[u8], reg_id: &[u8; 16], value: &[u8]) -> [u8; KEY_LEN] {
    let mut h = Sha256::new();
    h.update(domain);
    h.update(reg_id);
    h.update(value);
    h.finalize().into()
}

fn share_cipher(unlock_key: &[u8], reg_id: &[u8; 16], realm_id: &str) -> Aes256Siv {
    let hk = Hkdf::<Sha512>::new(Some(reg_id), unlock_key);
    let mut okm = Zeroizing::new([0u8; 64]);
    let info = [D_SHARE_KEY, &(realm_id.len() as u16).to_be_bytes(), realm_id.as_bytes()].concat();
    hk.expand(&info, &mut okm[..]).expect("64 bytes is a valid HKDF-SHA512 length");
    Aes256Siv::new_from_slice(&okm[..]).expect("AES-256-SIV takes a 64-byte key")
}

fn share_aad(reg_id: &[u8; 16], realm_id: &str, index: u8, user: &str) -> Vec<u8> {
    [
        D_SHARE_AAD,
        reg_id,
        &(realm_id.len() as u16).to_be_bytes(),
        realm_id.as_bytes(),
        &[index],
        &(user.len() as u16).to_be_bytes(),
        user.as_bytes(),
    ]
    .concat()
}

/// The 512-bit data key of a backup, from the recovered secret.
pub fn data_key(secret: &[u8], reg_id: &[u8; 16], user: &str) -> Zeroizing<[u8; 64]> {
    let hk = Hkdf::<Sha512>::new(Some(reg_id), secret);
    let mut okm = Zeroizing::new([0u8; 64]);
    let info = [D_DATA_KEY, &(user.len() as u16).to_be_bytes(), user.as_bytes()].concat();
    hk.expand(&info, &mut okm[..]).expect("64 bytes is a valid HKDF-SHA512 length");
    okm
}

/// What the client keeps (in the envelope's key header, in clear): which
/// realms hold the registration and commitments that let the client check
/// its reconstructions. Holds nothing that tests a PIN (SPEC.md, "What each
/// party learns").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationHeader {
    /// The registration id (the backup id).
    pub reg_id: [u8; 16],
    /// Shares needed to recover.
    pub threshold: u8,
    /// The realm ids; realm `i` (0-based) holds share index `i + 1`.
    pub realms: Vec<String>,
    /// SHA-256 commitment to the unlock key.
    pub unlock_commitment: [u8; KEY_LEN],
    /// SHA-256 commitment to the secret.
    pub secret_commitment: [u8; KEY_LEN],
}

impl RegistrationHeader {
    /// Encodes: version, reg id, threshold, n, the two commitments, then
    /// each realm id as one length byte and its bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![HEADER_VERSION];
        out.extend_from_slice(&self.reg_id);
        out.push(self.threshold);
        out.push(self.realms.len() as u8);
        out.extend_from_slice(&self.unlock_commitment);
        out.extend_from_slice(&self.secret_commitment);
        for r in &self.realms {
            out.push(r.len() as u8);
            out.extend_from_slice(r.as_bytes());
        }
        out
    }

    /// Parses [`Self::to_bytes`] strictly.
    ///
    /// # Errors
    /// [`ProtocolError::Malformed`] for any deviation.
    pub fn parse(b: &[u8]) -> Result<Self, ProtocolError> {
        let bad = ProtocolError::Malformed("not a guarded-pin v1 key header");
        let fixed = 1 + 16 + 2 + 2 * KEY_LEN;
        if b.len() < fixed || b[0] != HEADER_VERSION {
            return Err(bad);
        }
        let reg_id: [u8; 16] = b[1..17].try_into().map_err(|_| bad.clone())?;
        let (threshold, n) = (b[17], b[18] as usize);
        let unlock_commitment = b[19..51].try_into().map_err(|_| bad.clone())?;
        let secret_commitment = b[51..83].try_into().map_err(|_| bad.clone())?;
        let mut rest = &b[fixed..];
        let mut realms = Vec::with_capacity(n);
        for _ in 0..n {
            let (&len, tail) = rest.split_first().ok_or(bad.clone())?;
            let len = len as usize;
            if len == 0 || len > MAX_REALM_ID_LEN || tail.len() < len {
                return Err(bad);
            }
            realms.push(String::from_utf8(tail[..len].to_vec()).map_err(|_| bad.clone())?);
            rest = &tail[len..];
        }
        let h = RegistrationHeader { reg_id, threshold, realms, unlock_commitment, secret_commitment };
        if !rest.is_empty() || check_shape(h.threshold as usize, &h.realms).is_err() {
            return Err(bad);
        }
        Ok(h)
    }
}

fn check_shape(threshold: usize, realms: &[String]) -> Result<(), ProtocolError> {
    let mut seen = std::collections::BTreeSet::new();
    if threshold < 2 || threshold > realms.len() || realms.len() > MAX_REALMS {
        return Err(ProtocolError::Malformed("need 2 <= threshold <= realms <= 16"));
    }
    for r in realms {
        if r.is_empty() || r.len() > MAX_REALM_ID_LEN || !seen.insert(r.as_str()) {
            return Err(ProtocolError::Malformed("realm ids are 1 to 64 bytes and distinct"));
        }
    }
    Ok(())
}

/// A prepared registration: one request per realm, the header, the secret.
pub struct Registration {
    /// `requests[i]` goes to realm `header.realms[i]`.
    pub requests: Vec<RegisterRequest>,
    /// What the envelope keeps.
    pub header: RegistrationHeader,
    /// The secret (from which the data key is derived).
    pub secret: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration").field("header", &self.header).field("secret", &"[REDACTED]").finish()
    }
}

/// Fixed randomness for test vectors: the per-realm OPRF keys, the unlock
/// key, the secret and the Shamir shares of both.
#[doc(hidden)]
pub struct Randomness {
    pub oprf_keys: Vec<Scalar>,
    pub unlock_key: [u8; KEY_LEN],
    pub secret: [u8; KEY_LEN],
    pub unlock_shares: Vec<Zeroizing<Vec<u8>>>,
    pub secret_shares: Vec<Zeroizing<Vec<u8>>>,
}

impl Randomness {
    fn fresh(threshold: usize, n: usize) -> Result<Self, ProtocolError> {
        let mut unlock_key = [0u8; KEY_LEN];
        let mut secret = [0u8; KEY_LEN];
        getrandom::fill(&mut unlock_key).map_err(|_| ProtocolError::Random)?;
        getrandom::fill(&mut secret).map_err(|_| ProtocolError::Random)?;
        Ok(Randomness {
            oprf_keys: (0..n).map(|_| oprf::random_scalar()).collect::<Result<_, _>>()?,
            unlock_shares: shamir::split(threshold, n, &unlock_key)?,
            secret_shares: shamir::split(threshold, n, &secret)?,
            unlock_key,
            secret,
        })
    }
}

impl Drop for Randomness {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.unlock_key);
        zeroize::Zeroize::zeroize(&mut self.secret);
        for k in &mut self.oprf_keys {
            zeroize::Zeroize::zeroize(k);
        }
    }
}

/// Prepares a registration of a fresh secret under `pin` at `realms`
/// (realm ids), any `threshold` of which recover it.
///
/// # Errors
/// [`ProtocolError::Malformed`] for a bad shape; [`ProtocolError::Random`].
pub fn register(
    pin: &[u8],
    user: &str,
    reg_id: [u8; 16],
    realms: &[String],
    threshold: usize,
    max_guesses: u32,
) -> Result<Registration, ProtocolError> {
    check_shape(threshold, realms)?;
    let rnd = Randomness::fresh(threshold, realms.len())?;
    register_with(pin, user, reg_id, realms, threshold, max_guesses, &rnd)
}

#[doc(hidden)]
pub fn register_with(
    pin: &[u8],
    user: &str,
    reg_id: [u8; 16],
    realms: &[String],
    threshold: usize,
    max_guesses: u32,
    rnd: &Randomness,
) -> Result<Registration, ProtocolError> {
    check_shape(threshold, realms)?;
    if max_guesses == 0 {
        return Err(ProtocolError::Malformed("max_guesses must be at least 1"));
    }
    let input = access_key(pin, user, &reg_id);
    let reg_hex = hex_id(&reg_id);
    let mut requests = Vec::with_capacity(realms.len());
    for (i, realm) in realms.iter().enumerate() {
        let index = (i + 1) as u8;
        let (u_share, s_share) = (&rnd.unlock_shares[i], &rnd.secret_shares[i]);
        if u_share[0] != index || s_share[0] != index {
            return Err(ProtocolError::Malformed("Shamir shares are not numbered 1..=n"));
        }
        let n_i = oprf::evaluate(&rnd.oprf_keys[i], &input[..])?;
        let masked = xor32(&u_share[1..], &mask(&n_i));
        let ct = share_cipher(&rnd.unlock_key, &reg_id, realm)
            .encrypt([share_aad(&reg_id, realm, index, user)], &s_share[..])
            .map_err(|_| ProtocolError::Malformed("share encryption"))?;
        requests.push(RegisterRequest {
            reg_id: reg_hex.clone(),
            share_index: index,
            oprf_key: Bytes(rnd.oprf_keys[i].to_bytes().to_vec()),
            masked_unlock_share: Bytes(masked.to_vec()),
            unlock_tag: Bytes(unlock_tag(&rnd.unlock_key, &reg_id, realm).to_vec()),
            encrypted_share: Bytes(ct),
            max_guesses,
        });
    }
    let header = RegistrationHeader {
        reg_id,
        threshold: threshold as u8,
        realms: realms.to_vec(),
        unlock_commitment: commitment(D_COMMIT_U, &reg_id, &rnd.unlock_key),
        secret_commitment: commitment(D_COMMIT_S, &reg_id, &rnd.secret),
    };
    Ok(Registration { requests, header, secret: Zeroizing::new(rnd.secret) })
}

/// 32 lower-case hex digits.
pub fn hex_id(reg_id: &[u8; 16]) -> String {
    reg_id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a recovery step failed on the client side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoverFailure {
    /// No `threshold` of the evaluations reconstruct the committed unlock
    /// key: the PIN is wrong (or too many realms answered falsely).
    NoUnlock,
    /// Fewer than `threshold` released shares decrypt and reconstruct the
    /// committed secret; the listed realms (0-based positions) sent shares
    /// that did not decrypt.
    NoSecret {
        /// Positions whose shares failed to authenticate.
        bad_realms: Vec<usize>,
    },
}

/// A recovery in progress: the blinds of phase 1 and the header.
pub struct Recovery {
    header: RegistrationHeader,
    user: String,
    input: Zeroizing<[u8; 64]>,
    blinds: Vec<Scalar>,
}

impl std::fmt::Debug for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recovery").field("header", &self.header).finish_non_exhaustive()
    }
}

impl Drop for Recovery {
    fn drop(&mut self) {
        for b in &mut self.blinds {
            zeroize::Zeroize::zeroize(b);
        }
    }
}

/// The unlock key, once reconstructed and checked against its commitment.
pub struct UnlockKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for UnlockKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnlockKey([REDACTED])")
    }
}

impl Recovery {
    /// Starts a recovery with `pin`: phase 1 requests, one per realm of the header.
    ///
    /// # Errors
    /// [`ProtocolError::Random`].
    pub fn start(
        pin: &[u8],
        user: &str,
        header: RegistrationHeader,
    ) -> Result<(Recovery, Vec<Recover1Request>), ProtocolError> {
        let input = access_key(pin, user, &header.reg_id);
        let mut blinds = Vec::with_capacity(header.realms.len());
        let mut requests = Vec::with_capacity(header.realms.len());
        for _ in &header.realms {
            let (r, blinded) = oprf::blind(&input[..])?;
            blinds.push(r);
            requests.push(Recover1Request {
                reg_id: hex_id(&header.reg_id),
                blinded: Bytes(blinded.compress().to_bytes().to_vec()),
            });
        }
        Ok((Recovery { header, user: user.to_string(), input, blinds }, requests))
    }

    /// The header this recovery works on.
    pub fn header(&self) -> &RegistrationHeader {
        &self.header
    }

    /// Phase 1's result: from the answers (realm position, response), finds
    /// `threshold` whose unmasked shares reconstruct the committed unlock
    /// key. Malformed answers and answers under another index are skipped;
    /// a false evaluation only spoils the subsets it is in.
    ///
    /// # Errors
    /// [`RecoverFailure::NoUnlock`] when no subset reconstructs it.
    pub fn unlock(&self, answers: &[(usize, Recover1Response)]) -> Result<UnlockKey, RecoverFailure> {
        let mut shares: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        for (pos, a) in answers {
            let (Some(blind), Ok(z)) = (self.blinds.get(*pos), oprf::decode_element(&a.evaluated.0)) else {
                continue;
            };
            if a.share_index as usize != pos + 1 || a.masked_unlock_share.0.len() != KEY_LEN {
                continue;
            }
            let n_i = oprf::finalize(&self.input[..], blind, &z);
            let y = xor32(&a.masked_unlock_share.0, &mask(&n_i));
            let mut share = Zeroizing::new(vec![a.share_index]);
            share.extend_from_slice(&y);
            shares.push(share);
        }
        let t = self.header.threshold as usize;
        let found = first_subset(&shares, t, |candidate| {
            candidate.len() == KEY_LEN
                && bool::from(
                    commitment(D_COMMIT_U, &self.header.reg_id, candidate).ct_eq(&self.header.unlock_commitment),
                )
        });
        found
            .map(|u| UnlockKey(Zeroizing::new(u[..].try_into().expect("checked length"))))
            .ok_or(RecoverFailure::NoUnlock)
    }

    /// Phase 2 requests for the realms at `positions`, proving `key`.
    pub fn phase2(&self, key: &UnlockKey, positions: &[usize]) -> Vec<(usize, Recover2Request)> {
        positions
            .iter()
            .filter_map(|&p| {
                let realm = self.header.realms.get(p)?;
                Some((
                    p,
                    Recover2Request {
                        reg_id: hex_id(&self.header.reg_id),
                        unlock_tag: Bytes(unlock_tag(&key.0[..], &self.header.reg_id, realm).to_vec()),
                    },
                ))
            })
            .collect()
    }

    /// A phase 2 request with a tag no realm accepts: after a wrong last
    /// guess, it makes a realm with no guesses left erase the registration.
    pub fn phase2_wrong(&self) -> Result<Recover2Request, ProtocolError> {
        let mut tag = vec![0u8; KEY_LEN];
        getrandom::fill(&mut tag).map_err(|_| ProtocolError::Random)?;
        Ok(Recover2Request { reg_id: hex_id(&self.header.reg_id), unlock_tag: Bytes(tag) })
    }

    /// Phase 2's result: decrypts the released shares and reconstructs the
    /// committed secret; returns the backup's 64-byte data key.
    ///
    /// # Errors
    /// [`RecoverFailure::NoSecret`] naming the realms whose shares did not
    /// authenticate when no `threshold` good ones reconstruct the secret.
    pub fn finish(
        &self,
        key: &UnlockKey,
        answers: &[(usize, Recover2Response)],
    ) -> Result<Zeroizing<[u8; 64]>, RecoverFailure> {
        let (mut shares, mut bad) = (Vec::new(), Vec::new());
        for (pos, a) in answers {
            let Some(realm) = self.header.realms.get(*pos) else { continue };
            let index = (*pos + 1) as u8;
            let aad = share_aad(&self.header.reg_id, realm, index, &self.user);
            match share_cipher(&key.0[..], &self.header.reg_id, realm).decrypt([aad], &a.encrypted_share.0) {
                Ok(pt) if pt.len() == KEY_LEN + 1 && pt[0] == index => shares.push(Zeroizing::new(pt)),
                _ => bad.push(*pos),
            }
        }
        let t = self.header.threshold as usize;
        let found = first_subset(&shares, t, |c| {
            c.len() == KEY_LEN
                && bool::from(commitment(D_COMMIT_S, &self.header.reg_id, c).ct_eq(&self.header.secret_commitment))
        });
        match found {
            Some(secret) => Ok(data_key(&secret, &self.header.reg_id, &self.user)),
            None => Err(RecoverFailure::NoSecret { bad_realms: bad }),
        }
    }
}

/// The first `t`-subset of `shares` (in lexicographic order, at most 4096
/// tried) whose combination passes `ok`.
fn first_subset(shares: &[Zeroizing<Vec<u8>>], t: usize, ok: impl Fn(&[u8]) -> bool) -> Option<Zeroizing<Vec<u8>>> {
    let m = shares.len();
    if t < 2 || m < t {
        return None;
    }
    let mut idx: Vec<usize> = (0..t).collect();
    for _ in 0..4096 {
        let subset: Vec<Zeroizing<Vec<u8>>> = idx.iter().map(|&i| shares[i].clone()).collect();
        if let Ok(c) = shamir::combine(&subset) {
            if ok(&c) {
                return Some(c);
            }
        }
        // next combination
        let mut i = t;
        loop {
            if i == 0 {
                return None;
            }
            i -= 1;
            if idx[i] < m - t + i {
                idx[i] += 1;
                for j in i + 1..t {
                    idx[j] = idx[j - 1] + 1;
                }
                break;
            }
        }
    }
    None
}

#[doc(hidden)]
/// Test support: the mask of an OPRF output.
pub fn mask_for_tests(oprf_output: &[u8; 64]) -> [u8; KEY_LEN] {
    *mask(oprf_output)
}

#[doc(hidden)]
/// Test support: whether `u` matches the header's unlock-key commitment.
pub fn unlock_matches_for_tests(header: &RegistrationHeader, u: &[u8]) -> bool {
    bool::from(commitment(D_COMMIT_U, &header.reg_id, u).ct_eq(&header.unlock_commitment))
}

#[doc(hidden)]
/// Test support: reconstructs the unlock key with the PIN from the realms' rows.
pub fn unlock_key_for_tests(header: &RegistrationHeader, rows: &[RegisterRequest], pin: &[u8], user: &str) -> Vec<u8> {
    let input = access_key(pin, user, &header.reg_id);
    let shares: Vec<Zeroizing<Vec<u8>>> = rows
        .iter()
        .map(|r| {
            let k = oprf::decode_scalar(&r.oprf_key.0).expect("a stored key");
            let n = oprf::evaluate(&k, &input[..]).expect("evaluates");
            let mut s = vec![r.share_index];
            s.extend_from_slice(&xor32(&r.masked_unlock_share.0, &mask(&n)));
            Zeroizing::new(s)
        })
        .collect();
    shamir::combine(&shares).expect("combines").to_vec()
}
