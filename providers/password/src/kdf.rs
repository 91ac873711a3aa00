//! The key derivation: Balloon-M over SHA-256, then HKDF-SHA-256 to the
//! 512-bit data key and a key-check value; the versioned key header that
//! carries the costs and the salt; the cost cap; calibration.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use balloon_hash::{Algorithm as BalloonAlgorithm, Balloon, Params};
use hkdf::Hkdf;
use secrecy::ExposeSecret;
use sha2_v011::Sha256;
use share_backup_core::{DataKey, Error, ErrorKind, KeyHeader, Result, fill_random};
use zeroize::{Zeroize, Zeroizing};

use crate::normalize::NormalizedPassword;

/// Size in bytes of one Balloon block (the SHA-256 output).
pub const BLOCK_LEN: u64 = 32;
/// Version byte of the password key header format.
pub const HEADER_VERSION: u8 = 1;
/// Length in bytes of the random salt written into new headers.
pub const SALT_LEN: usize = 32;
/// Shortest salt a header may carry.
pub const MIN_SALT_LEN: usize = 16;
/// Longest salt a header may carry.
pub const MAX_SALT_LEN: usize = 64;
/// Length in bytes of the key-check value.
pub const KCV_LEN: usize = 16;
/// Largest space cost a header may carry at all (2^26 blocks = 2 GiB), cap or not.
pub const MAX_SPACE_COST: u32 = 1 << 26;
/// Largest time cost a header may carry at all.
pub const MAX_TIME_COST: u32 = 1 << 16;
/// Largest parallelism a header may carry at all.
pub const MAX_PARALLELISM: u8 = 64;
/// Smallest space cost (blocks per thread) new backups may use: 2^15 blocks,
/// 1 MiB. Below it, or below [`MIN_SEAL_WORK`], the builder refuses the
/// costs with [`BelowCostFloor`] (tests use the `test-support` feature's
/// explicit way around it).
pub const MIN_SEAL_SPACE_COST: u32 = 1 << 15;
/// Smallest work (block-rounds) new backups may use: 3 × 2^15.
pub const MIN_SEAL_WORK: u64 = 3 << 15;

const HKDF_SALT: &[u8] = b"share-backup password kdf v1";
const INFO_DATA_KEY: &[u8] = b"share-backup password v1 data key";
const INFO_KCV: &[u8] = b"share-backup password v1 key check";

/// The KDF algorithm written into the key header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KdfAlgorithm {
    /// Balloon-M (the multi-core variant, RFC-less; Boneh, Corrigan-Gibbs,
    /// Schechter 2016) over SHA-256, its 32-byte output expanded with
    /// HKDF-SHA-256 into the 64-byte data key and a 16-byte key-check value.
    /// Id 1.
    BalloonMSha256,
}

impl KdfAlgorithm {
    /// The id byte in the header.
    pub fn id(self) -> u8 {
        match self {
            KdfAlgorithm::BalloonMSha256 => 1,
        }
    }

    /// The algorithm of an id byte.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidEnvelope`] for an id this build does not know.
    pub fn from_id(id: u8) -> Result<Self> {
        match id {
            1 => Ok(KdfAlgorithm::BalloonMSha256),
            other => Err(Error::invalid_envelope(format!("unknown password KDF algorithm id {other}"))
                .with_hint("upgrade share-backup-password to read this backup")),
        }
    }

    /// A short stable name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            KdfAlgorithm::BalloonMSha256 => "balloon-m-sha256",
        }
    }
}

/// The cost parameters of one derivation.
///
/// Work is `space_cost × time_cost × parallelism` block-rounds (about 17
/// SHA-256 compressions each); memory is `space_cost × parallelism × 32`
/// bytes. With the `parallel` threads on separate cores, wall time is about
/// that of one thread.
///
/// ```
/// use share_backup_password::KdfParams;
/// let p = KdfParams::new(1024, 3, 1).unwrap();
/// assert_eq!(p.work(), 3072);
/// assert_eq!(p.memory_bytes(), 32 * 1024);
/// assert!(KdfParams::new(0, 3, 1).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KdfParams {
    space_cost: u32,
    time_cost: u32,
    parallelism: u8,
}

impl KdfParams {
    /// The default costs: 2^17 blocks (4 MiB), 3 rounds, 1 thread: 0.65–0.87 s
    /// on the project's server core with SHA-NI, estimated at 1.0–1.6 s on a
    /// 2 GHz ARMv8 core with SHA extensions (see the README and
    /// BENCHMARKS.md for the figures and the estimate); call [`calibrate`]
    /// on the device to know.
    pub const DEFAULT: KdfParams = KdfParams { space_cost: 1 << 17, time_cost: 3, parallelism: 1 };

    /// Costs with these values.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when a value is 0 or above the format's
    /// absolute limits ([`MAX_SPACE_COST`], [`MAX_TIME_COST`], [`MAX_PARALLELISM`]).
    pub fn new(space_cost: u32, time_cost: u32, parallelism: u8) -> Result<Self> {
        check_range("space_cost", u64::from(space_cost), 1, u64::from(MAX_SPACE_COST)).map_err(Error::invalid_input)?;
        check_range("time_cost", u64::from(time_cost), 1, u64::from(MAX_TIME_COST)).map_err(Error::invalid_input)?;
        check_range("parallelism", u64::from(parallelism), 1, u64::from(MAX_PARALLELISM))
            .map_err(Error::invalid_input)?;
        Ok(KdfParams { space_cost, time_cost, parallelism })
    }

    /// Blocks of 32 bytes per thread.
    pub fn space_cost(&self) -> u32 {
        self.space_cost
    }

    /// Mixing rounds.
    pub fn time_cost(&self) -> u32 {
        self.time_cost
    }

    /// Independent threads (Balloon-M), each with its own `space_cost` blocks.
    pub fn parallelism(&self) -> u8 {
        self.parallelism
    }

    /// Total work in block-rounds: `space_cost × time_cost × parallelism`.
    pub fn work(&self) -> u64 {
        u64::from(self.space_cost) * u64::from(self.time_cost) * u64::from(self.parallelism)
    }

    /// Memory one derivation allocates, in bytes.
    pub fn memory_bytes(&self) -> u64 {
        u64::from(self.space_cost) * u64::from(self.parallelism) * BLOCK_LEN
    }

    /// SHA-256 compression-function calls of one derivation with a salt of
    /// `salt_len` bytes (what the benchmark divides by the time taken).
    pub fn compressions(&self, salt_len: usize) -> u64 {
        let s = u64::from(self.space_cost);
        let t = u64::from(self.time_cost);
        let p = u64::from(self.parallelism);
        let blocks = |msg_len: u64| (msg_len + 9).div_ceil(64);
        let salt = salt_len as u64;
        // Fill: buf[0] = H(cnt, pwd, salt, thread) (ignored: one hash), then s-1 × H(cnt, block).
        let fill = 1 + (s - 1) * blocks(8 + 32);
        // Mix, per block: H(cnt, prev, cur), then 3 × [H(t, m, i), H(cnt, salt, thread, idx), H(cnt, cur, other)].
        let per_block = blocks(8 + 64) + 3 * (blocks(24) + blocks(8 + salt + 8 + 32) + blocks(8 + 64));
        p * (fill + s * t * per_block) + 1
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams::DEFAULT
    }
}

impl fmt::Display for KdfParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "space_cost={} ({} KiB), time_cost={}, parallelism={}",
            self.space_cost,
            self.memory_bytes() / 1024,
            self.time_cost,
            self.parallelism
        )
    }
}

/// The most work and memory an envelope may ask of this process on
/// recovery, checked before any hashing.
///
/// ```
/// use share_backup_password::{CostCap, KdfParams};
/// let cap = CostCap::default();
/// assert!(cap.check(&KdfParams::DEFAULT).is_ok());
/// let hostile = KdfParams::new(1 << 26, 1 << 16, 64).unwrap();
/// assert!(cap.check(&hostile).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CostCap {
    max_work: u64,
    max_memory_bytes: u64,
}

impl CostCap {
    /// 16 × the default work, and 256 MiB of memory.
    pub const DEFAULT: CostCap = CostCap { max_work: 16 * (1 << 17) * 3, max_memory_bytes: 256 << 20 };

    /// A cap of `max_work` block-rounds and `max_memory_bytes` bytes.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when either is 0.
    pub fn new(max_work: u64, max_memory_bytes: u64) -> Result<Self> {
        if max_work == 0 || max_memory_bytes == 0 {
            return Err(Error::invalid_input("a cost cap must allow some work and some memory (both above 0)"));
        }
        Ok(CostCap { max_work, max_memory_bytes })
    }

    /// Most block-rounds (`space × time × parallelism`).
    pub fn max_work(&self) -> u64 {
        self.max_work
    }

    /// Most bytes of memory (`space × parallelism × 32`).
    pub fn max_memory_bytes(&self) -> u64 {
        self.max_memory_bytes
    }

    /// Whether `params` fits under the cap. Work is checked first, then memory.
    ///
    /// # Errors
    /// [`ErrorKind::ExcessiveWork`] `{ required, max }`, whose unit depends on
    /// the limit that fired: **block-rounds** (`space × time × parallelism`)
    /// for the work limit, **bytes** for the memory limit. The error's
    /// source is a [`CapExceeded`] naming the limit and its unit (downcast
    /// [`Error::source_ref`] to it); the message names the unit too.
    ///
    /// ```
    /// use share_backup_core::ErrorKind;
    /// use share_backup_password::{CapExceeded, CostCap, KdfParams};
    ///
    /// let cap = CostCap::new(u64::MAX, 1 << 20).unwrap();
    /// let e = cap.check(&KdfParams::new(1 << 16, 1, 1).unwrap()).unwrap_err();
    /// assert_eq!(e.kind(), &ErrorKind::ExcessiveWork { required: 2 << 20, max: 1 << 20 });
    /// let which = e.source_ref().unwrap().downcast_ref::<CapExceeded>().unwrap();
    /// assert_eq!(which, &CapExceeded::Memory { required_bytes: 2 << 20, max_bytes: 1 << 20 });
    /// assert_eq!(which.unit(), "bytes");
    /// ```
    pub fn check(&self, params: &KdfParams) -> Result<()> {
        let exceeded = if params.work() > self.max_work {
            CapExceeded::Work { required_block_rounds: params.work(), max_block_rounds: self.max_work }
        } else if params.memory_bytes() > self.max_memory_bytes {
            CapExceeded::Memory { required_bytes: params.memory_bytes(), max_bytes: self.max_memory_bytes }
        } else {
            return Ok(());
        };
        let (required, max) = exceeded.values();
        Err(Error::new(
            ErrorKind::ExcessiveWork { required, max },
            format!("the backup asks for more than this process allows: {exceeded}"),
        )
        .with_source(exceeded))
    }
}

/// Which limit of a [`CostCap`] an envelope went over, with its unit: the
/// `source` of the [`ErrorKind::ExcessiveWork`] error (whose `required` and
/// `max` carry the same two numbers, in this limit's unit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum CapExceeded {
    /// The work limit: `space × time × parallelism` block-rounds.
    #[error("{required_block_rounds} block-rounds of key derivation asked, at most {max_block_rounds} allowed")]
    Work {
        /// Block-rounds the envelope asks for.
        required_block_rounds: u64,
        /// The cap's [`CostCap::max_work`], in block-rounds.
        max_block_rounds: u64,
    },
    /// The memory limit: `space × parallelism × 32` bytes.
    #[error("{required_bytes} bytes of key-derivation memory asked, at most {max_bytes} allowed")]
    Memory {
        /// Bytes the envelope asks for.
        required_bytes: u64,
        /// The cap's [`CostCap::max_memory_bytes`].
        max_bytes: u64,
    },
}

impl CapExceeded {
    /// The unit of `required` and `max`: `"block-rounds"` or `"bytes"`.
    pub fn unit(&self) -> &'static str {
        match self {
            CapExceeded::Work { .. } => "block-rounds",
            CapExceeded::Memory { .. } => "bytes",
        }
    }

    /// `(required, max)`, in [`Self::unit`].
    pub fn values(&self) -> (u64, u64) {
        match *self {
            CapExceeded::Work { required_block_rounds, max_block_rounds } => (required_block_rounds, max_block_rounds),
            CapExceeded::Memory { required_bytes, max_bytes } => (required_bytes, max_bytes),
        }
    }
}

/// The KDF costs of new backups are below the floor every backup must meet
/// ([`MIN_SEAL_SPACE_COST`] blocks per thread and [`MIN_SEAL_WORK`]
/// block-rounds): the `source` of the `InvalidInput` error the builder
/// returns (downcast [`Error::source_ref`] to it).
///
/// ```
/// use share_backup_password::{BelowCostFloor, KdfParams, PasswordProvider};
/// let e = PasswordProvider::builder().kdf_params(KdfParams::new(64, 1, 1).unwrap()).build().unwrap_err();
/// let floor = e.source_ref().unwrap().downcast_ref::<BelowCostFloor>().unwrap();
/// assert_eq!(floor.space_cost, 64);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error(
    "KDF costs space_cost={space_cost}, work={work} block-rounds are below the floor for new backups \
     (space_cost >= {min_space_cost}, work >= {min_work})"
)]
#[non_exhaustive]
pub struct BelowCostFloor {
    /// The space cost asked for (blocks per thread).
    pub space_cost: u32,
    /// The work asked for (block-rounds).
    pub work: u64,
    /// [`MIN_SEAL_SPACE_COST`].
    pub min_space_cost: u32,
    /// [`MIN_SEAL_WORK`].
    pub min_work: u64,
}

/// Refuses costs below the floor for new backups.
pub(crate) fn check_floor(params: &KdfParams) -> Result<()> {
    if params.space_cost >= MIN_SEAL_SPACE_COST && params.work() >= MIN_SEAL_WORK {
        return Ok(());
    }
    let floor = BelowCostFloor {
        space_cost: params.space_cost,
        work: params.work(),
        min_space_cost: MIN_SEAL_SPACE_COST,
        min_work: MIN_SEAL_WORK,
    };
    Err(Error::invalid_input(format!("{floor}"))
        .with_hint(
            "raise space_cost / time_cost (or calibrate on the device); the floor keeps guessing a password costly",
        )
        .with_source(floor))
}

impl Default for CostCap {
    fn default() -> Self {
        CostCap::DEFAULT
    }
}

fn check_range(what: &str, v: u64, min: u64, max: u64) -> std::result::Result<(), String> {
    if v < min || v > max { Err(format!("{what} must be {min} to {max}, got {v}")) } else { Ok(()) }
}

/// The parsed password key header.
///
/// Layout (all integers big-endian), exactly `12 + salt_len + 16` bytes:
///
/// | bytes | field |
/// | --- | --- |
/// | 1 | header version, 1 |
/// | 1 | KDF algorithm id, 1 = Balloon-M-SHA-256 + HKDF |
/// | 4 | space cost (blocks), 1 ..= 2^26 |
/// | 4 | time cost, 1 ..= 2^16 |
/// | 1 | parallelism, 1 ..= 64 |
/// | 1 | salt length, 16 ..= 64 |
/// | salt length | salt |
/// | 16 | key-check value |
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHeader {
    algorithm: KdfAlgorithm,
    params: KdfParams,
    salt: Vec<u8>,
    kcv: [u8; KCV_LEN],
}

impl PasswordHeader {
    /// The KDF algorithm.
    pub fn algorithm(&self) -> KdfAlgorithm {
        self.algorithm
    }

    /// The costs.
    pub fn params(&self) -> &KdfParams {
        &self.params
    }

    /// The salt (not secret).
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The key-check value (not secret: see the README's security notes).
    pub fn key_check(&self) -> &[u8; KCV_LEN] {
        &self.kcv
    }

    /// The fields the KDF binds (everything but the key-check value).
    fn prefix(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(12 + self.salt.len());
        h.push(HEADER_VERSION);
        h.push(self.algorithm.id());
        h.extend_from_slice(&self.params.space_cost.to_be_bytes());
        h.extend_from_slice(&self.params.time_cost.to_be_bytes());
        h.push(self.params.parallelism);
        h.push(self.salt.len() as u8);
        h.extend_from_slice(&self.salt);
        h
    }

    /// The header bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut h = self.prefix();
        h.extend_from_slice(&self.kcv);
        h
    }

    /// Parses header bytes strictly. Never panics; does no hashing.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidEnvelope`] naming the rule broken: wrong version,
    /// unknown algorithm, a cost outside its absolute bounds, a bad salt
    /// length, a wrong total length.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let bad = |m: String| Error::invalid_envelope(format!("password key header: {m}"));
        if bytes.len() < 12 {
            return Err(bad(format!("{} bytes is too short", bytes.len())));
        }
        if bytes[0] != HEADER_VERSION {
            return Err(bad(format!("version {} is not supported (this build reads version 1)", bytes[0]))
                .with_hint("upgrade share-backup-password to read this backup"));
        }
        let algorithm = KdfAlgorithm::from_id(bytes[1])?;
        let space_cost = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let time_cost = u32::from_be_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]);
        let parallelism = bytes[10];
        let salt_len = bytes[11] as usize;
        check_range("space cost", u64::from(space_cost), 1, u64::from(MAX_SPACE_COST)).map_err(bad)?;
        check_range("time cost", u64::from(time_cost), 1, u64::from(MAX_TIME_COST)).map_err(bad)?;
        check_range("parallelism", u64::from(parallelism), 1, u64::from(MAX_PARALLELISM)).map_err(bad)?;
        check_range("salt length", salt_len as u64, MIN_SALT_LEN as u64, MAX_SALT_LEN as u64).map_err(bad)?;
        let expected = 12 + salt_len + KCV_LEN;
        if bytes.len() != expected {
            return Err(bad(format!("{} bytes, expected exactly {expected} for a {salt_len}-byte salt", bytes.len())));
        }
        let salt = bytes[12..12 + salt_len].to_vec();
        let mut kcv = [0u8; KCV_LEN];
        kcv.copy_from_slice(&bytes[12 + salt_len..12 + salt_len + KCV_LEN]);
        Ok(PasswordHeader { algorithm, params: KdfParams { space_cost, time_cost, parallelism }, salt, kcv })
    }
}

impl fmt::Debug for PasswordHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHeader")
            .field("algorithm", &self.algorithm.name())
            .field("params", &self.params)
            .field("salt_len", &self.salt.len())
            .finish_non_exhaustive()
    }
}

/// The output of one derivation: the data key and the key-check value.
pub(crate) struct Derived {
    pub(crate) key: DataKey,
    pub(crate) kcv: [u8; KCV_LEN],
}

/// Runs Balloon-M-SHA-256 on the normalized password: the raw 32-byte
/// output (test vectors and benchmarks; the provider never exposes it).
///
/// # Errors
/// [`ErrorKind::Internal`] if the hash refuses the parameters (it does not
/// for valid [`KdfParams`]).
pub fn balloon_sha256(password: &[u8], salt: &[u8], params: &KdfParams) -> Result<Zeroizing<[u8; 32]>> {
    let bp = Params::new(params.space_cost, params.time_cost, u32::from(params.parallelism))
        .map_err(|e| Error::internal(format!("balloon-hash refused the parameters: {e}")))?;
    let balloon = Balloon::<Sha256>::new(BalloonAlgorithm::BalloonM, bp, None);
    let blocks = params.space_cost as usize * params.parallelism as usize;
    let mut memory = vec![Default::default(); blocks];
    let mut out = Zeroizing::new([0u8; 32]);
    let r = balloon.hash_password_into_with_memory(password, salt, &mut memory, &mut out[..]);
    for block in memory.iter_mut() {
        let b: &mut [u8] = block.as_mut_slice();
        b.zeroize();
    }
    r.map_err(|e| Error::internal(format!("balloon-hash failed: {e}")))?;
    Ok(out)
}

/// Derives the data key and key-check value for `header`'s costs and salt,
/// counting the derivation in `started` before any hashing.
fn derive_for(password: &NormalizedPassword, header: &PasswordHeader, started: &AtomicU64) -> Result<Derived> {
    started.fetch_add(1, Ordering::Relaxed);
    let prefix = header.prefix();
    let raw = match header.algorithm {
        KdfAlgorithm::BalloonMSha256 => {
            balloon_sha256(password.expose_secret().as_bytes(), &header.salt, &header.params)?
        }
    };
    // HKDF-Extract by hand so that the PRK lives only in a CtOutput, which
    // hmac's zeroize feature wipes on drop (Hkdf::new leaves its copy on
    // the stack); the keyed HMAC state inside `hk` is wiped likewise.
    let prk = {
        let mut mac = <hmac::Hmac<Sha256> as hmac::KeyInit>::new_from_slice(HKDF_SALT)
            .map_err(|_| Error::internal("HMAC refused the HKDF salt"))?;
        hmac::Mac::update(&mut mac, &raw[..]);
        hmac::Mac::finalize(mac)
    };
    let hk = Hkdf::<Sha256>::from_prk(&prk.as_bytes()[..]).map_err(|_| Error::internal("HKDF refused the PRK"))?;
    drop(prk);
    let mut key = Zeroizing::new([0u8; DataKey::LEN]);
    let mut kcv = [0u8; KCV_LEN];
    hk.expand_multi_info(&[INFO_DATA_KEY, &prefix], &mut key[..])
        .and_then(|()| hk.expand_multi_info(&[INFO_KCV, &prefix], &mut kcv))
        .map_err(|_| Error::internal("HKDF refused the output length"))?;
    // from_slice copies straight into the key's box: no stray stack copy.
    Ok(Derived { key: DataKey::from_slice(&key[..])?, kcv })
}

/// Makes a header with a fresh random salt and derives its key.
pub(crate) fn seal(
    password: &NormalizedPassword,
    params: &KdfParams,
    started: &AtomicU64,
) -> Result<(Derived, PasswordHeader)> {
    let mut salt = vec![0u8; SALT_LEN];
    fill_random(&mut salt)?;
    seal_with_salt(password, params, salt, started)
}

/// As [`seal`] with a given salt (test vectors).
pub(crate) fn seal_with_salt(
    password: &NormalizedPassword,
    params: &KdfParams,
    salt: Vec<u8>,
    started: &AtomicU64,
) -> Result<(Derived, PasswordHeader)> {
    if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt.len()) {
        return Err(Error::invalid_input(format!("a salt is {MIN_SALT_LEN} to {MAX_SALT_LEN} bytes")));
    }
    let mut header = PasswordHeader { algorithm: KdfAlgorithm::BalloonMSha256, params: *params, salt, kcv: [0; 16] };
    let d = derive_for(password, &header, started)?;
    header.kcv = d.kcv;
    Ok((d, header))
}

/// Parses `header`, checks it against `cap` (before any hashing), derives,
/// and checks the key-check value; `started` counts the derivation.
pub(crate) fn open(
    password: &NormalizedPassword,
    header: &KeyHeader,
    cap: &CostCap,
    started: &AtomicU64,
) -> Result<DataKey> {
    let header = PasswordHeader::parse(header.as_bytes())?;
    cap.check(&header.params)?;
    let d = derive_for(password, &header, started)?;
    if !ct_eq(&d.kcv, &header.kcv) {
        return Err(Error::new(ErrorKind::WrongSecret, "the password does not open this backup"));
    }
    // The key-check value matched: the password is right and the key is the
    // one sealed under this header. An envelope that then fails to open was
    // altered or moved in the store (core reports Integrity, not WrongSecret).
    Ok(d.key.confirmed())
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The smallest space cost that meets the floor at these time cost and parallelism.
fn floor_space(time_cost: u32, parallelism: u8) -> u32 {
    let per_block = u64::from(time_cost) * u64::from(parallelism);
    let for_work = MIN_SEAL_WORK.div_ceil(per_block.max(1));
    u32::try_from(for_work).unwrap_or(MAX_SPACE_COST).clamp(MIN_SEAL_SPACE_COST, MAX_SPACE_COST)
}

/// What [`calibrate`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Calibration {
    /// The costs picked.
    pub params: KdfParams,
    /// How long one derivation at those costs took here.
    pub measured: Duration,
}

/// Picks a space cost so that one derivation takes about `target` on this
/// machine, at 3 rounds and 1 thread (memory-hardness favours space over
/// time). Runs a few derivations; takes about `2 × target`.
///
/// The result meets the floor for new backups ([`MIN_SEAL_SPACE_COST`],
/// [`MIN_SEAL_WORK`]) and is at most [`MAX_SPACE_COST`]; use
/// [`calibrate_with`] for another time cost or parallelism.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] for a zero target.
pub fn calibrate(target: Duration) -> Result<Calibration> {
    calibrate_with(target, 3, 1)
}

/// As [`calibrate`], with the time cost and parallelism given.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] for a zero target or invalid costs.
pub fn calibrate_with(target: Duration, time_cost: u32, parallelism: u8) -> Result<Calibration> {
    if target.is_zero() {
        return Err(Error::invalid_input("the calibration target must be above zero"));
    }
    let pw = NormalizedPassword::for_calibration();
    let salt = [0x5au8; SALT_LEN];
    let time = |p: &KdfParams| -> Result<Duration> {
        let t0 = Instant::now();
        balloon_sha256(pw.expose_secret().as_bytes(), &salt, p)?;
        Ok(t0.elapsed())
    };
    // Probe at growing sizes until one run takes a measurable slice of the target.
    let mut space = 1024u32;
    let mut params = KdfParams::new(space, time_cost, parallelism)?;
    let mut took = time(&params)?;
    while took < target / 16 && space < MAX_SPACE_COST {
        space = space.saturating_mul(4).min(MAX_SPACE_COST);
        params = KdfParams::new(space, time_cost, parallelism)?;
        took = time(&params)?;
    }
    // Scale linearly twice (cache effects make the cost per block grow with space).
    for _ in 0..2 {
        let scale = target.as_secs_f64() / took.as_secs_f64().max(1e-9);
        let next =
            (f64::from(params.space_cost) * scale).clamp(f64::from(MIN_SEAL_SPACE_COST), f64::from(MAX_SPACE_COST));
        let next = (next as u32).max(floor_space(time_cost, parallelism));
        if next == params.space_cost {
            break;
        }
        params = KdfParams::new(next, time_cost, parallelism)?;
        took = time(&params)?;
    }
    tracing::debug!(target: "share_backup_password", %params, ms = took.as_millis() as u64, "calibrated");
    Ok(Calibration { params, measured: took })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(params: KdfParams) -> PasswordHeader {
        PasswordHeader { algorithm: KdfAlgorithm::BalloonMSha256, params, salt: vec![7; 32], kcv: [9; 16] }
    }

    #[test]
    fn header_round_trips_and_has_the_documented_length() {
        let h = header(KdfParams::new(1024, 2, 3).unwrap());
        let b = h.to_bytes();
        assert_eq!(b.len(), 12 + 32 + 16);
        assert_eq!(PasswordHeader::parse(&b).unwrap(), h);
    }

    #[test]
    fn header_parse_refuses_every_truncation_and_extension() {
        let b = header(KdfParams::new(1024, 2, 3).unwrap()).to_bytes();
        for n in 0..b.len() {
            assert_eq!(PasswordHeader::parse(&b[..n]).unwrap_err().kind(), &ErrorKind::InvalidEnvelope, "{n}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(PasswordHeader::parse(&longer).unwrap_err().kind(), &ErrorKind::InvalidEnvelope);
    }

    #[test]
    fn header_parse_refuses_out_of_bounds_fields() {
        let good = header(KdfParams::new(1024, 2, 3).unwrap()).to_bytes();
        let cases: &[(usize, u8)] = &[(0, 2), (1, 0), (1, 2), (10, 0), (10, 65), (11, 15), (11, 65)];
        for &(at, v) in cases {
            let mut b = good.clone();
            b[at] = v;
            assert_eq!(PasswordHeader::parse(&b).unwrap_err().kind(), &ErrorKind::InvalidEnvelope, "byte {at} = {v}");
        }
        let mut zero_space = good.clone();
        zero_space[2..6].copy_from_slice(&0u32.to_be_bytes());
        assert!(PasswordHeader::parse(&zero_space).is_err());
        let mut huge_space = good.clone();
        huge_space[2..6].copy_from_slice(&(MAX_SPACE_COST + 1).to_be_bytes());
        assert!(PasswordHeader::parse(&huge_space).is_err());
        let mut huge_time = good;
        huge_time[6..10].copy_from_slice(&(MAX_TIME_COST + 1).to_be_bytes());
        assert!(PasswordHeader::parse(&huge_time).is_err());
    }

    #[test]
    fn unknown_algorithm_is_refused_with_an_upgrade_hint() {
        let mut b = header(KdfParams::new(1024, 2, 3).unwrap()).to_bytes();
        b[1] = 9;
        let e = PasswordHeader::parse(&b).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidEnvelope);
        assert!(e.hint().contains("upgrade"), "{e}");
    }

    #[test]
    fn cap_names_work_or_memory_in_its_error() {
        let cap = CostCap::new(1000, 1 << 20).unwrap();
        let e = cap.check(&KdfParams::new(1000, 2, 1).unwrap()).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::ExcessiveWork { required: 2000, max: 1000 });
        let which = e.source_ref().and_then(|s| s.downcast_ref::<CapExceeded>()).unwrap();
        assert_eq!(which, &CapExceeded::Work { required_block_rounds: 2000, max_block_rounds: 1000 });
        assert_eq!(which.unit(), "block-rounds");
        assert!(e.message().contains("2000 block-rounds"), "{e}");
        let cap = CostCap::new(1 << 20, 1 << 20).unwrap();
        let e = cap.check(&KdfParams::new(1 << 16, 1, 1).unwrap()).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::ExcessiveWork { required: 2 << 20, max: 1 << 20 });
        assert!(e.message().contains("2097152 bytes of key-derivation memory"), "{e}");
        let which = e.source_ref().and_then(|s| s.downcast_ref::<CapExceeded>()).unwrap();
        assert_eq!((which.unit(), which.values()), ("bytes", (2 << 20, 1 << 20)));
        let cap = CostCap::new(u64::MAX, 1 << 30).unwrap();
        assert!(cap.check(&KdfParams::new(1 << 16, 1, 1).unwrap()).is_ok());
    }

    /// The HKDF extract's PRK lives in a CtOutput and the keyed HMAC state
    /// in `Hkdf` is made of SHA-256 states: both are wiped on drop (hmac's
    /// and sha2's zeroize features).
    #[test]
    fn the_hkdf_prk_and_hmac_state_are_zeroized_on_drop() {
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        // The PRK.
        zeroized_on_drop::<hmac::digest::CtOutput<hmac::Hmac<Sha256>>>();
        // The SHA-256 states HMAC keys (inner and outer) and Balloon hashes with.
        zeroized_on_drop::<sha2_v011::block_api::Sha256VarCore>();
    }

    #[test]
    fn default_costs_fit_under_the_default_cap() {
        CostCap::DEFAULT.check(&KdfParams::DEFAULT).unwrap();
    }

    #[test]
    fn compression_count_matches_the_algorithm_for_a_32_byte_salt() {
        // s = 1, t = 1, p = 1: fill 1 + mix 1 × (2 + 3 × (1 + 2 + 2)) + final 1.
        assert_eq!(KdfParams::new(1, 1, 1).unwrap().compressions(32), 1 + 17 + 1);
    }
}
