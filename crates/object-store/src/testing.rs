//! `ObjectStore` wrappers for tests and benchmarks: one that counts
//! requests, one that injects failures and latency. Enabled by the `testing`
//! feature.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions,
};

/// What kind of backend request a call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `get_opts`/`get_ranges` (a GET).
    Get,
    /// `get_opts` with `head` (a HEAD).
    Head,
    /// `put_opts`/`put_multipart_opts`.
    Put,
    /// `list`, `list_with_offset`, `list_with_delimiter`.
    List,
    /// One path of `delete_stream`.
    Delete,
    /// `copy_opts`/`rename_opts`.
    Copy,
}

/// A snapshot of request counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestCounts {
    /// GETs.
    pub get: u64,
    /// HEADs.
    pub head: u64,
    /// PUTs.
    pub put: u64,
    /// LISTs.
    pub list: u64,
    /// DELETEs.
    pub delete: u64,
    /// COPYs and renames.
    pub copy: u64,
}

impl RequestCounts {
    /// All requests.
    pub fn total(&self) -> u64 {
        self.get + self.head + self.put + self.list + self.delete + self.copy
    }
    /// Requests that read objects (GET and HEAD).
    pub fn reads(&self) -> u64 {
        self.get + self.head
    }
}

#[derive(Default)]
struct Counters([AtomicU64; 6]);

impl Counters {
    fn bump(&self, op: Op) {
        self.0[op as usize].fetch_add(1, Ordering::Relaxed);
    }
    fn snapshot(&self) -> RequestCounts {
        let g = |op: Op| self.0[op as usize].load(Ordering::Relaxed);
        RequestCounts {
            get: g(Op::Get),
            head: g(Op::Head),
            put: g(Op::Put),
            list: g(Op::List),
            delete: g(Op::Delete),
            copy: g(Op::Copy),
        }
    }
    fn reset(&self) {
        for c in &self.0 {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// When [`FaultyObjectStore`] fails a request.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum FaultPlan {
    /// Never.
    Never,
    /// The `n`th request (1-based, counted over all kinds) and no other.
    Nth(u64),
    /// Each request with this probability, from a seeded generator
    /// (reproducible for one seed and one order of requests).
    Random {
        /// Probability in `0.0..=1.0`.
        probability: f64,
        /// Generator seed.
        seed: u64,
    },
}

/// Whether an injected failure happens before the request reaches the
/// backend (nothing changed) or after (a write landed, but the caller sees
/// an error, as when a response is lost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultTiming {
    /// The request never reaches the backend.
    Before,
    /// The request is applied, then the error is returned.
    After,
}

/// An `ObjectStore` that counts requests by kind.
pub struct CountingObjectStore {
    inner: Arc<dyn ObjectStore>,
    counts: Counters,
}

impl CountingObjectStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        CountingObjectStore { inner, counts: Counters::default() }
    }
    /// The counts so far.
    pub fn counts(&self) -> RequestCounts {
        self.counts.snapshot()
    }
    /// Sets every count to zero.
    pub fn reset(&self) {
        self.counts.reset()
    }
}

impl fmt::Debug for CountingObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingObjectStore").field("inner", &self.inner.to_string()).finish()
    }
}

impl fmt::Display for CountingObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

/// An `ObjectStore` that fails requests with a transient error, as a
/// throttled or failing server does (`503 Service Unavailable`), and, with
/// [`with_latency`](Self::with_latency), delays every request as a slow
/// network does.
pub struct FaultyObjectStore {
    inner: Arc<dyn ObjectStore>,
    plan: FaultPlan,
    timing: FaultTiming,
    latency: Option<(Duration, Duration)>,
    calls: AtomicU64,
    injected: AtomicU64,
    injected_latency_us: AtomicU64,
    rng: AtomicU64,
    latency_rng: AtomicU64,
}

impl FaultyObjectStore {
    /// Wraps `inner`, failing requests by `plan`.
    pub fn new(inner: Arc<dyn ObjectStore>, plan: FaultPlan, timing: FaultTiming) -> Self {
        let seed = match plan {
            FaultPlan::Random { seed, .. } => seed,
            _ => 0,
        };
        FaultyObjectStore {
            inner,
            plan,
            timing,
            latency: None,
            calls: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            injected_latency_us: AtomicU64::new(0),
            rng: AtomicU64::new(seed | 1),
            // Its own generator, so that adding latency leaves the sequence
            // of injected failures of a seed unchanged.
            latency_rng: AtomicU64::new((seed ^ 0x9E37_79B9_7F4A_7C15) | 1),
        }
    }

    /// Delays every request (failed ones too: a 503 also costs a round trip)
    /// by a duration drawn uniformly from `min..=max` before it is forwarded
    /// to the backend, with `tokio::time::sleep`. The durations come from a
    /// generator seeded by the [`FaultPlan::Random`] seed (a fixed seed for
    /// the other plans), separate from the one that picks failures, so the
    /// sequence of delays is reproducible for one seed and one order of
    /// requests. `max` below `min` is taken as `min`.
    pub fn with_latency(mut self, min: Duration, max: Duration) -> Self {
        self.latency = Some((min, max.max(min)));
        self
    }

    /// Requests seen so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Failures injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    /// The sum of the delays injected so far (by [`with_latency`](Self::with_latency)).
    pub fn injected_latency(&self) -> Duration {
        Duration::from_micros(self.injected_latency_us.load(Ordering::Relaxed))
    }

    /// A uniform draw from `0.0..1.0`: xorshift64*, advanced atomically.
    fn next_random(state: &AtomicU64) -> f64 {
        let mut x = state.load(Ordering::Relaxed);
        loop {
            let mut y = x;
            y ^= y >> 12;
            y ^= y << 25;
            y ^= y >> 27;
            match state.compare_exchange_weak(x, y, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return (y.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64,
                Err(now) => x = now,
            }
        }
    }

    /// The delay for the next request (zero without latency).
    fn next_latency(&self) -> Duration {
        let Some((min, max)) = self.latency else { return Duration::ZERO };
        let d = min + (max - min).mul_f64(Self::next_random(&self.latency_rng));
        let d = d.min(max);
        self.injected_latency_us.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        d
    }

    fn should_fail(&self) -> bool {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let fail = match self.plan {
            FaultPlan::Never => false,
            FaultPlan::Nth(k) => n == k,
            FaultPlan::Random { probability, .. } => Self::next_random(&self.rng) < probability,
        };
        if fail {
            self.injected.fetch_add(1, Ordering::Relaxed);
        }
        fail
    }

    fn error() -> object_store::Error {
        object_store::Error::Generic {
            store: "FaultyObjectStore",
            source: "injected failure: 503 Service Unavailable".into(),
        }
    }

    /// One request, when first polled: decided (fail or not), delayed, then
    /// forwarded unless it fails `Before`. `fut` must do nothing until polled
    /// (the backends' futures do not).
    async fn call<T>(&self, _op: Op, fut: impl Future<Output = object_store::Result<T>>) -> object_store::Result<T> {
        let fail = self.should_fail();
        let delay = self.next_latency();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if !fail {
            return fut.await;
        }
        if self.timing == FaultTiming::After {
            let _ = fut.await;
        }
        Err(Self::error())
    }

    /// A streaming request (list, delete): counted, maybe failed and delayed
    /// once per call, decided when the stream is made; the delay comes before
    /// the first item. An injected failure never reaches the backend,
    /// whatever the timing (a stream has no single "after").
    fn stream<T: Send + 'static>(
        &self,
        _op: Op,
        open: impl FnOnce() -> BoxStream<'static, object_store::Result<T>>,
    ) -> BoxStream<'static, object_store::Result<T>> {
        let fail = self.should_fail();
        let delay = self.next_latency();
        let inner = if fail { futures::stream::once(async { Err(Self::error()) }).boxed() } else { open() };
        if delay.is_zero() {
            return inner;
        }
        futures::stream::once(async move {
            tokio::time::sleep(delay).await;
            inner
        })
        .flatten()
        .boxed()
    }
}

impl CountingObjectStore {
    async fn call<T>(&self, op: Op, fut: impl Future<Output = object_store::Result<T>>) -> object_store::Result<T> {
        self.counts.bump(op);
        fut.await
    }

    /// Counted once per call.
    fn stream<T>(
        &self,
        op: Op,
        open: impl FnOnce() -> BoxStream<'static, object_store::Result<T>>,
    ) -> BoxStream<'static, object_store::Result<T>> {
        self.counts.bump(op);
        open()
    }
}

impl fmt::Debug for FaultyObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyObjectStore")
            .field("inner", &self.inner.to_string())
            .field("plan", &self.plan)
            .field("timing", &self.timing)
            .field("latency", &self.latency)
            .finish()
    }
}

impl fmt::Display for FaultyObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

/// Implements `ObjectStore` for a wrapper with an `inner` backend and the
/// inherent methods `call(op, future)` and `stream(op, || stream)`.
macro_rules! delegate {
    ($ty:ty) => {
        #[async_trait]
        impl ObjectStore for $ty {
            async fn put_opts(
                &self,
                location: &Path,
                payload: PutPayload,
                opts: PutOptions,
            ) -> object_store::Result<PutResult> {
                self.call(Op::Put, self.inner.put_opts(location, payload, opts)).await
            }

            async fn put_multipart_opts(
                &self,
                location: &Path,
                opts: PutMultipartOptions,
            ) -> object_store::Result<Box<dyn MultipartUpload>> {
                self.call(Op::Put, self.inner.put_multipart_opts(location, opts)).await
            }

            async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
                let op = if options.head { Op::Head } else { Op::Get };
                self.call(op, self.inner.get_opts(location, options)).await
            }

            async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> object_store::Result<Vec<Bytes>> {
                self.call(Op::Get, self.inner.get_ranges(location, ranges)).await
            }

            fn delete_stream(
                &self,
                locations: BoxStream<'static, object_store::Result<Path>>,
            ) -> BoxStream<'static, object_store::Result<Path>> {
                self.stream(Op::Delete, || self.inner.delete_stream(locations))
            }

            fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
                self.stream(Op::List, || self.inner.list(prefix))
            }

            fn list_with_offset(
                &self,
                prefix: Option<&Path>,
                offset: &Path,
            ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
                self.stream(Op::List, || self.inner.list_with_offset(prefix, offset))
            }

            async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
                self.call(Op::List, self.inner.list_with_delimiter(prefix)).await
            }

            async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
                self.call(Op::Copy, self.inner.copy_opts(from, to, options)).await
            }

            async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> object_store::Result<()> {
                self.call(Op::Copy, self.inner.rename_opts(from, to, options)).await
            }
        }
    };
}

delegate!(CountingObjectStore);
delegate!(FaultyObjectStore);

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn counting_store_counts_each_kind() {
        let c = CountingObjectStore::new(Arc::new(InMemory::new()));
        let p = Path::from("a/b");
        c.put(&p, PutPayload::from_static(b"x")).await.unwrap();
        c.get(&p).await.unwrap();
        c.head(&p).await.unwrap();
        c.delete(&p).await.unwrap();
        let n = c.counts();
        assert_eq!((n.put, n.get, n.head, n.delete), (1, 1, 1, 1));
        assert_eq!(n.total(), 4);
        c.reset();
        assert_eq!(c.counts().total(), 0);
    }

    #[tokio::test]
    async fn faulty_store_fails_exactly_the_nth_request_and_after_timing_applies_the_write() {
        let mem = Arc::new(InMemory::new());
        let f = FaultyObjectStore::new(mem.clone(), FaultPlan::Nth(2), FaultTiming::After);
        let p = Path::from("a");
        f.put(&p, PutPayload::from_static(b"1")).await.unwrap();
        let e = f.put(&Path::from("b"), PutPayload::from_static(b"2")).await.unwrap_err();
        assert!(matches!(e, object_store::Error::Generic { .. }));
        assert!(mem.head(&Path::from("b")).await.is_ok(), "the write landed despite the error");
        f.get(&p).await.unwrap();
        assert_eq!((f.calls(), f.injected()), (3, 1));
    }

    #[tokio::test]
    async fn random_faults_follow_the_probability_roughly() {
        let f = FaultyObjectStore::new(
            Arc::new(InMemory::new()),
            FaultPlan::Random { probability: 0.05, seed: 42 },
            FaultTiming::Before,
        );
        for _ in 0..4000 {
            let _ = f.head(&Path::from("x")).await;
        }
        let rate = f.injected() as f64 / 4000.0;
        assert!((0.03..0.07).contains(&rate), "{rate}");
    }

    #[tokio::test]
    async fn latency_delays_every_request_kind_including_failed_ones() {
        let mem: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let ms = Duration::from_millis;
        let f =
            FaultyObjectStore::new(mem.clone(), FaultPlan::Nth(2), FaultTiming::Before).with_latency(ms(40), ms(60));
        let p = Path::from("a");
        let start = tokio::time::Instant::now();
        f.put(&p, PutPayload::from_static(b"1")).await.unwrap();
        f.get(&p).await.unwrap_err(); // the injected failure is delayed too
        f.head(&p).await.unwrap();
        assert_eq!(f.list(None).collect::<Vec<_>>().await.len(), 1);
        f.delete(&p).await.unwrap();
        let elapsed = start.elapsed();
        // A lower bound only: five requests of at least 40 ms each.
        assert!(elapsed >= ms(200), "{elapsed:?}");
        assert_eq!((f.calls(), f.injected()), (5, 1));
        let injected = f.injected_latency();
        assert!((ms(200)..=ms(300)).contains(&injected), "{injected:?}");
        assert!(elapsed >= injected - ms(1), "{elapsed:?} < {injected:?}");

        // Without latency nothing is injected.
        let plain = FaultyObjectStore::new(mem, FaultPlan::Never, FaultTiming::Before);
        plain.head(&Path::from("missing")).await.unwrap_err();
        assert_eq!(plain.injected_latency(), Duration::ZERO);
    }

    #[test]
    fn latency_is_uniform_in_range_and_reproducible_by_seed() {
        let (min, max) = (Duration::from_millis(1), Duration::from_millis(20));
        let draws = |seed: u64| {
            let f = FaultyObjectStore::new(
                Arc::new(InMemory::new()),
                FaultPlan::Random { probability: 0.05, seed },
                FaultTiming::Before,
            )
            .with_latency(min, max);
            (0..2000).map(|_| f.next_latency()).collect::<Vec<_>>()
        };
        let a = draws(7);
        assert_eq!(a, draws(7), "same seed, same delays");
        assert_ne!(a, draws(8), "another seed, other delays");
        assert!(a.iter().all(|d| (min..=max).contains(d)));
        let mean = a.iter().sum::<Duration>() / a.len() as u32;
        assert!((Duration::from_millis(9)..Duration::from_millis(12)).contains(&mean), "{mean:?}");
        assert!(a.iter().any(|d| *d < Duration::from_millis(3)) && a.iter().any(|d| *d > Duration::from_millis(18)));
    }

    #[test]
    fn latency_leaves_the_failure_sequence_of_a_seed_unchanged() {
        let plan = FaultPlan::Random { probability: 0.3, seed: 99 };
        let failures = |f: &FaultyObjectStore| (0..500).map(|_| f.should_fail()).collect::<Vec<_>>();
        let plain = FaultyObjectStore::new(Arc::new(InMemory::new()), plan, FaultTiming::Before);
        let slow = FaultyObjectStore::new(Arc::new(InMemory::new()), plan, FaultTiming::Before)
            .with_latency(Duration::ZERO, Duration::from_millis(5));
        let expected = failures(&plain);
        let got: Vec<bool> = (0..500)
            .map(|_| {
                let _ = slow.next_latency();
                slow.should_fail()
            })
            .collect();
        assert_eq!(got, expected);
    }
}
