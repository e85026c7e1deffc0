//! Running embedded migrations beside the application's own, and SQL with
//! a schema name written in.

use sqlx::migrate::Migrator;

use crate::SqlxStoreError;

/// A set of embedded migrations (the MFA records', the sessions') and the
/// table that records which of them ran: one table per set, not sqlx's
/// default `_sqlx_migrations`, so neither an application's own migrator
/// (with sqlx's default settings) nor the other set meets a migration it
/// does not know, and a database migrated by a newer release than the one
/// running is refused (`VersionMissing`) instead of passing unnoticed.
#[derive(Debug)]
pub(crate) struct Set {
    pub(crate) migrations: Migrator,
    pub(crate) table: &'static str,
}

impl Set {
    fn migrator(&self) -> Migrator {
        let mut migrator = Migrator::with_migrations(self.migrations.iter().cloned().collect());
        migrator.dangerous_set_table_name(self.table);
        migrator
    }
}

/// Runs `set` on SQLite.
#[cfg(feature = "sqlite")]
pub(crate) async fn sqlite(pool: &sqlx::SqlitePool, set: &Set) -> Result<(), SqlxStoreError> {
    let mut conn = pool.acquire().await?;
    // run_direct, not run: run's future is not Send (sqlx #954), and an
    // application may migrate from a spawned task. It is #[doc(hidden)]
    // in sqlx: check it when sqlx is updated.
    set.migrator()
        .run_direct(None, &mut *conn, false)
        .await
        .map_err(|e| SqlxStoreError::Migrate(Box::new(e)))
}

/// Checks that `schema` is a plain identifier, the only text ever written
/// into this crate's SQL, and not one of PostgreSQL's own schemas.
#[cfg(feature = "postgres")]
pub(crate) fn check_schema(schema: &str) -> Result<(), SqlxStoreError> {
    let lower = schema.to_ascii_lowercase();
    if lower.starts_with("pg_") || lower == "information_schema" {
        return Err(SqlxStoreError::InvalidSchema);
    }
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

/// Creates `schema` if needed and runs `set` in it (the set's table
/// included). sqlx holds an advisory lock for the
/// run, and the schema is created under it, so several instances can
/// migrate a fresh schema at once. The connection is closed afterwards,
/// even if this future is dropped halfway, so no changed `search_path` (or
/// lock) returns to the pool.
#[cfg(feature = "postgres")]
pub(crate) async fn postgres(
    pool: &sqlx::PgPool,
    schema: &str,
    set: &Set,
) -> Result<(), SqlxStoreError> {
    let mut conn = pool.acquire().await?;
    conn.close_on_drop();
    sqlx::query(in_schema(schema, "SET search_path TO {schema}"))
        .execute(&mut *conn)
        .await?;
    let mut migrator = set.migrator();
    migrator.create_schema(format!("\"{schema}\""));
    // run_direct, not run: see `sqlite`.
    migrator
        .run_direct(None, &mut *conn, false)
        .await
        .map_err(|e| SqlxStoreError::Migrate(Box::new(e)))
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for good in ["mfa", "_x", "app_1", &"a".repeat(63)] {
            assert!(check_schema(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "a\"b",
            "a;drop",
            "é",
            &"a".repeat(64),
            "pg_catalog",
            "PG_temp",
            "information_schema",
        ] {
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
