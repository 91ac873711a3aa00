//! Per-token rate limit: a fixed one-minute window per token (keyed by the
//! token's SHA-256, never the token), counted in the database, so that
//! several realm processes over one database share each token's budget.

use std::sync::atomic::{AtomicI64, Ordering};

use sha2::{Digest, Sha256};

use crate::db::Db;

/// The window length in seconds.
pub const WINDOW_SECS: i64 = 60;

/// Counts requests per token per minute in the realm's database.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    /// The window whose predecessors this process last swept.
    swept: AtomicI64,
}

impl RateLimiter {
    /// Allows `per_minute` requests per token and minute (0: no limit).
    pub fn new(per_minute: u32) -> Self {
        RateLimiter { per_minute, swept: AtomicI64::new(0) }
    }

    /// Whether one more request with `token` at `realm` is allowed at
    /// `now` (unix seconds), counting it in `db`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn allow(&self, db: &Db, realm: &str, token: &[u8], now: u64) -> Result<bool, sqlx::Error> {
        if self.per_minute == 0 {
            return Ok(true);
        }
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let window = now - now.rem_euclid(WINDOW_SECS);
        // The first request of a new window in this process drops the rows
        // of windows before the previous one.
        if self.swept.swap(window, Ordering::Relaxed) != window {
            db.sweep_rate_limits(window - WINDOW_SECS).await?;
        }
        let hash: [u8; 32] = Sha256::digest(token).into();
        let n = db.count_request(realm, &hash, window).await?;
        Ok(n <= u64::from(self.per_minute))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_token_gets_its_own_budget_per_window_shared_by_every_limiter_of_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite:{}", dir.path().join("l.sqlite3").display()), 2).await.unwrap();
        // Two limiters over one database, as two realm processes.
        let (l1, l2) = (RateLimiter::new(3), RateLimiter::new(3));
        let t = 6_000_000;
        assert!(l1.allow(&db, "r", b"a", t).await.unwrap());
        assert!(l2.allow(&db, "r", b"a", t + 1).await.unwrap());
        assert!(l1.allow(&db, "r", b"a", t + 2).await.unwrap());
        assert!(!l2.allow(&db, "r", b"a", t + 3).await.unwrap(), "the fourth request in the window is refused");
        assert!(!l1.allow(&db, "r", b"a", t + 4).await.unwrap());
        assert!(l1.allow(&db, "r", b"b", t).await.unwrap(), "another token has its own budget");
        assert!(l1.allow(&db, "other-realm", b"a", t).await.unwrap(), "another realm has its own budget");
        assert!(l2.allow(&db, "r", b"a", t + 60).await.unwrap(), "the next window starts afresh");
    }
}
