//! [`RetryPolicy`]: one way to say how transient failures are retried,
//! understood by every component that retries (the orchestrator, the
//! object store, the Portal notifier, the Google Drive provider).

use std::time::Duration;

use crate::{Error, ErrorKind, Result};

/// How a call that failed transiently (a retryable [`Error`]: unavailable,
/// rate limited, a timeout, a 5xx) is tried again: at most
/// [`max_retries`](Self::max_retries) more times, after delays that grow
/// exponentially from [`min_delay`](Self::min_delay) to
/// [`max_delay`](Self::max_delay), with full jitter (each delay is uniform in
/// `[0, cap]`, so that many clients retrying at once spread out), and
/// sleeping at most [`max_total_delay`](Self::max_total_delay) in all.
///
/// Data only: each component applies it in its own loop (and may honour a
/// server's `Retry-After` within `max_delay`). Each has its own default,
/// documented where you pass the policy; [`RetryPolicy::default`] is a
/// general-purpose one.
///
/// ```
/// use std::time::Duration;
/// use share_backup_core::RetryPolicy;
///
/// let p = RetryPolicy::default()
///     .with_max_retries(3)
///     .with_delays(Duration::from_millis(50), Duration::from_secs(2))
///     .with_max_total_delay(Some(Duration::from_secs(5)));
/// assert_eq!((p.max_retries(), p.attempts()), (3, 4));
/// assert_eq!(p.delays().count(), 3);
/// assert!(p.delays().all(|d| d <= Duration::from_secs(2)));
/// assert_eq!(RetryPolicy::none().delays().count(), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    max_retries: u32,
    min_delay: Duration,
    max_delay: Duration,
    max_total_delay: Option<Duration>,
}

impl Default for RetryPolicy {
    /// 3 retries, 100 ms doubling up to 5 s, no bound on the total.
    fn default() -> Self {
        RetryPolicy::new(3, Duration::from_millis(100), Duration::from_secs(5))
    }
}

impl RetryPolicy {
    /// `max_retries` retries, delays from `min_delay` up to `max_delay`, no
    /// bound on the total delay.
    pub const fn new(max_retries: u32, min_delay: Duration, max_delay: Duration) -> Self {
        RetryPolicy { max_retries, min_delay, max_delay, max_total_delay: None }
    }

    /// One attempt, no retry.
    pub const fn none() -> Self {
        RetryPolicy::new(0, Duration::ZERO, Duration::ZERO)
    }

    /// Sets the number of retries after the first attempt (0: none).
    pub const fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the first delay and the longest single delay.
    pub const fn with_delays(mut self, min: Duration, max: Duration) -> Self {
        self.min_delay = min;
        self.max_delay = max;
        self
    }

    /// Sets the first delay (the cap doubles with each retry).
    pub const fn with_min_delay(mut self, d: Duration) -> Self {
        self.min_delay = d;
        self
    }

    /// Sets the longest single delay.
    pub const fn with_max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// Bounds the time spent sleeping between attempts, in all (`None`: no bound).
    pub const fn with_max_total_delay(mut self, d: Option<Duration>) -> Self {
        self.max_total_delay = d;
        self
    }

    /// Retries after the first attempt.
    pub const fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// Attempts in all: `max_retries + 1`.
    pub const fn attempts(&self) -> u32 {
        self.max_retries.saturating_add(1)
    }

    /// The first delay.
    pub const fn min_delay(&self) -> Duration {
        self.min_delay
    }

    /// The longest single delay (never below [`min_delay`](Self::min_delay)).
    pub fn max_delay(&self) -> Duration {
        self.max_delay.max(self.min_delay)
    }

    /// The bound on the total delay, if any.
    pub const fn max_total_delay(&self) -> Option<Duration> {
        self.max_total_delay
    }

    /// The jittered delays to sleep before each retry, in order: at most
    /// [`max_retries`](Self::max_retries) of them, the `n`th uniform in
    /// `[0, min(max_delay, min_delay × 2^(n-1))]`, ending early when the next
    /// one would take the sum past [`max_total_delay`](Self::max_total_delay).
    pub fn delays(&self) -> Delays {
        Delays { policy: *self, next: 1, slept: Duration::ZERO }
    }
}

/// The delays of a [`RetryPolicy`] ([`RetryPolicy::delays`]).
#[derive(Clone, Debug)]
pub struct Delays {
    policy: RetryPolicy,
    next: u32,
    slept: Duration,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.next == 0 || self.next > self.policy.max_retries {
            return None;
        }
        let shift = (self.next - 1).min(30);
        self.next = self.next.wrapping_add(1);
        let cap = self.policy.min_delay.saturating_mul(1u32 << shift).min(self.policy.max_delay());
        let d = cap.mul_f64(unit_random().unwrap_or(1.0));
        if let Some(total) = self.policy.max_total_delay
            && self.slept + d > total
        {
            self.next = 0; // spent
            return None;
        }
        self.slept += d;
        Some(d)
    }
}

/// A uniform draw in `[0, 1)` from the operating system's generator.
fn unit_random() -> Result<f64> {
    let mut b = [0u8; 8];
    crate::fill_random(&mut b).map_err(|e| Error::new(ErrorKind::Internal, e.message().to_owned()))?;
    Ok((u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_doubling_cap_and_the_max() {
        let p = RetryPolicy::new(5, Duration::from_millis(10), Duration::from_millis(35));
        for _ in 0..200 {
            let d: Vec<Duration> = p.delays().collect();
            assert_eq!(d.len(), 5);
            let caps = [10, 20, 35, 35, 35].map(Duration::from_millis);
            assert!(d.iter().zip(caps).all(|(d, cap)| *d <= cap), "{d:?}");
        }
    }

    #[test]
    fn delays_are_jittered() {
        let p = RetryPolicy::new(1, Duration::from_secs(1), Duration::from_secs(1));
        let draws: std::collections::HashSet<Duration> = (0..20).filter_map(|_| p.delays().next()).collect();
        assert!(draws.len() > 10, "full jitter draws differ: {draws:?}");
    }

    #[test]
    fn the_total_delay_is_bounded() {
        let p = RetryPolicy::new(1000, Duration::from_millis(10), Duration::from_millis(10))
            .with_max_total_delay(Some(Duration::from_millis(50)));
        for _ in 0..50 {
            let sum: Duration = p.delays().sum();
            assert!(sum <= Duration::from_millis(50), "{sum:?}");
        }
    }

    #[test]
    fn an_unbounded_count_is_still_bounded_by_the_total() {
        let p = RetryPolicy::new(u32::MAX, Duration::from_millis(1), Duration::from_millis(1))
            .with_max_total_delay(Some(Duration::from_millis(20)));
        assert!(p.delays().count() < 100_000);
    }

    #[test]
    fn none_never_retries_and_a_max_below_the_min_is_the_min() {
        assert_eq!(RetryPolicy::none().delays().count(), 0);
        assert_eq!(RetryPolicy::none().attempts(), 1);
        let p = RetryPolicy::new(1, Duration::from_millis(30), Duration::from_millis(5));
        assert_eq!(p.max_delay(), Duration::from_millis(30));
    }
}
