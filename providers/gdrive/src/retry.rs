//! Bounded, jittered exponential backoff for Drive's transient answers.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use share_backup_core::RetryPolicy;

/// The provider's default [`RetryPolicy`] for transient answers (429, 500,
/// 502, 503, 504, 403 `rateLimitExceeded` and `userRateLimitExceeded`,
/// timeouts, broken connections): 5 retries, 250 ms doubling up to 8 s, with
/// full jitter (from `backon`), and at most 30 s for the whole operation.
///
/// The provider reads the policy's total bound as elapsed time since the
/// first attempt of a request, attempts included: it never starts a retry
/// whose *delay* would end after the bound. The retry it starts may still
/// run for up to the request timeout, so the worst case of one request is
/// the token fetch + the total bound + one request timeout (+ one token
/// refresh after a 401): with these defaults and the default 30 s request
/// timeout, about 60 s plus the token source's time. An operation of several
/// requests (a first folder-mode backup: lookup, create, upload; a recovery
/// by name: get, lookup, get) has that bound per request.
///
/// ```
/// use std::time::Duration;
/// use share_backup_gdrive::DEFAULT_RETRY;
/// let p = DEFAULT_RETRY.with_max_retries(3).with_min_delay(Duration::from_millis(5));
/// assert_eq!(p.max_retries(), 3);
/// assert_eq!(DEFAULT_RETRY.max_total_delay(), Some(Duration::from_secs(30)));
/// ```
pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy::new(5, Duration::from_millis(250), Duration::from_secs(8))
    .with_max_total_delay(Some(Duration::from_secs(30)));

/// The delays to sleep before each retry, in order.
pub(crate) fn delays(policy: &RetryPolicy) -> impl Iterator<Item = Duration> + Send + use<> {
    ExponentialBuilder::new()
        .with_jitter()
        .with_min_delay(policy.min_delay())
        .with_max_delay(policy.max_delay())
        .with_max_times(policy.max_retries() as usize)
        .with_total_delay(policy.max_total_delay())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_bounded_in_count_and_size() {
        let p = DEFAULT_RETRY
            .with_max_retries(4)
            .with_min_delay(Duration::from_millis(10))
            .with_max_delay(Duration::from_millis(40));
        let d: Vec<_> = delays(&p).collect();
        assert_eq!(d.len(), 4);
        // Jitter adds at most the delay itself.
        assert!(d.iter().all(|x| *x <= Duration::from_millis(80)), "{d:?}");
        assert_eq!(delays(&RetryPolicy::none()).count(), 0);
    }

    #[test]
    fn total_delay_caps_the_sum() {
        let p = DEFAULT_RETRY
            .with_max_retries(100)
            .with_min_delay(Duration::from_millis(10))
            .with_max_delay(Duration::from_millis(10))
            .with_max_total_delay(Some(Duration::from_millis(50)));
        let sum: Duration = delays(&p).sum();
        assert!(sum <= Duration::from_millis(50), "{sum:?}");
    }
}
