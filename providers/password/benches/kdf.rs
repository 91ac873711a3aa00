//! Password KDF benchmarks (harness = false): `cargo bench -p share-backup-password --bench kdf`.
//!
//! 1. SHA-256 compression rate inside the KDF ÷ the raw rate of SHA-256 on
//!    this machine, same run, for balloon-hash 0.5.0-rc.5 (used) and 0.4.0
//!    (stable), with their outputs checked byte-identical;
//! 2. peak memory (VmHWM of a child process) of one derivation against the
//!    memory the costs ask for;
//! 3. a whole password backup (`seal_share`: policy, KDF, HKDF, AES-SIV) and
//!    recovery (`open_envelope`) ÷ one KDF at the same costs.
//!
//! Options: `--quick` (smaller costs, fewer runs), `--child S T P` (internal).

use std::hint::black_box;
use std::time::{Duration, Instant};

use share_backup_core::{BackupId, BackupProviderExt, BackupShare, Configs, Context, UserId};
use share_backup_password::{KdfParams, PasswordConfig, PasswordProvider, Policy, balloon_sha256};

const SALT: [u8; 32] = [0x42; 32];
const PASSWORD: &[u8] = b"correct horse battery staple";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_n(n: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
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

fn rate_section(quick: bool) {
    println!("## 1. SHA-256 compression rate: KDF / raw (same run)\n");
    let raw = raw_compressions_per_sec();
    let short = short_message_compressions_per_sec();
    println!("raw SHA-256 (compress256 over 1 MiB): {:.2} M compressions/s", raw / 1e6);
    println!("SHA-256 of 72-byte messages (Digest, finalize_reset): {:.2} M compressions/s\n", short / 1e6);
    println!(
        "| balloon-hash | space_cost | time_cost | p | ms per derivation | M compressions/s | ÷ raw | ÷ 72-byte messages |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let sizes: &[u32] = if quick { &[1 << 12, 1 << 15] } else { &[1 << 12, 1 << 15, 1 << 17] };
    for &s in sizes {
        let params = KdfParams::new(s, 3, 1).unwrap();
        let c = params.compressions(SALT.len()) as f64;
        let runs = if quick { 3 } else { 5 };
        let new = balloon_sha256(PASSWORD, &SALT, &params).unwrap();
        let old = balloon_v04(&params);
        assert_eq!(*new, old, "balloon-hash 0.5.0-rc.5 and 0.4.0 disagree");
        let d5 = time_n(runs, || {
            black_box(balloon_sha256(PASSWORD, &SALT, &params).unwrap());
        });
        let d4 = time_n(runs, || {
            black_box(balloon_v04(&params));
        });
        for (name, d) in [("0.5.0-rc.5 (used)", d5), ("0.4.0", d4)] {
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
    println!("## 3. Password backup and recovery ÷ one KDF, same costs\n");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let s = if quick { 1 << 15 } else { 1 << 17 };
    let params = KdfParams::new(s, 3, 1).unwrap();
    let provider = PasswordProvider::builder().policy(Policy::password()).kdf_params(params).build().unwrap();
    let user = UserId::new("bench-user").unwrap();
    let share = BackupShare::new(vec![7u8; 4096]).unwrap();
    let ctx = Context::new(user, BackupId::generate().unwrap())
        .with_configs(Configs::new().with(PasswordConfig::new("correct horse battery staple")));
    let runs = if quick { 5 } else { 9 };
    // Interleaved, so that load from other processes hits all three alike.
    let env = rt.block_on(provider.seal_share(&share, &ctx)).unwrap().0;
    black_box(balloon_sha256(PASSWORD, &SALT, &params).unwrap());
    let (mut kdf, mut backup, mut recover) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        black_box(balloon_sha256(PASSWORD, &SALT, &params).unwrap());
        kdf.push(t.elapsed());
        let t = Instant::now();
        black_box(rt.block_on(provider.seal_share(&share, &ctx)).unwrap());
        backup.push(t.elapsed());
        let t = Instant::now();
        black_box(rt.block_on(provider.open_envelope(&env, &ctx)).unwrap());
        recover.push(t.elapsed());
    }
    let (kdf, backup, recover) = (median(kdf), median(backup), median(recover));
    println!("costs: {params}; share 4 KiB; median of {runs}\n");
    println!("| operation | ms | ÷ one KDF |");
    println!("| --- | --- | --- |");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("| one KDF (balloon_sha256) | {:.1} | 1.000 |", ms(kdf));
    println!(
        "| backup (seal_share: policy + KDF + HKDF + AES-SIV) | {:.1} | {:.3} |",
        ms(backup),
        ms(backup) / ms(kdf)
    );
    println!("| recovery (open_envelope) | {:.1} | {:.3} |", ms(recover), ms(recover) / ms(kdf));
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1..]);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    rate_section(quick);
    memory_section(quick);
    end_to_end_section(quick);
}
