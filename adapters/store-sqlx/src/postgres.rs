use std::time::Duration;

use mfa_flow::{Saved, Store, StoredRecord};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::error::{SqlxStoreError, Write, db_version, saved, stored};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// The queries, with the schema written in.
#[derive(Clone, Debug)]
struct Queries {
    load: String,
    insert: String,
    update: String,
    delete: String,
}

impl Queries {
    fn new(schema: &str) -> Self {
        let table = format!("\"{schema}\".mfa_records");
        Self {
            load: format!("SELECT version, record FROM {table} WHERE user_id = $1"),
            insert: format!(
                "INSERT INTO {table} (user_id, version, record) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO NOTHING"
            ),
            update: format!(
                "UPDATE {table} SET version = $3, record = $4, updated_at = now() \
                 WHERE user_id = $1 AND version = $2"
            ),
            delete: format!("DELETE FROM {table} WHERE user_id = $1 AND version = $2"),
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

fn check_schema(schema: &str) -> Result<(), SqlxStoreError> {
    let mut chars = schema.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        Ok(())
    } else {
        Err(SqlxStoreError::InvalidSchema)
    }
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

    /// A store over an existing pool.
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

    /// Creates the schema if needed and runs the embedded migrations in it
    /// (its own `_sqlx_migrations` table included). Safe to run on every
    /// start and from several instances at once (sqlx takes an advisory
    /// lock).
    ///
    /// # Errors
    ///
    /// [`SqlxStoreError::Migrate`], or a database error.
    pub async fn migrate(&self) -> Result<(), SqlxStoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", self.schema))
            .execute(&mut *conn)
            .await?;
        sqlx::query(&format!("SET search_path TO \"{}\"", self.schema))
            .execute(&mut *conn)
            .await?;
        let mut migrator = Migrator {
            migrations: MIGRATOR.migrations.clone(),
            ..Migrator::DEFAULT
        };
        migrator.set_ignore_missing(true);
        let result = migrator.run(&mut *conn).await;
        // Do not hand a connection with a changed search_path back to the pool.
        conn.close_on_drop();
        result.map_err(|e| SqlxStoreError::Migrate(Box::new(e)))
    }
}

impl Store for PostgresStore {
    type Error = SqlxStoreError;

    async fn load(&self, user: &str) -> Result<Option<StoredRecord>, SqlxStoreError> {
        let row: Option<(i64, String)> = sqlx::query_as(&self.queries.load)
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
                sqlx::query(&self.queries.insert)
                    .bind(user)
                    .bind(version)
                    .bind(text)
                    .execute(&self.pool)
                    .await?
            }
            Write::Update { from, to } => {
                sqlx::query(&self.queries.update)
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
        let result = sqlx::query(&self.queries.delete)
            .bind(user)
            .bind(version)
            .execute(&self.pool)
            .await?;
        Ok(saved(result.rows_affected()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for good in ["mfa", "_x", "app_1", &"a".repeat(63)] {
            assert!(check_schema(good).is_ok(), "{good}");
        }
        for bad in ["", "1abc", "a-b", "a\"b", "a;drop", "é", &"a".repeat(64)] {
            assert!(check_schema(bad).is_err(), "{bad}");
        }
    }
}
