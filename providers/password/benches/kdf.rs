//! Password KDF benchmarks (harness = false): `cargo bench -p share-backup-password --bench kdf`.
//!
//! 1. SHA-256 compression rate inside the KDF ÷ the raw rate of SHA-256 on
//!    this machine, same run, for balloon-hash 0.5.0-rc.5 (used) and 0.4.0
//!    (stable), with their outputs checked byte-identical;
//! 2. peak memory (VmHWM of a child process) of one derivation against the
//!    memory the costs ask for;
//! 3. a whole password backup (`seal_share`: policy, KDF, HKDF, AES-SIV) and
//!    recovery (`open_envelope`) ÷ one KDF at the same costs, and the
//!    non-KDF overhead measured directly: the same orchestrator backup with
//!    the smallest KDF (64 blocks × 1 round), whose own KDF time is also
//!    measured and subtracted;
//! 4. what `calibrate(1 s)` picks here and how long one derivation at those
//!    costs then takes.
//!
//! Each section prints the load average (`/proc/loadavg`) before and after.
//!
//! Options: `--quick` (smaller costs, fewer runs), `--only N[,M]` (sections),
//! `--child S T P` (internal).

use std::hint::black_box;
use std::time::{Duration, Instant};

use share_backup_core::{BackupId, BackupProviderExt, BackupShare, Configs, Context, UserId};
use share_backup_password::{KdfParams, MIN_SEAL_SPACE_COST, PasswordConfig, PasswordProvider, Policy, balloon_sha256};

const SALT: [u8; 32] = [0x42; 32];
const PASSWORD: &[u8] = b"correct horse battery staple";

fn min(v: Vec<Duration>) -> Duration {
    v.into_iter().min().unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `median [min–max]` of values, for a spread column.
fn spread(mut v: Vec<f64>, digits: usize) -> String {
    v.sort_by(f64::total_cmp);
    format!("{:.*} [{:.*}–{:.*}]", digits, v[v.len() / 2], digits, v[0], digits, v[v.len() - 1])
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Best of `n` runs after a warm-up: on a shared, loaded machine the
/// minimum is the least noisy estimate of what the code itself costs.
fn time_n(n: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    min((0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect())
}

/// Raw SHA-256 compressions per second: the block function over a 1 MiB
/// buffer (no padding, no buffering: the hash's own ceiling here).
fn raw_compressions_per_sec() -> f64 {
    let blocks = vec![[0x5au8; 64]; 16 * 1024];
    let mut state = [0u32; 8];
    let d = time_n(15, || {
        sha2_v011::block_api::compress256(&mut state, black_box(&blocks));
    });
    black_box(state);
    blocks.len() as f64 / d.as_secs_f64()
}

/// SHA-256 of short messages as Balloon hashes them (72 bytes: counter and
/// two blocks; 2 compressions each), through `Digest` with `finalize_reset`.
fn short_message_compressions_per_sec() -> f64 {
    use sha2_v011::{Digest, Sha256};
    let n = 200_000u64;
    let a = [1u8; 32];
    let mut out = [0u8; 32];
    let d = time_n(7, || {
        let mut h = Sha256::new();
        for i in 0..n {
            h.update(i.to_le_bytes());
            h.update(a);
            h.update(out);
            out.copy_from_slice(&h.finalize_reset());
        }
    });
    black_box(out);
    (2 * n) as f64 / d.as_secs_f64()
}

fn balloon_v04(params: &KdfParams) -> [u8; 32] {
    use balloon_hash_v04::{Algorithm, Balloon, Params};
    let p = Params::new(params.space_cost(), params.time_cost(), u32::from(params.parallelism())).unwrap();
    let b = Balloon::<sha2::Sha256>::new(Algorithm::BalloonM, p, None);
    let mut mem = vec![Default::default(); params.space_cost() as usize * params.parallelism() as usize];
    let mut out = [0u8; 32];
    b.hash_into_with_memory(PASSWORD, &SALT, &mut mem, &mut out).unwrap();
    out
}

/// A prototype of "the further step" (bench only, not used by the
/// provider): Balloon-M-SHA-256 calling the SHA-256 block function directly
/// on pre-padded fixed-size messages, and reducing the 256-bit index hash
/// mod `space_cost` with four 64-bit steps instead of a generic bignum
/// `rem`. Checked byte-identical with balloon-hash below.
mod direct {
    use sha2_v011::block_api::compress256;
    use sha2_v011::{Digest, Sha256};

    const IV: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

    /// SHA-256 of a message of at most 119 bytes given as parts, padded in one stack buffer.
    #[inline(always)]
    fn h(parts: &[&[u8]]) -> [u8; 32] {
        let mut buf = [[0u8; 64]; 2];
        let flat = buf.as_flattened_mut();
        let mut n = 0;
        for p in parts {
            flat[n..n + p.len()].copy_from_slice(p);
            n += p.len();
        }
        flat[n] = 0x80;
        let blocks = if n + 9 <= 64 { 1 } else { 2 };
        flat[blocks * 64 - 8..blocks * 64].copy_from_slice(&((n as u64) * 8).to_be_bytes());
        let mut st = IV;
        compress256(&mut st, &buf[..blocks]);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(st) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// The hash read as a little-endian 256-bit integer, mod `s`.
    #[inline(always)]
    fn rem(hash: &[u8; 32], s: u64) -> usize {
        let mut r: u128 = 0;
        for j in (0..4).rev() {
            let limb = u64::from_le_bytes(hash[8 * j..8 * j + 8].try_into().unwrap());
            r = ((r << 64) | u128::from(limb)) % u128::from(s);
        }
        r as usize
    }

    fn thread(pwd: &[u8], salt: &[u8], s: usize, t_cost: u64, thread_id: u64, buf: &mut [[u8; 32]]) -> [u8; 32] {
        let mut cnt: u64 = 0;
        let mut d = Sha256::new();
        d.update(cnt.to_le_bytes());
        d.update(pwd);
        d.update(salt);
        d.update(thread_id.to_le_bytes());
        buf[0] = d.finalize().into();
        cnt += 1;
        for m in 1..s {
            buf[m] = h(&[&cnt.to_le_bytes(), &buf[m - 1]]);
            cnt += 1;
        }
        let tid = thread_id.to_le_bytes();
        for t in 0..t_cost {
            for m in 0..s {
                let prev = buf[if m == 0 { s - 1 } else { m - 1 }];
                buf[m] = h(&[&cnt.to_le_bytes(), &prev, &buf[m]]);
                cnt += 1;
                for i in 0..3u64 {
                    let idx = h(&[&t.to_le_bytes(), &(m as u64).to_le_bytes(), &i.to_le_bytes()]);
                    let other = rem(&h(&[&cnt.to_le_bytes(), salt, &tid, &idx]), s as u64);
                    cnt += 1;
                    buf[m] = h(&[&cnt.to_le_bytes(), &buf[m], &buf[other]]);
                    cnt += 1;
                }
            }
        }
        buf[s - 1]
    }

    /// Balloon-M, threads run one after the other.
    pub fn balloon_m(pwd: &[u8], salt: &[u8], s: u32, t: u32, p: u8) -> [u8; 32] {
        assert!(salt.len() <= 64, "prototype: salt up to 64 bytes");
        let mut buf = vec![[0u8; 32]; s as usize];
        let mut x = [0u8; 32];
        for k in 1..=u64::from(p) {
            let o = thread(pwd, salt, s as usize, u64::from(t), k, &mut buf);
            x.iter_mut().zip(o).for_each(|(a, b)| *a ^= b);
        }
        let mut d = Sha256::new();
        d.update(pwd);
        d.update(salt);
        d.update(x);
        d.finalize().into()
    }

    /// As [`thread`], computing the (password-independent) indices of the
    /// next block ahead and touching their cache lines, so the random reads
    /// overlap the hashing of the current block.
    fn thread_lookahead(
        pwd: &[u8],
        salt: &[u8],
        s: usize,
        t_cost: u64,
        thread_id: u64,
        buf: &mut [[u8; 32]],
    ) -> [u8; 32] {
        let mut cnt: u64 = 0;
        let mut d = Sha256::new();
        d.update(cnt.to_le_bytes());
        d.update(pwd);
        d.update(salt);
        d.update(thread_id.to_le_bytes());
        buf[0] = d.finalize().into();
        cnt += 1;
        for m in 1..s {
            buf[m] = h(&[&cnt.to_le_bytes(), &buf[m - 1]]);
            cnt += 1;
        }
        let tid = thread_id.to_le_bytes();
        // Block (t, m) starting at counter c0 reads its i-th index hash with counter c0 + 1 + 2i.
        let idx_of = |t: u64, m: usize, c0: u64| -> [usize; 3] {
            let mut o = [0usize; 3];
            for (i, slot) in o.iter_mut().enumerate() {
                let idx = h(&[&t.to_le_bytes(), &(m as u64).to_le_bytes(), &(i as u64).to_le_bytes()]);
                *slot = rem(&h(&[&(c0 + 1 + 2 * i as u64).to_le_bytes(), salt, &tid, &idx]), s as u64);
            }
            o
        };
        let mut cur = idx_of(0, 0, cnt);
        for t in 0..t_cost {
            for m in 0..s {
                let c0 = cnt;
                let (nt, nm) = if m + 1 < s { (t, m + 1) } else { (t + 1, 0) };
                let next = if nt < t_cost { idx_of(nt, nm, c0 + 7) } else { [0; 3] };
                for o in next {
                    std::hint::black_box(buf[o][0]);
                }
                let prev = buf[if m == 0 { s - 1 } else { m - 1 }];
                buf[m] = h(&[&cnt.to_le_bytes(), &prev, &buf[m]]);
                cnt += 1;
                for other in cur {
                    cnt += 1;
                    buf[m] = h(&[&cnt.to_le_bytes(), &buf[m], &buf[other]]);
                    cnt += 1;
                }
                cur = next;
            }
        }
        buf[s - 1]
    }

    /// Balloon-M with [`thread_lookahead`].
    pub fn balloon_m_lookahead(pwd: &[u8], salt: &[u8], s: u32, t: u32, p: u8) -> [u8; 32] {
        let mut buf = vec![[0u8; 32]; s as usize];
        let mut x = [0u8; 32];
        for k in 1..=u64::from(p) {
            let o = thread_lookahead(pwd, salt, s as usize, u64::from(t), k, &mut buf);
            x.iter_mut().zip(o).for_each(|(a, b)| *a ^= b);
        }
        let mut d = Sha256::new();
        d.update(pwd);
        d.update(salt);
        d.update(x);
        d.finalize().into()
    }
}

fn rate_section(quick: bool) {
    println!("## 1. SHA-256 compression rate: KDF / raw (same run)\n");
    let raw = raw_compressions_per_sec();
    let short = short_message_compressions_per_sec();
    println!("raw SHA-256 (compress256 over 1 MiB): {:.2} M compressions/s", raw / 1e6);
    println!("SHA-256 of 72-byte messages (Digest, finalize_reset): {:.2} M compressions/s\n", short / 1e6);
    println!(
        "| implementation | space_cost | time_cost | p | best ms per derivation | M compressions/s | ÷ raw | ÷ 72-byte messages |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let sizes: &[u32] = if quick { &[1 << 12, 1 << 15] } else { &[1 << 12, 1 << 15, 1 << 17] };
    for &s in sizes {
        let params = KdfParams::new(s, 3, 1).unwrap();
        let c = params.compressions(SALT.len()) as f64;
        // Raw rate again next to each row, keeping the best: same run, same load.
        let raw = raw.max(raw_compressions_per_sec());
        let runs = if quick { 3 } else { 5 };
        let new = balloon_sha256(PASSWORD, &SALT, &params).unwrap();
        let old = balloon_v04(&params);
        assert_eq!(*new, old, "balloon-hash 0.5.0-rc.5 and 0.4.0 disagree");
        let fast = direct::balloon_m(PASSWORD, &SALT, s, 3, 1);
        assert_eq!(*new, fast, "the direct prototype disagrees with balloon-hash");
        let ahead = direct::balloon_m_lookahead(PASSWORD, &SALT, s, 3, 1);
        assert_eq!(*new, ahead, "the look-ahead prototype disagrees with balloon-hash");
        let d5 = time_n(runs, || {
            black_box(balloon_sha256(PASSWORD, &SALT, &params).unwrap());
        });
        let d4 = time_n(runs, || {
            black_box(balloon_v04(&params));
        });
        let dp = time_n(runs, || {
            black_box(direct::balloon_m(PASSWORD, &SALT, s, 3, 1));
        });
        let da = time_n(runs, || {
            black_box(direct::balloon_m_lookahead(PASSWORD, &SALT, s, 3, 1));
        });
        for (name, d) in [
            ("0.5.0-rc.5 (used)", d5),
            ("0.4.0", d4),
            ("direct compress256 prototype (bench only)", dp),
            ("direct + index look-ahead prototype (bench only)", da),
        ] {
            let r = c / d.as_secs_f64();
            println!(
                "| {name} | {s} | 3 | 1 | {:.1} | {:.2} | {:.2} | {:.2} |",
                d.as_secs_f64() * 1e3,
                r / 1e6,
                r / raw,
                r / short
            );
        }
    }
    println!("\n(outputs of both versions checked byte-identical at every size)\n");
}

fn vm_hwm_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn child(args: &[String]) {
    let n = |i: usize| args[i].parse::<u32>().unwrap();
    let params = KdfParams::new(n(0), n(1), n(2) as u8).unwrap();
    let before = vm_hwm_kib();
    black_box(balloon_sha256(PASSWORD, &SALT, &params).unwrap());
    let after = vm_hwm_kib();
    println!("{before} {after}");
}

fn memory_section(quick: bool) {
    println!("## 2. Peak memory of one derivation (child process, VmHWM)\n");
    println!("| space_cost | p | asked (KiB) | peak RSS before (KiB) | after (KiB) | growth (KiB) | growth ÷ asked |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let exe = std::env::current_exe().unwrap();
    let cases: &[(u32, u32)] =
        if quick { &[(1 << 15, 1), (1 << 17, 1)] } else { &[(1 << 15, 1), (1 << 17, 1), (1 << 19, 1), (1 << 17, 2)] };
    for &(s, p) in cases {
        let out = std::process::Command::new(&exe)
            .args(["--child", &s.to_string(), "1", &p.to_string()])
            .output()
            .expect("run the child");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text.split_whitespace().map(|x| x.parse::<u64>().unwrap());
        let (before, after) = (it.next().unwrap(), it.next().unwrap());
        let asked = u64::from(s) * u64::from(p) * 32 / 1024;
        let growth = after.saturating_sub(before);
        println!("| {s} | {p} | {asked} | {before} | {after} | {growth} | {:.2} |", growth as f64 / asked as f64);
    }
    println!();
}

fn end_to_end_section(quick: bool) {
    use share_backup_core::MethodId;
    use share_backup_object_store::ObjectCipherTextStore;
    use share_backup_orchestrator::{BackupRequest, Orchestrator, RecordingNotifier, RecoverRequest};
    use std::sync::Arc;

    println!("## 3. Password backup and recovery ÷ one KDF, same costs\n");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let s = if quick { 1 << 15 } else { 1 << 17 };
    let params = KdfParams::new(s, 3, 1).unwrap();
    let tiny = KdfParams::new(MIN_SEAL_SPACE_COST, 1, 1).unwrap();
    let provider = Arc::new(
        PasswordProvider::builder()
            .insecure_allow_costs_below_floor()
            .policy(Policy::password())
            .kdf_params(params)
            .build()
            .unwrap(),
    );
    let tiny_provider = Arc::new(
        PasswordProvider::builder()
            .insecure_allow_costs_below_floor()
            .policy(Policy::password())
            .kdf_params(tiny)
            .build()
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let tiny_dir = tempfile::tempdir().unwrap();
    let orchestrator = |p: Arc<PasswordProvider>, d: &std::path::Path| {
        Orchestrator::builder()
            .provider(p)
            .store(Arc::new(ObjectCipherTextStore::local_dir(d).unwrap()))
            .notifier(Arc::new(RecordingNotifier::new()))
            .build()
            .unwrap()
    };
    let orch = orchestrator(provider.clone(), dir.path());
    let tiny_orch = orchestrator(tiny_provider, tiny_dir.path());
    let user = UserId::new("bench-user").unwrap();
    let share = BackupShare::new(vec![7u8; 4096]).unwrap();
    let pw = || PasswordConfig::new("correct horse battery staple");
    let ctx = Context::new(user.clone(), BackupId::generate().unwrap()).with_configs(Configs::new().with(pw()));
    let runs = if quick { 5 } else { 15 };
    let env = rt.block_on(provider.seal_share(&share, &ctx)).unwrap().0;
    black_box(balloon_sha256(PASSWORD, &SALT, &params).unwrap());
    let backup_req =
        || BackupRequest::new(user.clone(), share.clone()).with_method(MethodId::PASSWORD).with_config(pw());
    rt.block_on(orch.backup(backup_req())).unwrap();
    rt.block_on(tiny_orch.backup(backup_req())).unwrap();
    // Interleaved, so that load from other processes hits all alike.
    let mut t: [Vec<Duration>; 7] = Default::default();
    for _ in 0..runs {
        let mut time = |i: usize, f: &mut dyn FnMut()| {
            let t0 = Instant::now();
            f();
            t[i].push(t0.elapsed());
        };
        time(0, &mut || {
            black_box(balloon_sha256(PASSWORD, &SALT, &params).unwrap());
        });
        time(1, &mut || {
            black_box(rt.block_on(provider.seal_share(&share, &ctx)).unwrap());
        });
        time(2, &mut || {
            black_box(rt.block_on(orch.backup(backup_req())).unwrap());
        });
        time(3, &mut || {
            black_box(rt.block_on(provider.open_envelope(&env, &ctx)).unwrap());
        });
        time(4, &mut || {
            let req = RecoverRequest::new(user.clone()).with_method(MethodId::PASSWORD).with_config(pw());
            black_box(rt.block_on(orch.recover(req)).unwrap());
        });
        // The overhead alone: a whole backup whose KDF costs almost nothing...
        time(5, &mut || {
            black_box(rt.block_on(tiny_orch.backup(backup_req())).unwrap());
        });
        // ...and that almost-nothing, measured to subtract it.
        time(6, &mut || {
            for _ in 0..10 {
                black_box(balloon_sha256(PASSWORD, &SALT, &tiny).unwrap());
            }
        });
    }
    let paired: Vec<f64> = t[2].iter().zip(&t[0]).map(|(b, k)| b.as_secs_f64() / k.as_secs_f64()).collect();
    let overhead: Vec<f64> = t[5].iter().zip(&t[6]).map(|(b, k)| ms(*b) - ms(*k) / 10.0).collect();
    let kdf_ms: Vec<f64> = t[0].iter().map(|d| ms(*d)).collect();
    let tiny_kdf_ms: Vec<f64> = t[6].iter().map(|d| ms(*d) / 10.0).collect();
    let mut sorted_overhead = overhead.clone();
    sorted_overhead.sort_by(f64::total_cmp);
    let over_med = sorted_overhead[sorted_overhead.len() / 2];
    let over_max = sorted_overhead[sorted_overhead.len() - 1];
    let mins: Vec<Duration> = t.iter().map(|v| *v.iter().min().unwrap()).collect();
    let [kdf, seal, backup, open, recover, _, _] = t.map(median);
    println!(
        "costs: {params}; share 4 KiB; local-directory store (share-backup-object-store, file://), recording notifier; median of {runs}, interleaved\n"
    );
    println!("| operation | median ms | ÷ one KDF (medians) | min ms | ÷ one KDF (minima) |");
    println!("| --- | --- | --- | --- | --- |");
    let row = |name: &str, d: Duration, m: Duration| {
        println!("| {name} | {:.1} | {:.3} | {:.1} | {:.3} |", ms(d), ms(d) / ms(kdf), ms(m), ms(m) / ms(mins[0]))
    };
    row("one KDF (balloon_sha256)", kdf, mins[0]);
    row("provider seal_share (policy + zxcvbn + KDF + HKDF + AES-SIV)", seal, mins[1]);
    row("**orchestrator backup** (probe, seal, verify, store, notify, commit, prune)", backup, mins[2]);
    row("provider open_envelope", open, mins[3]);
    row("orchestrator recover", recover, mins[4]);
    println!();
    println!("per-run orchestrator backup ÷ the KDF run just before it: {}", spread(paired, 3));
    println!("one KDF ms: {}", spread(kdf_ms.clone(), 1));
    println!(
        "non-KDF overhead, measured directly (orchestrator backup at {tiny} minus that KDF's own {} ms): {} ms",
        spread(tiny_kdf_ms, 3),
        spread(overhead, 2)
    );
    let mut k = kdf_ms;
    k.sort_by(f64::total_cmp);
    let kdf_med = k[k.len() / 2];
    println!(
        "=> backup ÷ one KDF = 1 + overhead ÷ KDF: {:.4} (medians), {:.4} (largest overhead ÷ smallest KDF)\n",
        1.0 + over_med / kdf_med,
        1.0 + over_max / k[0]
    );
}

fn calibrate_section(quick: bool) {
    println!("## 4. Calibration: what calibrate(target) picks here\n");
    let targets: &[u64] = if quick { &[250] } else { &[1000, 1000, 1000] };
    println!(
        "| target | picked costs | calibrate's own measurement ms | one derivation at those costs, ms: median [min–max] of 5 |"
    );
    println!("| --- | --- | --- | --- |");
    for &target in targets {
        let c = share_backup_password::calibrate(Duration::from_millis(target)).unwrap();
        let mut runs = Vec::new();
        for _ in 0..5 {
            let t0 = Instant::now();
            black_box(balloon_sha256(PASSWORD, &SALT, &c.params).unwrap());
            runs.push(ms(t0.elapsed()));
        }
        println!("| {target} ms | {} | {:.0} | {} |", c.params, ms(c.measured), spread(runs, 0));
    }
    println!();
}

/// One bench section, given `--quick`.
type Section = fn(bool);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1..]);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .map(|i| args.get(i + 1).map(|v| v.split(',').map(str::to_owned).collect()).unwrap_or_default());
    let run = |n: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == n));
    let sections: [(&str, Section); 4] =
        [("1", rate_section), ("2", memory_section), ("3", end_to_end_section), ("4", calibrate_section)];
    for (n, section) in sections {
        if run(n) {
            let before = loadavg();
            section(quick);
            println!("(section {n}: load average {before} before, {} after)\n", loadavg());
        }
    }
}
