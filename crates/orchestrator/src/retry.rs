//! Bounded retries with jittered exponential backoff for store and notifier calls.

use std::future::Future;
use std::time::Duration;

use share_backup_core::{Error, ErrorKind, Result, fill_random};

/// How the orchestrator retries a store or notifier call that failed with a
/// retryable error ([`Error::retryable`]): `Unavailable`, `RateLimited`, ...
///
/// Delays grow exponentially from [`base_delay`](Self::with_base_delay) to
/// [`max_delay`](Self::with_max_delay), with full jitter (each delay is
/// uniform in `[0, cap]`), so that many clients retrying at once spread out.
/// Each single call may also be bounded by a [`call_timeout`](Self::with_call_timeout);
/// a call that times out counts as `Unavailable`.
///
/// Retries and timeouts need a Tokio runtime with the time driver enabled
/// (`tokio::time`), which every `object_store` backend needs anyway.
///
/// ```
/// use std::time::Duration;
/// use share_backup_orchestrator::RetryPolicy;
/// let policy = RetryPolicy::default().with_attempts(5).with_base_delay(Duration::from_millis(50));
/// assert_eq!(policy.attempts(), 5);
/// assert_eq!(RetryPolicy::none().attempts(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    call_timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    /// 4 attempts, 100 ms base delay, 5 s max delay, 30 s per call.
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            call_timeout: Some(Duration::from_secs(30)),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry, no timeout.
    pub const fn none() -> Self {
        RetryPolicy { attempts: 1, base_delay: Duration::ZERO, max_delay: Duration::ZERO, call_timeout: None }
    }

    /// Sets the number of attempts (at least 1; 0 is taken as 1).
    pub const fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = if attempts == 0 { 1 } else { attempts };
        self
    }

    /// Sets the delay before the first retry (the cap doubles for each retry).
    pub const fn with_base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets the largest delay between two attempts.
    pub const fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Bounds each single call (`None`: unbounded).
    pub const fn with_call_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The number of attempts.
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The delay before the first retry.
    pub const fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The largest delay between two attempts.
    pub const fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The bound on each single call.
    pub const fn call_timeout(&self) -> Option<Duration> {
        self.call_timeout
    }

    /// The jittered delay after failed attempt `attempt` (1-based).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(30);
        let cap = self.base_delay.saturating_mul(1u32 << shift).min(self.max_delay);
        if cap.is_zero() {
            return Duration::ZERO;
        }
        let mut b = [0u8; 8];
        if fill_random(&mut b).is_err() {
            return cap;
        }
        let frac = (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64;
        cap.mul_f64(frac)
    }

    /// Runs `f` (given the 1-based attempt number) until it succeeds, fails
    /// with an error that is not retryable, or the attempts are spent.
    pub(crate) async fn run<T, F, Fut>(&self, what: &'static str, mut f: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
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
                Err(e) if e.retryable() && attempt < self.attempts => {
                    let d = self.delay(attempt);
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

    #[test]
    fn delays_stay_under_the_growing_cap_and_the_max() {
        let p =
            RetryPolicy::default().with_base_delay(Duration::from_millis(10)).with_max_delay(Duration::from_millis(35));
        for _ in 0..200 {
            assert!(p.delay(1) <= Duration::from_millis(10));
            assert!(p.delay(2) <= Duration::from_millis(20));
            assert!(p.delay(3) <= Duration::from_millis(35));
            assert!(p.delay(40) <= Duration::from_millis(35));
        }
        assert_eq!(RetryPolicy::none().delay(3), Duration::ZERO);
    }

    #[tokio::test]
    async fn retries_retryable_errors_up_to_the_attempt_count() {
        let calls = AtomicU32::new(0);
        let p = RetryPolicy::none().with_attempts(3);
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
        let p = RetryPolicy::none().with_attempts(5);
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
        let p = RetryPolicy::none().with_attempts(2).with_call_timeout(Some(Duration::from_millis(5)));
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
