//! Bounded, jittered exponential backoff for Drive's transient answers.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// How transient answers (429, 500, 502, 503, 504, 403 `rateLimitExceeded`
/// and `userRateLimitExceeded`, timeouts, broken connections) are retried:
/// exponential backoff with full jitter (from `backon`), bounded in count and
/// in total time.
///
/// ```
/// use std::time::Duration;
/// use share_backup_gdrive::RetryPolicy;
/// let p = RetryPolicy::new().with_max_retries(3).with_min_delay(Duration::from_millis(5));
/// assert_eq!(p.max_retries(), 3);
/// assert_eq!(RetryPolicy::none().max_retries(), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: usize,
    min_delay: Duration,
    max_delay: Duration,
    max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_total: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The defaults: 5 retries, 250 ms doubling to at most 8 s, 30 s in all.
    pub fn new() -> Self {
        Self::default()
    }

    /// No retry at all.
    pub fn none() -> Self {
        RetryPolicy { max_retries: 0, ..Self::default() }
    }

    /// At most `n` retries after the first attempt.
    pub fn with_max_retries(mut self, n: usize) -> Self {
        self.max_retries = n;
        self
    }

    /// The first delay (before jitter).
    pub fn with_min_delay(mut self, d: Duration) -> Self {
        self.min_delay = d;
        self
    }

    /// The longest single delay.
    pub fn with_max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// The most time an operation may spend, attempts and delays included,
    /// before it gives up with the last error.
    pub fn with_max_total(mut self, d: Duration) -> Self {
        self.max_total = d;
        self
    }

    /// Retries after the first attempt.
    pub fn max_retries(&self) -> usize {
        self.max_retries
    }

    /// The first delay.
    pub fn min_delay(&self) -> Duration {
        self.min_delay
    }

    /// The longest single delay.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The total time bound.
    pub fn max_total(&self) -> Duration {
        self.max_total
    }

    /// The delays to sleep before each retry, in order.
    pub(crate) fn delays(&self) -> impl Iterator<Item = Duration> + Send + use<> {
        ExponentialBuilder::new()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay.max(self.min_delay))
            .with_max_times(self.max_retries)
            .with_total_delay(Some(self.max_total))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_bounded_in_count_and_size() {
        let p = RetryPolicy::new()
            .with_max_retries(4)
            .with_min_delay(Duration::from_millis(10))
            .with_max_delay(Duration::from_millis(40));
        let d: Vec<_> = p.delays().collect();
        assert_eq!(d.len(), 4);
        // Jitter adds at most the delay itself.
        assert!(d.iter().all(|x| *x <= Duration::from_millis(80)), "{d:?}");
        assert_eq!(RetryPolicy::none().delays().count(), 0);
    }

    #[test]
    fn total_delay_caps_the_sum() {
        let p = RetryPolicy::new()
            .with_max_retries(100)
            .with_min_delay(Duration::from_millis(10))
            .with_max_delay(Duration::from_millis(10))
            .with_max_total(Duration::from_millis(50));
        let sum: Duration = p.delays().sum();
        assert!(sum <= Duration::from_millis(50), "{sum:?}");
    }
}
