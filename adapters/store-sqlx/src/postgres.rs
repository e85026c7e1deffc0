use std::time::Duration;

use mfa_flow::{Saved, Store, StoredRecord};
use sqlx::SqlStr;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::error::{SqlxStoreError, Write, db_version, saved, stored};
use crate::migrate::{self, Set, check_schema, in_schema};

static MIGRATIONS: Set = Set {
    migrations: sqlx::migrate!("migrations/postgres"),
    table: "_mfa_store_sqlx_migrations",
};

/// The queries, with the schema written in once (cloning one shares it).
#[derive(Clone, Debug)]
struct Queries {
    load: SqlStr,
    insert: SqlStr,
    update: SqlStr,
    delete: SqlStr,
}

impl Queries {
    fn new(schema: &str) -> Self {
        Self {
            load: in_schema(
                schema,
                "SELECT version, record FROM {schema}.mfa_records WHERE user_id = $1",
            ),
            insert: in_schema(
                schema,
                "INSERT INTO {schema}.mfa_records (user_id, version, record) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO NOTHING",
            ),
            update: in_schema(
                schema,
                "UPDATE {schema}.mfa_records SET version = $3, record = $4, updated_at = now() \
                 WHERE user_id = $1 AND version = $2",
            ),
            delete: in_schema(
                schema,
                "DELETE FROM {schema}.mfa_records WHERE user_id = $1 AND version = $2",
            ),
        }
    }
}

/// MFA records in a PostgreSQL table `SCHEMA.mfa_records`.
///
/// The schema is configurable so several applications (or test runs) share
/// one server without sharing records. Every write is one conditional
/// statement: the compare-and-swap happens in the database.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    schema: String,
    queries: Queries,
}

impl PostgresStore {
    /// Connects a pool of up to 16 connections (5-second acquire timeout)
    /// to `url`, for records in `schema`. Run [`PostgresStore::migrate`] once
    /// before use.
    ///
    /// # Errors
    ///
    /// [`SqlxStoreError::InvalidSchema`]; [`SqlxStoreError::Unavailable`] if
    /// the server cannot be reached.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, SqlxStoreError> {
        check_schema(schema)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Self::from_pool(pool, schema)
    }

    /// A store over an existing pool, for records in `schema` (1 to 63
    /// ASCII letters, digits and underscores, used quoted: case matters).
    ///
    /// # Errors
    ///
    /// [`SqlxStoreError::InvalidSchema`].
    pub fn from_pool(pool: PgPool, schema: &str) -> Result<Self, SqlxStoreError> {
        check_schema(schema)?;
        Ok(Self {
            pool,
            schema: schema.to_owned(),
            queries: Queries::new(schema),
        })
    }

    /// The pool.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema holding the table.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Creates the schema if needed and runs the embedded migrations in it,
    /// recording them in the schema's `_mfa_store_sqlx_migrations` table (not
    /// sqlx's default `_sqlx_migrations`, so an application's own migrator
    /// can share the schema). Safe to run on every start and from several
    /// instances at once: sqlx takes an advisory lock, and the schema is
    /// created under it.
    ///
    /// # Errors
    ///
    /// [`SqlxStoreError::Migrate`], or a database error.
    pub async fn migrate(&self) -> Result<(), SqlxStoreError> {
        migrate::postgres(&self.pool, &self.schema, &MIGRATIONS).await
    }
}

impl Store for PostgresStore {
    type Error = SqlxStoreError;

    async fn load(&self, user: &str) -> Result<Option<StoredRecord>, SqlxStoreError> {
        let row: Option<(i64, String)> = sqlx::query_as(self.queries.load.clone())
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
        let result = match write {
            Write::Insert(version) => {
                sqlx::query(self.queries.insert.clone())
                    .bind(user)
                    .bind(version)
                    .bind(text)
                    .execute(&self.pool)
                    .await?
            }
            Write::Update { from, to } => {
                sqlx::query(self.queries.update.clone())
                    .bind(user)
                    .bind(from)
                    .bind(to)
                    .bind(text)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(saved(result.rows_affected()))
    }

    async fn delete(&self, user: &str, version: u64) -> Result<Saved, SqlxStoreError> {
        let Ok(version) = db_version(version) else {
            return Ok(Saved::Conflict);
        };
        let result = sqlx::query(self.queries.delete.clone())
            .bind(user)
            .bind(version)
            .execute(&self.pool)
            .await?;
        Ok(saved(result.rows_affected()))
    }
}
