//! Bounded retries with jittered exponential backoff for store and notifier
//! calls, following a [`RetryPolicy`], plus a bound on each single call.

use std::future::Future;
use std::time::Duration;

use share_backup_core::{Error, ErrorKind, Result, RetryPolicy};

/// The orchestrator's default [`RetryPolicy`] for store and notifier calls:
/// 3 retries (4 attempts), 100 ms doubling up to 5 s, with full jitter.
pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy::new(3, Duration::from_millis(100), Duration::from_secs(5));

/// The orchestrator's default bound on a single store or notifier call: 30 s.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A policy and the bound on each call, as the orchestrator applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Retry {
    pub(crate) policy: RetryPolicy,
    pub(crate) call_timeout: Option<Duration>,
}

impl Retry {
    /// Runs `f` (given the 1-based attempt number) until it succeeds, fails
    /// with an error that is not retryable, or the policy's retries are
    /// spent. A call that exceeds the timeout counts as `Unavailable`.
    ///
    /// Retries and timeouts need a Tokio runtime with the time driver
    /// enabled (`tokio::time`), which every `object_store` backend needs anyway.
    pub(crate) async fn run<T, F, Fut>(&self, what: &'static str, mut f: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut delays = self.policy.delays();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match self.call_timeout {
                Some(t) => match tokio::time::timeout(t, f(attempt)).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::new(ErrorKind::Unavailable, format!("{what} did not answer within {t:?}"))),
                },
                None => f(attempt).await,
            };
            match result {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable() => {
                    let Some(d) = delays.next() else { return Err(e) };
                    tracing::warn!(
                        call = what,
                        attempt,
                        kind = e.kind().name(),
                        delay_ms = d.as_millis() as u64,
                        "retrying"
                    );
                    if !d.is_zero() {
                        tokio::time::sleep(d).await;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn retry(policy: RetryPolicy) -> Retry {
        Retry { policy, call_timeout: None }
    }

    #[tokio::test]
    async fn retries_retryable_errors_up_to_the_attempt_count() {
        let calls = AtomicU32::new(0);
        let p = retry(RetryPolicy::none().with_max_retries(2));
        let r: Result<()> = p
            .run("test call", |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::new(ErrorKind::Unavailable, "down"))
            })
            .await;
        assert_eq!(r.unwrap_err().kind(), &ErrorKind::Unavailable);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn does_not_retry_a_permanent_error() {
        let calls = AtomicU32::new(0);
        let p = retry(RetryPolicy::none().with_max_retries(4));
        let r: Result<()> = p
            .run("test call", |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::new(ErrorKind::PermissionDenied, "no"))
            })
            .await;
        assert_eq!(r.unwrap_err().kind(), &ErrorKind::PermissionDenied);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_call_that_hangs_times_out_as_unavailable_and_is_retried() {
        let calls = AtomicU32::new(0);
        let p = Retry { policy: RetryPolicy::none().with_max_retries(1), call_timeout: Some(Duration::from_millis(5)) };
        let r = p
            .run("slow call", |attempt| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if attempt == 1 {
                        std::future::pending::<()>().await;
                    }
                    Ok(attempt)
                }
            })
            .await;
        assert_eq!(r.unwrap(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
