//! `ObjectStore` wrappers for tests and benchmarks: one that counts
//! requests, one that injects failures. Enabled by the `testing` feature.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
/// throttled or failing server does (`503 Service Unavailable`).
pub struct FaultyObjectStore {
    inner: Arc<dyn ObjectStore>,
    plan: FaultPlan,
    timing: FaultTiming,
    calls: AtomicU64,
    injected: AtomicU64,
    rng: AtomicU64,
}

impl FaultyObjectStore {
    /// Wraps `inner`, failing requests by `plan`.
    pub fn new(inner: Arc<dyn ObjectStore>, plan: FaultPlan, timing: FaultTiming) -> Self {
        let seed = match plan {
            FaultPlan::Random { seed, .. } => seed | 1,
            _ => 1,
        };
        FaultyObjectStore {
            inner,
            plan,
            timing,
            calls: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            rng: AtomicU64::new(seed),
        }
    }

    /// Requests seen so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Failures injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    fn next_random(&self) -> f64 {
        // xorshift64*, advanced atomically.
        let mut x = self.rng.load(Ordering::Relaxed);
        loop {
            let mut y = x;
            y ^= y >> 12;
            y ^= y << 25;
            y ^= y >> 27;
            match self.rng.compare_exchange_weak(x, y, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return (y.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64,
                Err(now) => x = now,
            }
        }
    }

    fn should_fail(&self) -> bool {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let fail = match self.plan {
            FaultPlan::Never => false,
            FaultPlan::Nth(k) => n == k,
            FaultPlan::Random { probability, .. } => self.next_random() < probability,
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

    async fn run<T>(&self, f: impl Future<Output = object_store::Result<T>>) -> object_store::Result<T> {
        if !self.should_fail() {
            return f.await;
        }
        if self.timing == FaultTiming::After {
            let _ = f.await;
        }
        Err(Self::error())
    }
}

impl fmt::Debug for FaultyObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyObjectStore")
            .field("inner", &self.inner.to_string())
            .field("plan", &self.plan)
            .field("timing", &self.timing)
            .finish()
    }
}

impl fmt::Display for FaultyObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

macro_rules! delegate {
    ($ty:ty, |$s:ident, $op:ident, $fut:ident| $wrap:expr, |$s2:ident, $op2:ident| $before:expr) => {
        #[async_trait]
        impl ObjectStore for $ty {
            async fn put_opts(
                &self,
                location: &Path,
                payload: PutPayload,
                opts: PutOptions,
            ) -> object_store::Result<PutResult> {
                let ($s, $op, $fut) = (self, Op::Put, self.inner.put_opts(location, payload, opts));
                $wrap.await
            }

            async fn put_multipart_opts(
                &self,
                location: &Path,
                opts: PutMultipartOptions,
            ) -> object_store::Result<Box<dyn MultipartUpload>> {
                let ($s, $op, $fut) = (self, Op::Put, self.inner.put_multipart_opts(location, opts));
                $wrap.await
            }

            async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
                let op = if options.head { Op::Head } else { Op::Get };
                let ($s, $op, $fut) = (self, op, self.inner.get_opts(location, options));
                $wrap.await
            }

            async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> object_store::Result<Vec<Bytes>> {
                let ($s, $op, $fut) = (self, Op::Get, self.inner.get_ranges(location, ranges));
                $wrap.await
            }

            fn delete_stream(
                &self,
                locations: BoxStream<'static, object_store::Result<Path>>,
            ) -> BoxStream<'static, object_store::Result<Path>> {
                let $s2 = self;
                let $op2 = Op::Delete;
                // Counted (and maybe failed) once per call, before the backend sees it.
                if $before {
                    return futures::stream::once(async { Err(<$ty>::injected_error()) }).boxed();
                }
                self.inner.delete_stream(locations)
            }

            fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
                let $s2 = self;
                let $op2 = Op::List;
                if $before {
                    return futures::stream::once(async { Err(<$ty>::injected_error()) }).boxed();
                }
                self.inner.list(prefix)
            }

            fn list_with_offset(
                &self,
                prefix: Option<&Path>,
                offset: &Path,
            ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
                let $s2 = self;
                let $op2 = Op::List;
                if $before {
                    return futures::stream::once(async { Err(<$ty>::injected_error()) }).boxed();
                }
                self.inner.list_with_offset(prefix, offset)
            }

            async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
                let ($s, $op, $fut) = (self, Op::List, self.inner.list_with_delimiter(prefix));
                $wrap.await
            }

            async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
                let ($s, $op, $fut) = (self, Op::Copy, self.inner.copy_opts(from, to, options));
                $wrap.await
            }

            async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> object_store::Result<()> {
                let ($s, $op, $fut) = (self, Op::Copy, self.inner.rename_opts(from, to, options));
                $wrap.await
            }
        }
    };
}

impl CountingObjectStore {
    fn injected_error() -> object_store::Error {
        unreachable_error()
    }
}

fn unreachable_error() -> object_store::Error {
    object_store::Error::Generic { store: "CountingObjectStore", source: "counting never fails".into() }
}

impl FaultyObjectStore {
    fn injected_error() -> object_store::Error {
        Self::error()
    }
}

delegate!(
    CountingObjectStore,
    |s, op, fut| async move {
        s.counts.bump(op);
        fut.await
    },
    |s, op| {
        s.counts.bump(op);
        false
    }
);

delegate!(
    FaultyObjectStore,
    |s, op, fut| async move {
        let _ = op;
        s.run(fut).await
    },
    |s, op| {
        let _ = op;
        s.should_fail()
    }
);

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
}
