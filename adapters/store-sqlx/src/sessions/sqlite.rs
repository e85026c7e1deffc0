use sqlx::SqlitePool;

use super::{Row, Table, session_store};
use crate::SqlxStoreError;
use crate::migrate::Set;

static MIGRATIONS: Set = Set {
    migrations: sqlx::migrate!("migrations/sqlite-sessions"),
    table: "_mfa_store_sqlx_session_migrations",
};

/// A [tower-sessions] store in a SQLite table `http_sessions`, for an
/// application that keeps its MFA records (and its users) in the same file
/// with [`SqliteStore`](crate::SqliteStore).
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
pub struct SqliteSessionStore {
    pool: SqlitePool,
}

impl SqliteSessionStore {
    /// A session store over `pool` (configure it like
    /// [`SqliteStore::connect_options`](crate::SqliteStore::connect_options)).
    /// Run [`SqliteSessionStore::migrate`] once before use.
    #[must_use]
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Creates or updates the `http_sessions` table, like
    /// [`SqliteStore::migrate`](crate::SqliteStore::migrate): safe on every
    /// start, from one process at a time, beside the application's own
    /// migrations.
    ///
    /// # Errors
    ///
    /// [`SqlxStoreError::Migrate`].
    pub async fn migrate(&self) -> Result<(), SqlxStoreError> {
        crate::migrate::sqlite(&self.pool, &MIGRATIONS).await
    }
}

impl Table for SqliteSessionStore {
    async fn insert(&self, row: &Row) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO http_sessions (id, data, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&row.id)
        .bind(&row.data)
        .bind(row.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn upsert(&self, row: &Row) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO http_sessions (id, data, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(&row.id)
        .bind(&row.data)
        .bind(row.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn select(&self, id: &str, now: i64) -> sqlx::Result<Option<(String, i64)>> {
        sqlx::query_as(
            "SELECT data, expires_at FROM http_sessions WHERE id = ?1 AND expires_at > ?2",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
    }

    async fn remove(&self, id: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM http_sessions WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn remove_unchanged(&self, id: &str, data: &str, expires_at: i64) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM http_sessions WHERE id = ?1 AND data = ?2 AND expires_at = ?3")
            .bind(id)
            .bind(data)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn remove_expired(&self, now: i64) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM http_sessions WHERE expires_at <= ?1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

session_store!(SqliteSessionStore);

#[cfg(test)]
mod tests {
    use super::*;

    /// An unreadable row is removed only as it was read: a session saved
    /// under its id since then keeps its row.
    #[tokio::test]
    async fn only_the_row_as_read_is_removed() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let store = SqliteSessionStore::from_pool(pool);
        store.migrate().await.unwrap();
        let row = |data: &str| Row {
            id: "id".to_owned(),
            data: data.to_owned(),
            expires_at: 10,
        };
        store.upsert(&row("saved since")).await.unwrap();
        store.remove_unchanged("id", "not json", 10).await.unwrap();
        assert!(store.select("id", 0).await.unwrap().is_some());
        store
            .remove_unchanged("id", "saved since", 11)
            .await
            .unwrap();
        assert!(store.select("id", 0).await.unwrap().is_some());
        store
            .remove_unchanged("id", "saved since", 10)
            .await
            .unwrap();
        assert!(store.select("id", 0).await.unwrap().is_none());
    }
}
