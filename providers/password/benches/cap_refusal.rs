//! An envelope asking for more key-derivation work or memory than the cost
//! cap is refused before any hashing, in well under a millisecond (harness =
//! false): `cargo bench -p share-backup-password --bench cap_refusal`.
//!
//! Builds a real password envelope (sealed by a provider at 1024 blocks, 3
//! rounds, 1 thread), and from it envelopes whose key header asks for costs
//! above a recovering provider's cap: just above a small cap (work, then
//! memory), just above the default cap's work, and the format's maxima
//! (2^26 blocks × 2^16 rounds × 64 threads: 2^48 block-rounds, 128 GiB).
//! Crafted headers follow the documented layout (`PasswordHeader`) and are
//! sealed into well-formed envelopes with [`Envelope::seal`], as anyone who
//! can write to the store could. Headers with `u32::MAX` space and time
//! costs are outside the format's bounds: they are refused by the header
//! parser (`InvalidEnvelope`), before the cap, and are timed too.
//!
//! Each case times, interleaved, `open_key` on the header and the full
//! provider recovery from the stored string (`Envelope::parse`, then
//! `open_envelope`), over many calls, and prints the median, p99 and max per
//! call against the 1 ms goal. On a loaded machine the max is set by the
//! scheduler, not by the code: the thread's run-queue wait during each call
//! (`/proc/thread-self/schedstat`, read outside the timed window) is also
//! taken off its wall time, and the calls over 1 ms say whether they were
//! scheduled out. Every call's error kind is checked: any other result
//! panics (exit code 101); a median at or above 1 ms exits 1.
//!
//! Options: `--quick` (fewer calls); `--control` adds a case whose cap
//! allows the real envelope while still expecting `ExcessiveWork`, to show
//! the check fails the run (it must exit 101, "but the envelope opened").

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use share_backup_core::{
    Aead, BackupId, BackupProvider, BackupProviderExt, BackupShare, Configs, Context, Envelope, ErrorKind, KeyHeader,
    MethodId, UserId,
};
use share_backup_password::{CostCap, KdfParams, PasswordConfig, PasswordHeader, PasswordProvider, Policy};

const GOAL: Duration = Duration::from_millis(1);
const PASSWORD: &str = "correct horse battery staple";

struct Case {
    name: String,
    recoverer: PasswordProvider,
    header: KeyHeader,
    stored: String,
    expect: ErrorKind,
}

/// The header bytes of `base` with the costs replaced (offsets as documented
/// on [`PasswordHeader`]: space cost at 2..6, time cost at 6..10, parallelism
/// at 10, big-endian).
fn with_costs(base: &[u8], space: u32, time: u32, parallelism: u8) -> Vec<u8> {
    let mut b = base.to_vec();
    b[2..6].copy_from_slice(&space.to_be_bytes());
    b[6..10].copy_from_slice(&time.to_be_bytes());
    b[10] = parallelism;
    b
}

fn recoverer(cap: CostCap) -> PasswordProvider {
    // The builder refuses seal costs above the cap: seal small.
    let small = KdfParams::new(64, 1, 1).unwrap();
    PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .policy(Policy::password())
        .kdf_params(small)
        .cost_cap(cap)
        .build()
        .unwrap()
}

/// One timed call: wall time, and from the thread's scheduler statistics
/// (`/proc/thread-self/schedstat`, when readable) the time it spent
/// runnable but waiting for a CPU and whether it was scheduled out.
struct Sample {
    wall: Duration,
    waited: Option<Duration>,
    switched: Option<bool>,
}

/// `/proc/thread-self/schedstat`: on-CPU ns, run-queue wait ns, times run.
struct Sched(Option<std::fs::File>);

impl Sched {
    fn open() -> Self {
        Sched(std::fs::File::open("/proc/thread-self/schedstat").ok())
    }

    /// (run-queue wait in ns, times scheduled in).
    fn read(&self) -> Option<(u64, u64)> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 128];
        let n = self.0.as_ref()?.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        let mut it = text.split_whitespace().skip(1).map(|x| x.parse::<u64>().ok());
        Some((it.next()??, it.next()??))
    }

    /// Times `f`; the statistics are read outside the timed window.
    fn time(&self, f: &dyn Fn()) -> Sample {
        let before = self.read();
        let t0 = Instant::now();
        f();
        let wall = t0.elapsed();
        let after = self.read();
        let (waited, switched) = match (before, after) {
            (Some((w0, n0)), Some((w1, n1))) => (Some(Duration::from_nanos(w1.saturating_sub(w0))), Some(n1 > n0)),
            _ => (None, None),
        };
        Sample { wall, waited, switched }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() -> ExitCode {
    let quick = std::env::args().any(|a| a == "--quick");
    let control = std::env::args().any(|a| a == "--control");
    let (warm, iters) = if quick { (200, 2_000) } else { (2_000, 20_000) };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sched = Sched::open();

    let user = UserId::new("bench-user").unwrap();
    let ctx = Context::new(user, BackupId::generate().unwrap())
        .with_configs(Configs::new().with(PasswordConfig::new(PASSWORD)));
    let share = BackupShare::new(vec![7u8; 64]).unwrap();

    // A real envelope, sealed and opened by a provider whose cap allows it.
    let sealed_at = KdfParams::new(1024, 3, 1).unwrap();
    let sealer = PasswordProvider::builder()
        .insecure_allow_costs_below_floor()
        .policy(Policy::password())
        .kdf_params(sealed_at)
        .build()
        .unwrap();
    let (env, key) = rt.block_on(sealer.seal_share(&share, &ctx)).unwrap();
    let t0 = Instant::now();
    rt.block_on(sealer.open_envelope(&env, &ctx)).expect("the sealer opens its own envelope");
    let honest = t0.elapsed();
    let base = env.key_header().as_bytes().to_vec();
    assert_eq!(PasswordHeader::parse(&base).unwrap().params(), &sealed_at);

    let crafted = |space: u32, time: u32, p: u8| -> (KeyHeader, String) {
        let header = KeyHeader::new(with_costs(&base, space, time, p)).unwrap();
        let e = Envelope::seal(
            MethodId::PASSWORD,
            ctx.backup_id(),
            Aead::Aes256Siv,
            header.clone(),
            &key,
            &share,
            &ctx.binding(),
        )
        .unwrap();
        (header, e.encode())
    };
    let default_cap = CostCap::DEFAULT;
    let dw = default_cap.max_work();
    let excessive = |required: u64, max: u64| ErrorKind::ExcessiveWork { required, max };
    let mut cases = vec![
        Case {
            name: format!("real envelope, work cap {} = its work - 1", sealed_at.work() - 1),
            recoverer: recoverer(CostCap::new(sealed_at.work() - 1, 1 << 30).unwrap()),
            header: env.key_header().clone(),
            stored: env.encode(),
            expect: excessive(sealed_at.work(), sealed_at.work() - 1),
        },
        Case {
            name: format!("real envelope, memory cap {} B = its memory - 1", sealed_at.memory_bytes() - 1),
            recoverer: recoverer(CostCap::new(u64::MAX, sealed_at.memory_bytes() - 1).unwrap()),
            header: env.key_header().clone(),
            stored: env.encode(),
            expect: excessive(sealed_at.memory_bytes(), sealed_at.memory_bytes() - 1),
        },
    ];
    if control {
        cases.insert(
            0,
            Case {
                name: "CONTROL: real envelope, work cap = its work (must fail the run)".into(),
                recoverer: recoverer(CostCap::new(sealed_at.work(), 1 << 30).unwrap()),
                header: env.key_header().clone(),
                stored: env.encode(),
                expect: excessive(sealed_at.work(), sealed_at.work() - 1),
            },
        );
    }
    let (h, s) = crafted((dw + 1) as u32, 1, 1);
    cases.push(Case {
        name: format!("crafted: space {} × 1 × 1 = default work cap + 1, default cap", dw + 1),
        recoverer: PasswordProvider::builder().insecure_allow_costs_below_floor().build().unwrap(),
        header: h,
        stored: s,
        expect: excessive(dw + 1, dw),
    });
    let (h, s) = crafted(1 << 26, 1 << 16, 64);
    cases.push(Case {
        name: "crafted: format maxima 2^26 × 2^16 × 64 (2^48 block-rounds, 128 GiB), default cap".into(),
        recoverer: PasswordProvider::builder().insecure_allow_costs_below_floor().build().unwrap(),
        header: h,
        stored: s,
        expect: excessive(1 << 48, dw),
    });
    let (h, s) = crafted(u32::MAX, u32::MAX, 1);
    cases.push(Case {
        name: "crafted: u32::MAX space and time (outside the format), default cap".into(),
        recoverer: PasswordProvider::builder().insecure_allow_costs_below_floor().build().unwrap(),
        header: h,
        stored: s,
        expect: ErrorKind::InvalidEnvelope,
    });

    println!("# Above-cap password envelopes: refusal time per call\n");
    println!(
        "honest open_envelope of the real envelope at {sealed_at} (one call, hashing): {:.1} ms\n",
        honest.as_secs_f64() * 1e3
    );
    println!(
        "{iters} calls per path after {warm} warm-up, interleaved; current-thread tokio runtime; {} CPUs; goal < 1 ms\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| case | path | expected kind | median µs | p99 µs | max µs | max µs, less time waiting for a CPU | calls ≥ 1 ms | median vs goal | max vs goal | max less waiting vs goal |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut worst_median = Duration::ZERO;
    for case in &cases {
        let check = |r: share_backup_core::Result<()>, path: &str| match r {
            Err(e) if e.kind() == &case.expect => {}
            Err(e) => panic!("{}: {path}: expected {:?}, got {:?}: {e}", case.name, case.expect, e.kind()),
            Ok(()) => panic!("{}: {path}: expected {:?}, but the envelope opened", case.name, case.expect),
        };
        let open_key = || {
            let r = rt.block_on(case.recoverer.open_key(black_box(&case.header), &ctx)).map(drop);
            check(r, "open_key");
        };
        let recover = || {
            let r = Envelope::parse(black_box(&case.stored))
                .and_then(|e| rt.block_on(case.recoverer.open_envelope(&e, &ctx)))
                .map(drop);
            check(r, "parse + open_envelope");
        };
        for _ in 0..warm {
            open_key();
            recover();
        }
        let mut t: [Vec<Sample>; 2] = [Vec::with_capacity(iters), Vec::with_capacity(iters)];
        for _ in 0..iters {
            t[0].push(sched.time(&open_key));
            t[1].push(sched.time(&recover));
        }
        for (path, mut v) in ["open_key", "parse + open_envelope"].into_iter().zip(t) {
            v.sort_by_key(|s| s.wall);
            let walls: Vec<Duration> = v.iter().map(|s| s.wall).collect();
            let (med, p99, max) = (percentile(&walls, 0.5), percentile(&walls, 0.99), *walls.last().unwrap());
            let over: Vec<&Sample> = v.iter().filter(|s| s.wall >= GOAL).collect();
            let over_switched = over.iter().filter(|s| s.switched == Some(true)).count();
            let max_running = v.iter().filter_map(|s| s.waited.map(|w| s.wall.saturating_sub(w))).max();
            worst_median = worst_median.max(med);
            let vs = |d: Duration| {
                if d < GOAL {
                    format!("{:.0}× under", GOAL.as_secs_f64() / d.as_secs_f64())
                } else {
                    format!("**{:.1}× over**", d.as_secs_f64() / GOAL.as_secs_f64())
                }
            };
            let kind = match case.expect {
                ErrorKind::ExcessiveWork { required, max } => format!("ExcessiveWork {{ {required}, {max} }}"),
                ref k => format!("{k:?}"),
            };
            let (running, running_vs) = match max_running {
                Some(d) => (format!("{:.1}", us(d)), vs(d)),
                None => ("n/a".into(), "n/a".into()),
            };
            println!(
                "| {} | {path} | {kind} | {:.1} | {:.1} | {:.1} | {running} | {} ({over_switched} descheduled) | {} | {} | {running_vs} |",
                case.name,
                us(med),
                us(p99),
                us(max),
                over.len(),
                vs(med),
                vs(max),
            );
        }
    }
    println!("\nevery call returned the expected error kind");
    if worst_median >= GOAL {
        eprintln!("FAIL: a median refusal took {:.1} µs, not under the 1 ms goal", us(worst_median));
        return ExitCode::FAILURE;
    }
    println!("worst median {:.1} µs: under the 1 ms goal", us(worst_median));
    ExitCode::SUCCESS
}
