//! The one tokio runtime of the bindings, cancellation by drop, and the
//! bounded, thread-isolated calls into app code.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use share_backup_core::{Error as CoreError, ErrorKind as CoreKind, Result as CoreResult};
use tokio::runtime::Runtime;

use crate::error::ShareBackupError;

/// Every async export runs on this runtime (two worker threads; the
/// password KDF and the app's callbacks go to its blocking pool). The
/// foreign side only polls a join handle, so its event loop or coroutine
/// dispatcher never runs share-backup's work.
static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("share-backup")
        .enable_all()
        .build()
        .expect("share-backup: cannot start the tokio runtime (the OS refused its threads)")
});

/// The runtime.
pub(crate) fn runtime() -> &'static Runtime {
    &RUNTIME
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
    let mut handle = AbortOnDrop(RUNTIME.spawn(fut));
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
    RUNTIME.block_on(fut)
}
