use std::path::Path;
use std::time::Duration;

use mfa_flow::{Saved, Store, StoredRecord};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{SqlxStoreError, Write, db_version, saved, stored};
use crate::migrate::Set;

static MIGRATIONS: Set = Set {
    migrations: sqlx::migrate!("migrations/sqlite"),
    table: "_mfa_store_sqlx_migrations",
};

/// MFA records in a SQLite database file: the embedded default.
///
/// [`SqliteStore::open`] sets what concurrent use needs: WAL journal (readers
/// never block the writer), a 5-second busy timeout (writers from other
/// connections or processes wait instead of failing), and `synchronous =
/// FULL` (a write that has returned survives a crash of the process or the
/// machine). Every write is one conditional statement, so instances sharing
/// the file cannot interleave a read and a write.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// The connection options [`SqliteStore::open`] uses, for applications
    /// that want their own pool on the same file (sessions, users).
    #[must_use]
    pub fn connect_options(path: impl AsRef<Path>) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
    }

    /// Opens (creating if needed) a database file with a pool of up to 8
    /// connections and a 5-second acquire timeout. Run
    /// [`SqliteStore::migrate`] once before use.
    ///
    /// # Errors
    ///
    /// [`SqlxStoreError::Unavailable`] if the file cannot be opened.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, SqlxStoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(Self::connect_options(path))
            .await?;
        Ok(Self { pool })
    }

    /// A store over an existing pool (configure it like
    /// [`SqliteStore::connect_options`]).
    #[must_use]
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// The pool.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Creates or updates the `mfa_records` table (the embedded migrations,
    /// recorded in `_mfa_store_sqlx_migrations`, not in sqlx's default
    /// `_sqlx_migrations`, so the application's own sqlx migrations can run
    /// in the same file with sqlx's default settings). Safe to run on every
    /// start; run it from one process at a time (SQLite has no lock sqlx
    /// could hold for the run).
    ///
    /// # Errors
    ///
    /// [`SqlxStoreError::Migrate`].
    pub async fn migrate(&self) -> Result<(), SqlxStoreError> {
        crate::migrate::sqlite(&self.pool, &MIGRATIONS).await
    }
}

impl Store for SqliteStore {
    type Error = SqlxStoreError;

    async fn load(&self, user: &str) -> Result<Option<StoredRecord>, SqlxStoreError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT version, record FROM mfa_records WHERE user_id = ?1")
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(version, record)| stored(version, record))
            .transpose()
    }

    async fn save(&self, user: &str, record: &StoredRecord) -> Result<Saved, SqlxStoreError> {
        let Some(write) = Write::of(record)? else {
            return Ok(Saved::Conflict);
        };
        let text = record.as_str();
        let result =
            match write {
                Write::Insert(version) => {
                    sqlx::query(
                        "INSERT INTO mfa_records (user_id, version, record) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (user_id) DO NOTHING",
                    )
                    .bind(user)
                    .bind(version)
                    .bind(text)
                    .execute(&self.pool)
                    .await?
                }
                Write::Update { from, to } => sqlx::query(
                    "UPDATE mfa_records SET version = ?3, record = ?4, updated_at = unixepoch() \
                 WHERE user_id = ?1 AND version = ?2",
                )
                .bind(user)
                .bind(from)
                .bind(to)
                .bind(text)
                .execute(&self.pool)
                .await?,
            };
        Ok(saved(result.rows_affected()))
    }

    async fn delete(&self, user: &str, version: u64) -> Result<Saved, SqlxStoreError> {
        let Ok(version) = db_version(version) else {
            return Ok(Saved::Conflict);
        };
        let result = sqlx::query("DELETE FROM mfa_records WHERE user_id = ?1 AND version = ?2")
            .bind(user)
            .bind(version)
            .execute(&self.pool)
            .await?;
        Ok(saved(result.rows_affected()))
    }
}
