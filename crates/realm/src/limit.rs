//! Per-token rate limit: a fixed one-minute window per token (keyed by the
//! token's SHA-256, never the token), in this process's memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Counts requests per token per minute.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<[u8; 32], (Instant, u32)>>,
}

impl RateLimiter {
    /// Allows `per_minute` requests per token and minute (0: no limit).
    pub fn new(per_minute: u32) -> Self {
        RateLimiter { per_minute, windows: Mutex::new(HashMap::new()) }
    }

    /// Whether one more request with `token` is allowed now (and counts it).
    pub fn allow(&self, token: &[u8]) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let key: [u8; 32] = Sha256::digest(token).into();
        let now = Instant::now();
        let mut w = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if w.len() > 100_000 {
            w.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let entry = w.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_token_gets_its_own_budget() {
        let l = RateLimiter::new(2);
        assert!(l.allow(b"a") && l.allow(b"a"));
        assert!(!l.allow(b"a"));
        assert!(l.allow(b"b"));
    }
}
