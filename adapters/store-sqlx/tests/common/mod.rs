//! Connecting the PostgreSQL tests, and cleaning up after earlier runs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_store_sqlx::PostgresStore;
use mfa_store_sqlx::sqlx::postgres::PgPoolOptions;

/// The server the tests use.
pub(crate) fn url() -> String {
    std::env::var("MFA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A pool with few connections: tests run several at once.
pub(crate) async fn pool() -> Option<mfa_store_sqlx::sqlx::PgPool> {
    match PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url())
        .await
    {
        Ok(pool) => Some(pool),
        Err(e) if in_ci() => panic!("PostgreSQL is required when CI=true: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: PostgreSQL not reachable at {}: {e}", url());
            None
        }
    }
}

/// `n` stores, each with its own pool, on a fresh schema (see
/// [`fresh_schema`]), migrated.
pub(crate) async fn postgres_handles(n: usize) -> Option<(String, Vec<PostgresStore>)> {
    let (admin, schema) = fresh_schema().await?;
    let first = PostgresStore::from_pool(admin, &schema).unwrap();
    first.migrate().await.unwrap();
    let mut handles = vec![first];
    for _ in 1..n {
        handles.push(PostgresStore::from_pool(pool().await?, &schema).unwrap());
    }
    Some((schema, handles))
}

/// A pool and the name of a fresh schema `mfa_test_<time>_<random>`, not
/// yet created. Schemas left by runs more than an hour old are dropped first.
pub(crate) async fn fresh_schema() -> Option<(mfa_store_sqlx::sqlx::PgPool, String)> {
    let admin = pool().await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let old: Vec<(String,)> = mfa_store_sqlx::sqlx::query_as(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'mfa\\_test\\_%'",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    for (name,) in old {
        let created = name
            .split('_')
            .nth(2)
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        // Only names a test run made: anyone on a shared server can create
        // a schema, and its name is written into the statement.
        let ours = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ours && created + 3600 < now {
            let _ = mfa_store_sqlx::sqlx::query(mfa_store_sqlx::sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
            )))
            .execute(&admin)
            .await;
        }
    }
    let mut nonce = [0u8; 6];
    getrandom::fill(&mut nonce).unwrap();
    let schema = format!(
        "mfa_test_{now}_{}",
        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    Some((admin, schema))
}
