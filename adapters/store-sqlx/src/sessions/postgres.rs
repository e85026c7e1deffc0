use sqlx::{PgPool, SqlStr};

use super::{Row, Table, session_store};
use crate::SqlxStoreError;
use crate::migrate::{Set, check_schema, in_schema};

static MIGRATIONS: Set = Set {
    migrations: sqlx::migrate!("migrations/postgres-sessions"),
    table: "_mfa_store_sqlx_session_migrations",
};

/// The statements, with the schema written in once.
#[derive(Clone, Debug)]
struct Queries {
    insert: SqlStr,
    upsert: SqlStr,
    select: SqlStr,
    remove: SqlStr,
    remove_unchanged: SqlStr,
    remove_expired: SqlStr,
}

impl Queries {
    fn new(schema: &str) -> Self {
        Self {
            insert: in_schema(
                schema,
                "INSERT INTO {schema}.http_sessions (id, data, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
            ),
            upsert: in_schema(
                schema,
                "INSERT INTO {schema}.http_sessions (id, data, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
            ),
            select: in_schema(
                schema,
                "SELECT data, expires_at FROM {schema}.http_sessions WHERE id = $1 AND expires_at > $2",
            ),
            remove: in_schema(schema, "DELETE FROM {schema}.http_sessions WHERE id = $1"),
            remove_unchanged: in_schema(
                schema,
                "DELETE FROM {schema}.http_sessions WHERE id = $1 AND data = $2 AND expires_at = $3",
            ),
            remove_expired: in_schema(
                schema,
                "DELETE FROM {schema}.http_sessions WHERE expires_at <= $1",
            ),
        }
    }
}

/// A [tower-sessions] store in a PostgreSQL table `SCHEMA.http_sessions`,
/// for an application that keeps its MFA records in the same schema with
/// [`PostgresStore`](crate::PostgresStore).
///
/// A new session never takes an id that is in use: [`create`] inserts only
/// where the id is free, and otherwise draws another. Expired sessions are
/// never loaded (expiry in whole seconds, rounded down, against each
/// instance's own clock); [`delete_expired`] removes them. A row that is
/// not a session is removed when its id is loaded, and loads as none.
///
/// Wrap it in mfa-axum's `HashedSessionIds`: the table then holds keyed
/// hashes of the ids, not the cookies' values, and a request that loaded a
/// session before it was deleted or its id cycled cannot save it back (a
/// plain `save` here is an upsert, as tower-sessions asks of a store).
///
/// [tower-sessions]: https://docs.rs/tower-sessions/0.14
/// [`create`]: tower_sessions_core::SessionStore::create
/// [`delete_expired`]: tower_sessions_core::ExpiredDeletion::delete_expired
#[derive(Clone, Debug)]
pub struct PostgresSessionStore {
    pool: PgPool,
    schema: String,
    queries: Queries,
}

impl PostgresSessionStore {
    /// A session store over `pool`, with its table in `schema`. Run
    /// [`PostgresSessionStore::migrate`] once before use.
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

    /// Creates the schema if needed and the `http_sessions` table in it,
    /// like [`PostgresStore::migrate`](crate::PostgresStore::migrate): safe
    /// on every start and from several instances at once.
    ///
    /// # Errors
    ///
    /// [`SqlxStoreError::Migrate`], or a database error.
    pub async fn migrate(&self) -> Result<(), SqlxStoreError> {
        crate::migrate::postgres(&self.pool, &self.schema, &MIGRATIONS).await
    }
}

impl Table for PostgresSessionStore {
    async fn insert(&self, row: &Row) -> sqlx::Result<bool> {
        let done = sqlx::query(self.queries.insert.clone())
            .bind(&row.id)
            .bind(&row.data)
            .bind(row.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn upsert(&self, row: &Row) -> sqlx::Result<()> {
        sqlx::query(self.queries.upsert.clone())
            .bind(&row.id)
            .bind(&row.data)
            .bind(row.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn select(&self, id: &str, now: i64) -> sqlx::Result<Option<(String, i64)>> {
        sqlx::query_as(self.queries.select.clone())
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
    }

    async fn remove(&self, id: &str) -> sqlx::Result<()> {
        sqlx::query(self.queries.remove.clone())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn remove_unchanged(&self, id: &str, data: &str, expires_at: i64) -> sqlx::Result<()> {
        sqlx::query(self.queries.remove_unchanged.clone())
            .bind(id)
            .bind(data)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn remove_expired(&self, now: i64) -> sqlx::Result<()> {
        sqlx::query(self.queries.remove_expired.clone())
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

session_store!(PostgresSessionStore);
