//! The realm's state: SQLite (a file, the default) or PostgreSQL, picked by
//! the URL's scheme. One set of queries (`$1`-style parameters, which both
//! drivers bind by number); the guess counter is one conditional
//! `UPDATE … RETURNING` in both. Registrations are keyed by (realm, issuer,
//! user, registration id); an erasure for lock-out writes a tombstone
//! (`lockouts`) in the same transaction.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use futures_core_shim::BoxFuture;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};

/// The migrations of one backend, embedded in the binary.
#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

const SQLITE: &[(i64, &str, &str)] = &[
    (1, "registrations", include_str!("../migrations/sqlite/0001_registrations.sql")),
    (2, "rate limits", include_str!("../migrations/sqlite/0002_rate_limits.sql")),
    (3, "issuer and lockouts", include_str!("../migrations/sqlite/0003_issuer_lockouts.sql")),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "registrations", include_str!("../migrations/postgres/0001_registrations.sql")),
    (2, "rate limits", include_str!("../migrations/postgres/0002_rate_limits.sql")),
    (3, "issuer and lockouts", include_str!("../migrations/postgres/0003_issuer_lockouts.sql")),
];

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(v, d, sql)| {
                    Migration::new(*v, Cow::Borrowed(*d), MigrationType::Simple, Cow::Borrowed(*sql), false)
                })
                .collect())
        })
    }
}

mod futures_core_shim {
    pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

/// A connection pool to the realm's database.
#[derive(Clone, Debug)]
pub enum Db {
    /// An SQLite file (WAL, busy timeout): the pool for registrations
    /// (`synchronous=FULL`: each counted guess is on disk before the answer),
    /// and the pool for the rate-limit counts (`synchronous=NORMAL`: no fsync
    /// of its own; a power loss may forget the last counts, which only
    /// refills a token's budget for the current minute).
    Sqlite(SqlitePool, SqlitePool),
    /// A PostgreSQL database, possibly shared by several realm processes.
    Postgres(PgPool),
}

macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool, _) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Like `on_db!`, with SQLite's rate-limit pool.
macro_rules! on_limits {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite(_, $pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Whose registration part a request names: the realm, the token's issuer
/// (`iss`) and subject (`sub`), and the registration id. Every registration
/// query is keyed by all four: two integrators trusted by one realm may name
/// their users alike.
#[derive(Clone, Copy, Debug)]
pub struct RegKey<'a> {
    /// Realm id (several realms may share one database).
    pub realm: &'a str,
    /// The token's issuer (the integrator).
    pub issuer: &'a str,
    /// The token's subject (the integrator's user id).
    pub user: &'a str,
    /// Registration id.
    pub reg_id: &'a str,
}

/// A stored registration part (what phase 1 needs).
pub struct Phase1Row {
    /// Shamir index.
    pub share_index: u8,
    /// The OPRF key.
    pub oprf_key: zeroize::Zeroizing<Vec<u8>>,
    /// The masked unlock share.
    pub masked_unlock_share: Vec<u8>,
    /// Guesses left after this one.
    pub guesses_left: u32,
}

/// The outcome of phase 1 in the database.
pub enum Guess {
    /// Counted; here is the row.
    Counted(Phase1Row),
    /// No guess left, but the phase-2 window of the last counted guess is
    /// still open: a correct unlock tag may still release the share; the row
    /// is erased when the window ends.
    Exhausted,
    /// The registration was erased after too many wrong guesses (now, or
    /// earlier: its tombstone says so).
    LockedOut,
    /// No such registration.
    NotFound,
}

/// The outcome of phase 2.
pub enum Unlock {
    /// The tag matched; the count is reset.
    Released(Vec<u8>),
    /// Wrong tag; guesses left.
    BadTag(u32),
    /// Erased after too many wrong guesses: now (a wrong tag with no guess
    /// left, or any tag after the phase-2 window), or earlier (a tombstone).
    LockedOut,
    /// No such registration.
    NotFound,
}

/// The fields of a new registration part.
pub struct NewRegistration<'a> {
    /// Whose it is.
    pub key: RegKey<'a>,
    /// Shamir index.
    pub share_index: u8,
    /// OPRF key.
    pub oprf_key: &'a [u8],
    /// Masked unlock share.
    pub masked_unlock_share: &'a [u8],
    /// Unlock tag.
    pub unlock_tag: &'a [u8],
    /// Encrypted share.
    pub encrypted_share: &'a [u8],
    /// Guess limit.
    pub max_guesses: u32,
}

/// The outcome of storing a registration part.
pub enum Inserted {
    /// Stored now.
    Created,
    /// The identical registration was already stored.
    Existed,
    /// A different registration with this id exists.
    Conflict,
    /// A registration with this id was erased after too many wrong guesses:
    /// the id is not reused.
    LockedOut,
}

/// Why the realm cannot start over this database.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// The database failed.
    #[error("the realm's database failed: {0}")]
    Database(#[from] sqlx::Error),
    /// Rows from before migration 0003 name no issuer and the operator has
    /// not said which issuer registered them.
    #[error(
        "{rows} registration(s) of realm {realm:?} were stored before migration 0003 and name no issuer, so \
         which integrator registered them is unknown. Start the realm once with \
         --adopt-legacy-rows-as=ISSUER naming the integrator that registered them (one of the trusted \
         --integrator-key issuers), or assign them yourself: UPDATE registrations SET issuer = '<ISSUER>' \
         WHERE realm_id = '{realm}' AND issuer = ''"
    )]
    LegacyRowsWithoutOwner {
        /// The realm id.
        realm: String,
        /// How many rows name no issuer.
        rows: u64,
    },
}

/// The issuer of rows stored before migration 0003.
pub const LEGACY_ISSUER: &str = "";

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `now - window`: an exhausted row whose last guess is older is past its phase-2 window.
fn cutoff(now: i64, window_secs: u64) -> i64 {
    now.saturating_sub(i64::try_from(window_secs).unwrap_or(i64::MAX))
}

const KEY: &str = "realm_id = $1 AND issuer = $2 AND user_id = $3 AND reg_id = $4";

const TOMBSTONE: &str = "INSERT INTO lockouts (realm_id, issuer, user_id, reg_id, erased_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (realm_id, issuer, user_id, reg_id) DO NOTHING";

impl Db {
    /// Connects to `url` (`sqlite:PATH` / `sqlite://PATH`, or
    /// `postgres://…`) and runs the embedded migrations.
    ///
    /// # Errors
    /// The database is unreachable, the URL malformed, or a migration failed.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
        let db = Db::open(url, max_connections).await?;
        db.migrate(None).await?;
        Ok(db)
    }

    async fn open(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
        Ok(if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10));
            let limits = opts.clone().synchronous(SqliteSynchronous::Normal);
            Db::Sqlite(
                SqlitePoolOptions::new().max_connections(max_connections).connect_with(opts).await?,
                SqlitePoolOptions::new().max_connections(max_connections.div_ceil(2)).connect_lazy_with(limits),
            )
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            Db::Postgres(PgPoolOptions::new().max_connections(max_connections).connect_with(opts).await?)
        } else {
            return Err(sqlx::Error::Configuration(
                "the database URL must start with sqlite: or postgres:// (see --database-url)".into(),
            ));
        })
    }

    /// Runs the embedded migrations (the first `upto` of them; all with `None`).
    async fn migrate(&self, upto: Option<usize>) -> Result<(), sqlx::Error> {
        let all = match self {
            Db::Sqlite(..) => SQLITE,
            Db::Postgres(_) => POSTGRES,
        };
        let migrator = Migrator::new(Embedded(&all[..upto.unwrap_or(all.len()).min(all.len())])).await?;
        on_db!(self, p => migrator.run(p).await)?;
        Ok(())
    }

    /// Which backend: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(..) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Gives realm `realm`'s rows stored before migration 0003 (issuer
    /// [`LEGACY_ISSUER`]) to `adopt_as`, the issuer the operator names
    /// (`--adopt-legacy-rows-as`), in one `UPDATE`; returns how many it
    /// adopted. Never guessed: a realm that trusted two integrators before
    /// 0003 holds both one's and the other's rows under the same empty
    /// issuer, so handing them to whichever issuer is trusted today could
    /// give one integrator the other's users.
    ///
    /// # Errors
    /// [`AdoptError::LegacyRowsWithoutOwner`] when such rows exist and
    /// `adopt_as` is `None` (the message says what to do); a database error.
    pub async fn adopt_legacy_rows(&self, realm: &str, adopt_as: Option<&str>) -> Result<u64, AdoptError> {
        if let Some(issuer) = adopt_as {
            const SQL: &str = "UPDATE registrations SET issuer = $2 WHERE realm_id = $1 AND issuer = $3";
            return Ok(on_db!(self, p => sqlx::query(SQL).bind(realm).bind(issuer).bind(LEGACY_ISSUER)
                .execute(p).await?.rows_affected()));
        }
        const COUNT: &str = "SELECT COUNT(*) FROM registrations WHERE realm_id = $1 AND issuer = $2";
        let rows: i64 =
            on_db!(self, p => sqlx::query(COUNT).bind(realm).bind(LEGACY_ISSUER).fetch_one(p).await?.try_get(0)?);
        if rows == 0 {
            return Ok(0);
        }
        Err(AdoptError::LegacyRowsWithoutOwner { realm: realm.to_string(), rows: u64::try_from(rows).unwrap_or(0) })
    }

    /// Stores a registration part unless one with this key exists or one
    /// with this key was erased after too many wrong guesses (a tombstone):
    /// one `INSERT … SELECT … WHERE NOT EXISTS (tombstone) ON CONFLICT DO NOTHING`.
    pub async fn insert(&self, r: &NewRegistration<'_>) -> Result<Inserted, sqlx::Error> {
        const SQL: &str = "INSERT INTO registrations (realm_id, issuer, user_id, reg_id, share_index, oprf_key, \
             masked_unlock_share, unlock_tag, encrypted_share, max_guesses, guesses, created_at, last_guess_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, 0 \
             WHERE NOT EXISTS (SELECT 1 FROM lockouts l \
                 WHERE l.realm_id = $1 AND l.issuer = $2 AND l.user_id = $3 AND l.reg_id = $4) \
             ON CONFLICT (realm_id, issuer, user_id, reg_id) DO NOTHING";
        let k = &r.key;
        let done = on_db!(self, p => sqlx::query(SQL)
            .bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id).bind(i64::from(r.share_index))
            .bind(r.oprf_key).bind(r.masked_unlock_share).bind(r.unlock_tag).bind(r.encrypted_share)
            .bind(i64::from(r.max_guesses)).bind(unix_now())
            .execute(p).await?.rows_affected());
        if done == 1 {
            // PostgreSQL (read committed): an erasure that committed while this
            // INSERT waited on the old row is invisible to its NOT EXISTS,
            // so look again now; a lock-out's tombstone always wins.
            if self.locked_out(k).await? {
                let sql = format!("DELETE FROM registrations WHERE {KEY}");
                on_db!(self, p => sqlx::query(&sql).bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id)
                    .execute(p).await.map(|_| ()))?;
                return Ok(Inserted::LockedOut);
            }
            return Ok(Inserted::Created);
        }
        let get = format!(
            "SELECT share_index, oprf_key, masked_unlock_share, unlock_tag, encrypted_share, max_guesses \
             FROM registrations WHERE {KEY}"
        );
        let same = on_db!(self, p => {
            match sqlx::query(&get).bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id).fetch_optional(p).await? {
                None => None,
                Some(row) => Some(
                    row.try_get::<i64, _>(0)? == i64::from(r.share_index)
                        && row.try_get::<Vec<u8>, _>(1)? == r.oprf_key
                        && row.try_get::<Vec<u8>, _>(2)? == r.masked_unlock_share
                        && row.try_get::<Vec<u8>, _>(3)? == r.unlock_tag
                        && row.try_get::<Vec<u8>, _>(4)? == r.encrypted_share
                        && row.try_get::<i64, _>(5)? == i64::from(r.max_guesses),
                ),
            }
        });
        Ok(match same {
            Some(true) => Inserted::Existed,
            Some(false) => Inserted::Conflict,
            None if self.locked_out(k).await? => Inserted::LockedOut,
            // Deleted between the two statements: the caller may retry.
            None => Inserted::Conflict,
        })
    }

    /// Phase 1 at `now`: counts one guess atomically (never past the limit)
    /// and records its time. With no guess left, a row past its phase-2
    /// window (`window_secs` after its last guess) is erased now, leaving a
    /// tombstone.
    pub async fn guess(&self, k: &RegKey<'_>, now: i64, window_secs: u64) -> Result<Guess, sqlx::Error> {
        let sql = format!(
            "UPDATE registrations SET guesses = guesses + 1, last_guess_at = $5 \
             WHERE {KEY} AND guesses < max_guesses \
             RETURNING share_index, oprf_key, masked_unlock_share, max_guesses - guesses"
        );
        let row = on_db!(self, p => {
            match sqlx::query(&sql).bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id).bind(now)
                .fetch_optional(p).await? {
                None => None,
                Some(row) => Some(Phase1Row {
                    share_index: u8::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0),
                    oprf_key: zeroize::Zeroizing::new(row.try_get::<Vec<u8>, _>(1)?),
                    masked_unlock_share: row.try_get::<Vec<u8>, _>(2)?,
                    guesses_left: u32::try_from(row.try_get::<i64, _>(3)?).unwrap_or(0),
                }),
            }
        });
        if let Some(r) = row {
            return Ok(Guess::Counted(r));
        }
        // Nothing counted: no guess left (erase it if its window is over), a tombstone, or nothing.
        if self.erase_locked_out(k, cutoff(now, window_secs), now).await? {
            return Ok(Guess::LockedOut);
        }
        let exhausted = format!("SELECT 1 FROM registrations WHERE {KEY} AND guesses >= max_guesses");
        let pending = on_db!(self, p => sqlx::query(&exhausted).bind(k.realm).bind(k.issuer).bind(k.user)
            .bind(k.reg_id).fetch_optional(p).await?.is_some());
        Ok(if pending {
            Guess::Exhausted
        } else if self.locked_out(k).await? {
            Guess::LockedOut
        } else {
            Guess::NotFound
        })
    }

    /// Erases `k` if it has no guess left and its last guess was before
    /// `before`, writing its tombstone in the same transaction. True if it
    /// erased.
    async fn erase_locked_out(&self, k: &RegKey<'_>, before: i64, now: i64) -> Result<bool, sqlx::Error> {
        let sql = format!(
            "DELETE FROM registrations WHERE {KEY} AND guesses >= max_guesses AND last_guess_at < $5 RETURNING reg_id"
        );
        Ok(on_db!(self, p => {
            let mut tx = p.begin().await?;
            let erased = sqlx::query(&sql).bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id).bind(before)
                .fetch_optional(&mut *tx).await?.is_some();
            if erased {
                sqlx::query(TOMBSTONE).bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id).bind(now)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            erased
        }))
    }

    /// Phase 2 at `now`: compares the tag in constant time. Equal, and the
    /// row has guesses left or its last guess is at most `window_secs` old:
    /// releases the share and resets the count. Different: reports the
    /// guesses left, erasing (with a tombstone) when none is left. Past the
    /// window with no guess left, any tag finds the row erased.
    pub async fn unlock(&self, k: &RegKey<'_>, tag: &[u8], now: i64, window_secs: u64) -> Result<Unlock, sqlx::Error> {
        use subtle::ConstantTimeEq;
        let get = format!(
            "SELECT unlock_tag, encrypted_share, max_guesses - guesses, last_guess_at FROM registrations WHERE {KEY}"
        );
        let row = on_db!(self, p => {
            match sqlx::query(&get).bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id).fetch_optional(p).await? {
                None => None,
                Some(row) => Some((
                    row.try_get::<Vec<u8>, _>(0)?,
                    zeroize::Zeroizing::new(row.try_get::<Vec<u8>, _>(1)?),
                    row.try_get::<i64, _>(2)?,
                    row.try_get::<i64, _>(3)?,
                )),
            }
        });
        let Some((stored, share, left, last_guess_at)) = row else {
            return Ok(if self.locked_out(k).await? { Unlock::LockedOut } else { Unlock::NotFound });
        };
        let before = cutoff(now, window_secs);
        if left <= 0 && last_guess_at < before {
            // The phase-2 window is over: erased, whatever the tag.
            self.erase_locked_out(k, before, now).await?;
            return Ok(Unlock::LockedOut);
        }
        if stored.len() == tag.len() && bool::from(stored.ct_eq(tag)) {
            let reset = format!(
                "UPDATE registrations SET guesses = 0 WHERE {KEY} AND (guesses < max_guesses OR last_guess_at >= $5)"
            );
            let n = on_db!(self, p => sqlx::query(&reset).bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id)
                .bind(before).execute(p).await?.rows_affected());
            return Ok(if n == 1 {
                Unlock::Released(share.to_vec())
            } else if self.locked_out(k).await? {
                Unlock::LockedOut
            } else {
                Unlock::NotFound
            });
        }
        if left <= 0 {
            // The last guess was wrong: erase now.
            if self.erase_locked_out(k, i64::MAX, now).await? || self.locked_out(k).await? {
                return Ok(Unlock::LockedOut);
            }
        }
        Ok(Unlock::BadTag(u32::try_from(left).unwrap_or(0)))
    }

    /// Deletes a registration part; true if there was one. A part with
    /// guesses left leaves nothing behind; one with no guess left was locked
    /// out, and leaves its tombstone. A tombstone itself stays.
    pub async fn delete(&self, k: &RegKey<'_>, now: i64) -> Result<bool, sqlx::Error> {
        let sql = format!("DELETE FROM registrations WHERE {KEY} RETURNING guesses, max_guesses");
        Ok(on_db!(self, p => {
            let mut tx = p.begin().await?;
            let row = sqlx::query(&sql).bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id)
                .fetch_optional(&mut *tx).await?;
            let deleted = row.is_some();
            if let Some(row) = row {
                if row.try_get::<i64, _>(0)? >= row.try_get::<i64, _>(1)? {
                    sqlx::query(TOMBSTONE).bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id).bind(now)
                        .execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            deleted
        }))
    }

    /// Erases realm `realm`'s rows with no guess left whose last guess is
    /// more than `window_secs` before `now` (their phase-2 window is over),
    /// writing their tombstones in the same transaction. Returns how many it
    /// erased. The realm's background sweep calls this every few seconds.
    pub async fn sweep_exhausted(&self, realm: &str, now: i64, window_secs: u64) -> Result<u64, sqlx::Error> {
        const SQL: &str = "DELETE FROM registrations \
             WHERE realm_id = $1 AND guesses >= max_guesses AND last_guess_at < $2 RETURNING issuer, user_id, reg_id";
        Ok(on_db!(self, p => {
            let mut tx = p.begin().await?;
            let rows = sqlx::query(SQL).bind(realm).bind(cutoff(now, window_secs)).fetch_all(&mut *tx).await?;
            for row in &rows {
                sqlx::query(TOMBSTONE).bind(realm).bind(row.try_get::<String, _>(0)?)
                    .bind(row.try_get::<String, _>(1)?).bind(row.try_get::<String, _>(2)?).bind(now)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            u64::try_from(rows.len()).unwrap_or(u64::MAX)
        }))
    }

    /// Whether `k` was erased after too many wrong guesses (it has a tombstone).
    pub async fn locked_out(&self, k: &RegKey<'_>) -> Result<bool, sqlx::Error> {
        let sql = format!("SELECT 1 FROM lockouts WHERE {KEY}");
        Ok(on_db!(self, p => sqlx::query(&sql).bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id)
            .fetch_optional(p).await?.is_some()))
    }

    /// Counts one request of the token whose SHA-256 is `token_hash` in the
    /// window starting at `window_start`, atomically (one upsert with
    /// `RETURNING`, as the guess counter): every process over this database
    /// shares the count. Returns the requests counted in the window so far.
    pub async fn count_request(&self, realm: &str, token_hash: &[u8], window_start: i64) -> Result<u64, sqlx::Error> {
        const SQL: &str = "INSERT INTO rate_limits (realm_id, token_hash, window_start, requests) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (realm_id, token_hash, window_start) DO UPDATE SET requests = rate_limits.requests + 1 \
             RETURNING requests";
        let n: i64 = on_limits!(self, p => sqlx::query(SQL).bind(realm).bind(token_hash).bind(window_start)
            .fetch_one(p).await?.try_get(0)?);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Forgets the request counts of windows that started before `before`.
    pub async fn sweep_rate_limits(&self, before: i64) -> Result<u64, sqlx::Error> {
        const SQL: &str = "DELETE FROM rate_limits WHERE window_start < $1";
        Ok(on_limits!(self, p => sqlx::query(SQL).bind(before).execute(p).await?.rows_affected()))
    }

    /// Guesses counted so far for `k` (None: no such part).
    pub async fn guesses_of(&self, k: &RegKey<'_>) -> Result<Option<u32>, sqlx::Error> {
        let sql = format!("SELECT guesses FROM registrations WHERE {KEY}");
        Ok(on_db!(self, p => sqlx::query(&sql).bind(k.realm).bind(k.issuer).bind(k.user).bind(k.reg_id)
            .fetch_optional(p).await?.map(|r| r.try_get::<i64, _>(0)).transpose()?)
        .map(|g| u32::try_from(g).unwrap_or(u32::MAX)))
    }

    /// Guesses counted so far for `user`'s part `reg_id` under any issuer
    /// (the largest count if several issuers have one; None: no part). For
    /// tests and operators of a realm with one issuer; see
    /// [`guesses_of`](Self::guesses_of).
    pub async fn guesses(&self, realm: &str, user: &str, reg_id: &str) -> Result<Option<u32>, sqlx::Error> {
        const SQL: &str = "SELECT MAX(guesses) FROM registrations WHERE realm_id = $1 AND user_id = $2 AND reg_id = $3";
        Ok(on_db!(self, p => sqlx::query(SQL).bind(realm).bind(user).bind(reg_id).fetch_one(p).await?
            .try_get::<Option<i64>, _>(0)?)
        .map(|g| u32::try_from(g).unwrap_or(u32::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG_ENV: &str = "SHARE_BACKUP_REALM_TEST_POSTGRES_URL";

    /// Empty databases, migrations not run: an SQLite file and, when
    /// `PG_ENV` is set, a new PostgreSQL database of that server.
    async fn empty_databases(dir: &std::path::Path, name: &str) -> Vec<Db> {
        let mut v =
            vec![Db::open(&format!("sqlite:{}", dir.join(format!("{name}.sqlite3")).display()), 2).await.unwrap()];
        match std::env::var(PG_ENV) {
            Ok(url) => {
                let admin = Db::open(&url, 1).await.unwrap();
                let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
                let db_name = format!("realm_unit_{name}_{}_{nanos}", std::process::id());
                on_db!(&admin, p => sqlx::query(&format!("CREATE DATABASE {db_name}")).execute(p).await.map(|_| ()).unwrap());
                let (server, _) = url.rsplit_once('/').unwrap();
                v.push(Db::open(&format!("{server}/{db_name}"), 2).await.unwrap());
            }
            Err(_) if std::env::var_os("SHARE_BACKUP_REQUIRE_SERVERS").is_some_and(|v| v == "1") => {
                panic!("{PG_ENV} is not set but SHARE_BACKUP_REQUIRE_SERVERS=1 (run scripts/ci/realm.sh)")
            }
            Err(_) => eprintln!("skipping PostgreSQL: {PG_ENV} is not set (scripts/ci/realm.sh starts one)"),
        }
        v
    }

    fn key<'a>(issuer: &'a str, reg_id: &'a str) -> RegKey<'a> {
        RegKey { realm: "r", issuer, user: "alice", reg_id }
    }

    fn reg<'a>(k: RegKey<'a>, tag: &'a [u8], max_guesses: u32) -> NewRegistration<'a> {
        NewRegistration {
            key: k,
            share_index: 1,
            oprf_key: &[1; 32],
            masked_unlock_share: &[2; 32],
            unlock_tag: tag,
            encrypted_share: b"ciphertext",
            max_guesses,
        }
    }

    const REG: &str = "000102030405060708090a0b0c0d0e0f";
    const TAG: &[u8] = &[7; 32];
    const WINDOW: u64 = 60;

    async fn exhaust(db: &Db, k: &RegKey<'_>, at: i64) {
        loop {
            match db.guess(k, at, WINDOW).await.unwrap() {
                Guess::Counted(r) if r.guesses_left == 0 => return,
                Guess::Counted(_) => {}
                _ => panic!("the registration should count guesses"),
            }
        }
    }

    #[tokio::test]
    async fn rows_from_before_migration_0003_are_adopted_only_by_the_issuer_the_operator_names() {
        let dir = tempfile::tempdir().unwrap();
        for db in empty_databases(dir.path(), "legacy").await {
            db.migrate(Some(2)).await.unwrap();
            const OLD: &str = "INSERT INTO registrations (realm_id, user_id, reg_id, share_index, oprf_key, \
                 masked_unlock_share, unlock_tag, encrypted_share, max_guesses, guesses, created_at) \
                 VALUES ($1, 'alice', $2, 1, $3, $3, $3, $3, 3, $4, 0)";
            for (realm, reg_id, guesses) in [("r", REG, 1i64), ("r", "ff".repeat(16).as_str(), 3), ("other", REG, 0)] {
                on_db!(&db, p => sqlx::query(OLD).bind(realm).bind(reg_id).bind(&[9u8; 32][..]).bind(guesses)
                    .execute(p).await.map(|_| ()).unwrap());
            }
            db.migrate(None).await.unwrap();
            assert_eq!(db.guesses_of(&key(LEGACY_ISSUER, REG)).await.unwrap(), Some(1), "{}", db.backend());
            let e = db.adopt_legacy_rows("r", None).await.unwrap_err();
            assert!(matches!(&e, AdoptError::LegacyRowsWithoutOwner { rows: 2, .. }), "{e}");
            assert!(
                e.to_string().contains("--adopt-legacy-rows-as") && e.to_string().contains("UPDATE registrations"),
                "{e}"
            );
            assert_eq!(db.adopt_legacy_rows("r", Some("a")).await.unwrap(), 2);
            assert_eq!(db.guesses_of(&key("a", REG)).await.unwrap(), Some(1), "adopted with its count");
            assert_eq!(db.guesses_of(&key(LEGACY_ISSUER, REG)).await.unwrap(), None);
            assert_eq!(db.adopt_legacy_rows("r", None).await.unwrap(), 0, "nothing left to adopt");
            assert!(db.adopt_legacy_rows("other", None).await.is_err(), "another realm's rows are its own");
            // The adopted row that had no guess left (last_guess_at 0) is swept at once, leaving a tombstone.
            assert_eq!(db.sweep_exhausted("r", unix_now(), WINDOW).await.unwrap(), 1);
            assert!(db.locked_out(&key("a", &"ff".repeat(16))).await.unwrap());
        }
    }

    #[tokio::test]
    async fn an_exhausted_row_unlocks_within_the_phase2_window_and_is_erased_with_a_tombstone_after_it() {
        let dir = tempfile::tempdir().unwrap();
        for db in empty_databases(dir.path(), "window").await {
            db.migrate(None).await.unwrap();
            let k = key("a", REG);
            assert!(matches!(db.insert(&reg(k, TAG, 2)).await.unwrap(), Inserted::Created));
            exhaust(&db, &k, 1000).await;
            assert!(matches!(db.guess(&k, 1010, WINDOW).await.unwrap(), Guess::Exhausted), "not erased in the window");
            assert_eq!(db.sweep_exhausted("r", 1060, WINDOW).await.unwrap(), 0, "the window is still open");
            assert!(
                matches!(db.unlock(&k, TAG, 1060, WINDOW).await.unwrap(), Unlock::Released(s) if s == b"ciphertext")
            );
            assert_eq!(db.guesses_of(&k).await.unwrap(), Some(0), "a correct tag resets the count");
            // Exhausted again and no phase 2: the sweep erases it after the window and leaves a tombstone.
            exhaust(&db, &k, 2000).await;
            assert_eq!(db.sweep_exhausted("r", 2061, WINDOW).await.unwrap(), 1);
            assert_eq!(db.guesses_of(&k).await.unwrap(), None);
            assert!(db.locked_out(&k).await.unwrap());
            assert!(matches!(db.guess(&k, 2062, WINDOW).await.unwrap(), Guess::LockedOut));
            assert!(matches!(db.unlock(&k, TAG, 2062, WINDOW).await.unwrap(), Unlock::LockedOut));
            assert!(matches!(db.insert(&reg(k, TAG, 2)).await.unwrap(), Inserted::LockedOut), "the id is not reused");
            assert!(!db.delete(&k, 2063).await.unwrap());
            assert!(db.locked_out(&k).await.unwrap(), "deleting does not remove the tombstone");
        }
    }

    #[tokio::test]
    async fn a_request_after_the_window_or_a_wrong_last_tag_erases_at_once() {
        let dir = tempfile::tempdir().unwrap();
        for db in empty_databases(dir.path(), "on_request").await {
            db.migrate(None).await.unwrap();
            // A correct tag after the window finds the row erased (no sweep ran).
            let late = key("a", REG);
            db.insert(&reg(late, TAG, 1)).await.unwrap();
            exhaust(&db, &late, 1000).await;
            assert!(matches!(db.unlock(&late, TAG, 1061, WINDOW).await.unwrap(), Unlock::LockedOut));
            assert!(db.locked_out(&late).await.unwrap() && db.guesses_of(&late).await.unwrap().is_none());
            // So does a phase 1 after the window.
            let idle = key("b", REG);
            db.insert(&reg(idle, TAG, 1)).await.unwrap();
            exhaust(&db, &idle, 1000).await;
            assert!(matches!(db.guess(&idle, 1061, WINDOW).await.unwrap(), Guess::LockedOut));
            assert!(db.locked_out(&idle).await.unwrap());
            // A wrong tag with no guess left erases within the window.
            let wrong = key("c", REG);
            db.insert(&reg(wrong, TAG, 2)).await.unwrap();
            exhaust(&db, &wrong, 1000).await;
            assert!(matches!(db.unlock(&wrong, &[0; 32], 1001, WINDOW).await.unwrap(), Unlock::LockedOut));
            assert!(db.locked_out(&wrong).await.unwrap());
            // Deleting a live registration leaves no tombstone; deleting one with no guess left does.
            let live = key("d", REG);
            db.insert(&reg(live, TAG, 2)).await.unwrap();
            assert!(db.delete(&live, 1000).await.unwrap());
            assert!(!db.locked_out(&live).await.unwrap());
            assert!(matches!(db.guess(&live, 1001, WINDOW).await.unwrap(), Guess::NotFound));
            let spent = key("e", REG);
            db.insert(&reg(spent, TAG, 1)).await.unwrap();
            exhaust(&db, &spent, 1000).await;
            assert!(db.delete(&spent, 1001).await.unwrap());
            assert!(db.locked_out(&spent).await.unwrap());
        }
    }

    #[tokio::test]
    async fn two_issuers_with_the_same_user_and_reg_id_have_separate_rows() {
        let dir = tempfile::tempdir().unwrap();
        for db in empty_databases(dir.path(), "issuers").await {
            db.migrate(None).await.unwrap();
            let (a, b) = (key("a", REG), key("b", REG));
            assert!(matches!(db.insert(&reg(a, TAG, 3)).await.unwrap(), Inserted::Created));
            assert!(matches!(db.guess(&b, 1000, WINDOW).await.unwrap(), Guess::NotFound));
            assert!(matches!(db.unlock(&b, TAG, 1000, WINDOW).await.unwrap(), Unlock::NotFound));
            assert!(!db.delete(&b, 1000).await.unwrap());
            assert!(matches!(db.insert(&reg(b, &[8; 32], 3)).await.unwrap(), Inserted::Created), "not a conflict");
            assert!(matches!(db.guess(&b, 1000, WINDOW).await.unwrap(), Guess::Counted(r) if r.guesses_left == 2));
            assert_eq!((db.guesses_of(&a).await.unwrap(), db.guesses_of(&b).await.unwrap()), (Some(0), Some(1)));
            assert!(matches!(db.unlock(&b, TAG, 1000, WINDOW).await.unwrap(), Unlock::BadTag(2)), "b's tag, not a's");
            assert!(db.delete(&a, 1000).await.unwrap());
            assert_eq!(db.guesses_of(&b).await.unwrap(), Some(1));
        }
    }
}
