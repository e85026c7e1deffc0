//! Running embedded migrations beside the application's own, and SQL with
//! a schema name written in.

use sqlx::migrate::Migrator;

use crate::SqlxStoreError;

/// A copy of `embedded` that runs beside other migration sets in the same
/// `_sqlx_migrations` table: the application's own, and this crate's other
/// set (records, sessions), whose applied migrations it does not know.
pub(crate) fn beside_others(embedded: &Migrator) -> Migrator {
    let mut migrator = Migrator::with_migrations(embedded.iter().cloned().collect());
    migrator.set_ignore_missing(true);
    migrator
}

/// Runs `embedded` on SQLite.
#[cfg(feature = "sqlite")]
pub(crate) async fn sqlite(
    pool: &sqlx::SqlitePool,
    embedded: &Migrator,
) -> Result<(), SqlxStoreError> {
    beside_others(embedded)
        .run(pool)
        .await
        .map_err(|e| SqlxStoreError::Migrate(Box::new(e)))
}

/// Checks that `schema` is a plain identifier, the only text ever written
/// into this crate's SQL.
#[cfg(feature = "postgres")]
pub(crate) fn check_schema(schema: &str) -> Result<(), SqlxStoreError> {
    let first_ok = schema
        .chars()
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

/// A statement with a schema name written in: `schema` passed
/// [`check_schema`], so it is a plain identifier, quoted.
#[cfg(feature = "postgres")]
pub(crate) fn in_schema(schema: &str, statement: &str) -> sqlx::SqlStr {
    use sqlx::SqlSafeStr as _;
    let text: std::sync::Arc<str> = statement
        .replace("{schema}", &format!("\"{schema}\""))
        .into();
    sqlx::AssertSqlSafe(text).into_sql_str()
}

/// Creates `schema` if needed and runs `embedded` in it (its own
/// `_sqlx_migrations` table included), on one connection that is closed
/// afterwards so no changed `search_path` returns to the pool. sqlx takes
/// an advisory lock, so several instances can run this at once.
#[cfg(feature = "postgres")]
pub(crate) async fn postgres(
    pool: &sqlx::PgPool,
    schema: &str,
    embedded: &Migrator,
) -> Result<(), SqlxStoreError> {
    let mut conn = pool.acquire().await?;
    sqlx::query(in_schema(schema, "CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(&mut *conn)
        .await?;
    sqlx::query(in_schema(schema, "SET search_path TO {schema}"))
        .execute(&mut *conn)
        .await?;
    let result = beside_others(embedded).run(&mut *conn).await;
    conn.close_on_drop();
    result.map_err(|e| SqlxStoreError::Migrate(Box::new(e)))
}

#[cfg(all(test, feature = "postgres"))]
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

    #[test]
    fn the_schema_is_written_in_quoted() {
        assert_eq!(
            in_schema("app_1", "SELECT 1 FROM {schema}.t WHERE x = $1").as_str(),
            "SELECT 1 FROM \"app_1\".t WHERE x = $1"
        );
    }
}
