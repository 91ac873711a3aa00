//! The one tokio runtime of the bindings, cancellation by drop, and the
//! bounded, thread-isolated calls into app code.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use share_backup_core::{Error as CoreError, ErrorKind as CoreKind, Result as CoreResult};
use tokio::runtime::{Handle, Runtime};

use crate::error::ShareBackupError;

/// Every async export runs on this runtime (two worker threads; the
/// password KDF and the app's callbacks go to its blocking pool). The
/// foreign side only polls a join handle, so its event loop or coroutine
/// dispatcher never runs share-backup's work.
///
/// The runtime itself sits in [`SLOT`] so that [`shutdown`] can stop it
/// and join its threads before the host runtime goes away (Python's
/// interpreter finalization ends any foreign thread that then touches
/// Python with a forced unwind, which aborts the process when it crosses
/// Rust frames); [`HANDLE`] is what the rest of the crate uses.
static HANDLE: LazyLock<Handle> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("share-backup")
        .enable_all()
        .build()
        .expect("share-backup: cannot start the tokio runtime (the OS refused its threads)");
    let handle = rt.handle().clone();
    *SLOT.lock().unwrap_or_else(PoisonError::into_inner) = Some(rt);
    handle
});

static SLOT: Mutex<Option<Runtime>> = Mutex::new(None);

/// Set once [`shutdown`] ran: no new work starts.
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);

/// The runtime's handle.
pub(crate) fn runtime() -> &'static Handle {
    &HANDLE
}

fn shut_down_error() -> ShareBackupError {
    CoreError::new(CoreKind::Cancelled, "share-backup was shut down (the process is exiting); nothing was started")
        .into()
}

/// Stops share-backup's runtime before the process exits: running
/// operations are cancelled (nothing more is stored or acknowledged),
/// their tasks are dropped, and its threads are joined, waiting up to
/// `timeout_ms` for app callbacks that are still running (a callback that
/// timed out keeps its thread until it returns). Afterwards every call
/// fails with the `Cancelled` kind. Idempotent.
///
/// The Python package registers it with `atexit`, so no share-backup thread
/// is inside (or about to enter) Python while the interpreter finalizes;
/// other hosts call it at their own exit (a JVM's shutdown hook) if they
/// need the same guarantee. A callback still running after `timeout_ms` is
/// left to the OS.
#[uniffi::export(default(timeout_ms = 5000))]
pub fn shutdown(timeout_ms: u64) {
    SHUT_DOWN.store(true, Ordering::SeqCst);
    let rt = SLOT.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(rt) = rt {
        rt.shutdown_timeout(Duration::from_millis(timeout_ms));
    }
}

/// Aborts the task when dropped: what happens when the foreign side
/// cancels (a Python task, a Kotlin coroutine) and frees the Rust future.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `fut` on the runtime; dropping the returned future aborts it
/// (the Rust future is dropped at its next await point: nothing after that
/// point runs, so nothing more is stored or acknowledged).
pub(crate) async fn spawn<T: Send + 'static>(
    fut: impl Future<Output = Result<T, ShareBackupError>> + Send + 'static,
) -> Result<T, ShareBackupError> {
    if SHUT_DOWN.load(Ordering::SeqCst) {
        return Err(shut_down_error());
    }
    let mut handle = AbortOnDrop(HANDLE.spawn(fut));
    match (&mut handle.0).await {
        Ok(r) => r,
        Err(e) if e.is_cancelled() => Err(CoreError::new(CoreKind::Cancelled, "the operation was cancelled").into()),
        Err(_) => Err(CoreError::internal("share-backup panicked; this is a bug, please report it").into()),
    }
}

/// Calls app code (a foreign trait method, which blocks its thread) on the
/// runtime's blocking pool, bounded by `timeout`: a callback that hangs
/// becomes an `Unavailable` error after the timeout (its thread is left to
/// finish on its own; the framework never waits for it), one that throws
/// becomes its typed error, one that panics an `Internal` error. No lock is
/// held across the call.
pub(crate) async fn call_foreign<T: Send + 'static>(
    what: &'static str,
    timeout: Option<Duration>,
    f: impl FnOnce() -> Result<T, ShareBackupError> + Send + 'static,
) -> CoreResult<T> {
    let task = AbortOnDrop(tokio::task::spawn_blocking(f));
    let joined = match timeout {
        Some(t) => match tokio::time::timeout(t, task_join(task)).await {
            Ok(r) => r,
            Err(_) => {
                return Err(CoreError::new(
                    CoreKind::Unavailable,
                    format!("{what}: the app's callback did not return within {} ms", t.as_millis()),
                )
                .with_hint("make the callback return (or throw) within the call timeout; it is retried"));
            }
        },
        None => task_join(task).await,
    };
    match joined {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.into_core(what)),
        Err(e) if e.is_cancelled() => Err(CoreError::new(CoreKind::Cancelled, format!("{what}: cancelled"))),
        Err(_) => Err(CoreError::internal(format!("{what}: the app's callback panicked"))),
    }
}

async fn task_join<T>(mut task: AbortOnDrop<T>) -> Result<T, tokio::task::JoinError> {
    (&mut task.0).await
}

/// Blocks the calling (foreign) thread on `fut` on the runtime. For the
/// few synchronous exports that need the runtime (starting the fake Drive).
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    HANDLE.block_on(fut)
}
