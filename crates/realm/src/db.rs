//! The realm's state: SQLite (a file, the default) or PostgreSQL, picked by
//! the URL's scheme. One set of queries (`$1`-style parameters, which both
//! drivers bind by number); the guess counter is one conditional
//! `UPDATE … RETURNING` in both.

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
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "registrations", include_str!("../migrations/postgres/0001_registrations.sql")),
    (2, "rate limits", include_str!("../migrations/postgres/0002_rate_limits.sql")),
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
    /// No guess left: the registration was erased now.
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
    /// Wrong tag with no guess left: erased now.
    LockedOut,
    /// No such registration.
    NotFound,
}

/// The fields of a new registration part.
pub struct NewRegistration<'a> {
    /// Realm id (several realms may share one database).
    pub realm: &'a str,
    /// User (token `sub`).
    pub user: &'a str,
    /// Registration id.
    pub reg_id: &'a str,
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

/// `Ok(true)` created, `Ok(false)` identical one existed, `Err(Conflict)` different one existed.
pub enum Inserted {
    /// Stored now.
    Created,
    /// The identical registration was already stored.
    Existed,
    /// A different registration with this id exists.
    Conflict,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Db {
    /// Connects to `url` (`sqlite:PATH` / `sqlite://PATH`, or
    /// `postgres://…`) and runs the embedded migrations.
    ///
    /// # Errors
    /// The database is unreachable, the URL malformed, or a migration failed.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
        let db = if url.starts_with("sqlite:") {
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
        };
        let source = match &db {
            Db::Sqlite(..) => Embedded(SQLITE),
            Db::Postgres(_) => Embedded(POSTGRES),
        };
        let migrator = Migrator::new(source).await?;
        on_db!(&db, p => migrator.run(p).await)?;
        Ok(db)
    }

    /// Which backend: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(..) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Stores a registration part unless one with this id exists.
    pub async fn insert(&self, r: &NewRegistration<'_>) -> Result<Inserted, sqlx::Error> {
        const SQL: &str = "INSERT INTO registrations (realm_id, user_id, reg_id, share_index, oprf_key, masked_unlock_share, \
             unlock_tag, encrypted_share, max_guesses, guesses, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10) ON CONFLICT (realm_id, user_id, reg_id) DO NOTHING";
        let done = on_db!(self, p => sqlx::query(SQL)
            .bind(r.realm).bind(r.user).bind(r.reg_id).bind(i64::from(r.share_index)).bind(r.oprf_key)
            .bind(r.masked_unlock_share).bind(r.unlock_tag).bind(r.encrypted_share)
            .bind(i64::from(r.max_guesses)).bind(now())
            .execute(p).await?.rows_affected());
        if done == 1 {
            return Ok(Inserted::Created);
        }
        const GET: &str = "SELECT share_index, oprf_key, masked_unlock_share, unlock_tag, encrypted_share, max_guesses \
             FROM registrations WHERE realm_id = $1 AND user_id = $2 AND reg_id = $3";
        let same = on_db!(self, p => {
            match sqlx::query(GET).bind(r.realm).bind(r.user).bind(r.reg_id).fetch_optional(p).await? {
                None => false,
                Some(row) => {
                    row.try_get::<i64, _>(0)? == i64::from(r.share_index)
                        && row.try_get::<Vec<u8>, _>(1)? == r.oprf_key
                        && row.try_get::<Vec<u8>, _>(2)? == r.masked_unlock_share
                        && row.try_get::<Vec<u8>, _>(3)? == r.unlock_tag
                        && row.try_get::<Vec<u8>, _>(4)? == r.encrypted_share
                        && row.try_get::<i64, _>(5)? == i64::from(r.max_guesses)
                }
            }
        });
        Ok(if same { Inserted::Existed } else { Inserted::Conflict })
    }

    /// Phase 1: counts one guess atomically (never past the limit).
    pub async fn guess(&self, realm: &str, user: &str, reg_id: &str) -> Result<Guess, sqlx::Error> {
        const SQL: &str = "UPDATE registrations SET guesses = guesses + 1 \
             WHERE realm_id = $1 AND user_id = $2 AND reg_id = $3 AND guesses < max_guesses \
             RETURNING share_index, oprf_key, masked_unlock_share, max_guesses - guesses";
        let row = on_db!(self, p => {
            match sqlx::query(SQL).bind(realm).bind(user).bind(reg_id).fetch_optional(p).await? {
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
        // No row counted: erase it if it has no guess left (lock-out).
        Ok(if self.erase_exhausted(realm, user, reg_id).await? { Guess::LockedOut } else { Guess::NotFound })
    }

    async fn erase_exhausted(&self, realm: &str, user: &str, reg_id: &str) -> Result<bool, sqlx::Error> {
        const SQL: &str =
            "DELETE FROM registrations WHERE realm_id = $1 AND user_id = $2 AND reg_id = $3 AND guesses >= max_guesses";
        let n =
            on_db!(self, p => sqlx::query(SQL).bind(realm).bind(user).bind(reg_id).execute(p).await?.rows_affected());
        Ok(n > 0)
    }

    /// Phase 2: compares the tag in constant time; releases and resets, or
    /// reports the guesses left (erasing when none is left).
    pub async fn unlock(&self, realm: &str, user: &str, reg_id: &str, tag: &[u8]) -> Result<Unlock, sqlx::Error> {
        use subtle::ConstantTimeEq;
        const GET: &str = "SELECT unlock_tag, encrypted_share, max_guesses - guesses \
             FROM registrations WHERE realm_id = $1 AND user_id = $2 AND reg_id = $3";
        let row = on_db!(self, p => {
            match sqlx::query(GET).bind(realm).bind(user).bind(reg_id).fetch_optional(p).await? {
                None => None,
                Some(row) => Some((
                    row.try_get::<Vec<u8>, _>(0)?,
                    row.try_get::<Vec<u8>, _>(1)?,
                    row.try_get::<i64, _>(2)?,
                )),
            }
        });
        let Some((stored, share, left)) = row else { return Ok(Unlock::NotFound) };
        if stored.len() == tag.len() && bool::from(stored.ct_eq(tag)) {
            const RESET: &str =
                "UPDATE registrations SET guesses = 0 WHERE realm_id = $1 AND user_id = $2 AND reg_id = $3";
            let n = on_db!(self, p => sqlx::query(RESET).bind(realm).bind(user).bind(reg_id).execute(p).await?.rows_affected());
            return Ok(if n == 1 { Unlock::Released(share) } else { Unlock::NotFound });
        }
        if left <= 0 && self.erase_exhausted(realm, user, reg_id).await? {
            return Ok(Unlock::LockedOut);
        }
        Ok(Unlock::BadTag(u32::try_from(left).unwrap_or(0)))
    }

    /// Deletes a registration part; true if there was one.
    pub async fn delete(&self, realm: &str, user: &str, reg_id: &str) -> Result<bool, sqlx::Error> {
        const SQL: &str = "DELETE FROM registrations WHERE realm_id = $1 AND user_id = $2 AND reg_id = $3";
        let n =
            on_db!(self, p => sqlx::query(SQL).bind(realm).bind(user).bind(reg_id).execute(p).await?.rows_affected());
        Ok(n > 0)
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

    /// Guesses counted so far (tests and operators).
    pub async fn guesses(&self, realm: &str, user: &str, reg_id: &str) -> Result<Option<u32>, sqlx::Error> {
        const SQL: &str = "SELECT guesses FROM registrations WHERE realm_id = $1 AND user_id = $2 AND reg_id = $3";
        Ok(on_db!(self, p => sqlx::query(SQL).bind(realm).bind(user).bind(reg_id).fetch_optional(p).await?
            .map(|r| r.try_get::<i64, _>(0)).transpose()?)
        .map(|g| u32::try_from(g).unwrap_or(u32::MAX)))
    }
}
