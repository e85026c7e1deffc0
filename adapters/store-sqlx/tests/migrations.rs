//! The stores' migrations beside an application's own: the application's
//! migrator with sqlx's default settings runs before or after them in the
//! same database (same schema); a database migrated by a newer release is
//! refused; several instances migrate a fresh PostgreSQL schema at once; a
//! migration dropped halfway leaves no changed connection and no lock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use mfa_store_sqlx::sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use mfa_store_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use mfa_store_sqlx::sqlx::{self, AssertSqlSafe, SqlSafeStr as _};
use mfa_store_sqlx::{
    PostgresSessionStore, PostgresStore, SqliteSessionStore, SqliteStore, SqlxStoreError,
};

/// An application's migrations, run as sqlx runs them by default (applied
/// migrations it does not know are an error).
fn application() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "users".into(),
        MigrationType::Simple,
        "CREATE TABLE app_users (id TEXT PRIMARY KEY)".into_sql_str(),
        false,
    )])
}

/// Every store's migration can run in a spawned task.
#[tokio::test]
async fn migrations_can_run_in_a_spawned_task() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlite-migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-spawned.db", std::process::id()));
    let records = SqliteStore::open(&path).await.unwrap();
    let sessions = SqliteSessionStore::from_pool(records.pool().clone());
    tokio::spawn(async move { records.migrate().await })
        .await
        .unwrap()
        .unwrap();
    tokio::spawn(async move { sessions.migrate().await })
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_application_migrates_beside_the_stores_on_sqlite() {
    for application_first in [false, true] {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlite-migrations");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}-{application_first}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let records = SqliteStore::open(&path).await.unwrap();
        let sessions = SqliteSessionStore::from_pool(records.pool().clone());
        if application_first {
            application().run(records.pool()).await.unwrap();
        }
        records.migrate().await.unwrap();
        sessions.migrate().await.unwrap();
        application().run(records.pool()).await.unwrap();
        records.migrate().await.unwrap();
        sessions.migrate().await.unwrap();
        sqlx::query("INSERT INTO app_users (id) VALUES ('u')")
            .execute(records.pool())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_application_migrates_beside_the_stores_in_their_postgres_schema() {
    // The records' migrations have run.
    let Some((schema, handles)) = common::postgres_handles(1).await else {
        return;
    };
    let records = &handles[0];
    let sessions = PostgresSessionStore::from_pool(records.pool().clone(), &schema).unwrap();
    sessions.migrate().await.unwrap();
    // The application keeps its tables (and its migrations) in that schema.
    let options: PgConnectOptions = common::url().parse().unwrap();
    let app = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.options([("search_path", schema.as_str())]))
        .await
        .unwrap();
    application().run(&app).await.unwrap();
    records.migrate().await.unwrap();
    sessions.migrate().await.unwrap();
    application().run(&app).await.unwrap();
}

#[tokio::test]
async fn instances_migrate_a_fresh_postgres_schema_at_once() {
    for _ in 0..5 {
        let Some((_, schema)) = common::fresh_schema().await else {
            return;
        };
        let mut runs = Vec::new();
        for _ in 0..4 {
            let pool = common::pool().await.unwrap();
            let records = PostgresStore::from_pool(pool.clone(), &schema).unwrap();
            let sessions = PostgresSessionStore::from_pool(pool, &schema).unwrap();
            runs.push(tokio::spawn(async move { records.migrate().await }));
            runs.push(tokio::spawn(async move { sessions.migrate().await }));
        }
        for run in runs {
            run.await.unwrap().unwrap();
        }
    }
}

/// A migration recorded that this release does not have (the database was
/// migrated by a newer one) is refused, for the set whose table holds it.
#[tokio::test]
async fn a_database_from_a_newer_release_is_refused() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlite-migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-newer.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let records = SqliteStore::open(&path).await.unwrap();
    let sessions = SqliteSessionStore::from_pool(records.pool().clone());
    records.migrate().await.unwrap();
    sessions.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO _mfa_store_sqlx_migrations \
         (version, description, success, checksum, execution_time) \
         VALUES (29991231000001, 'from a newer release', TRUE, x'00', 0)",
    )
    .execute(records.pool())
    .await
    .unwrap();
    let Err(SqlxStoreError::Migrate(source)) = records.migrate().await else {
        panic!("a migration this release does not know was accepted");
    };
    assert!(
        matches!(
            source.downcast_ref::<MigrateError>(),
            Some(MigrateError::VersionMissing(29_991_231_000_001))
        ),
        "{source:?}"
    );
    sessions.migrate().await.unwrap();
}

/// A migration that waits on a lock and is dropped (a start-up timeout)
/// leaves the pool nothing of its run: not the schema's search_path on the
/// pool's connection, not sqlx's advisory lock, which would hold every
/// later migration of the database.
#[tokio::test]
async fn a_migration_dropped_halfway_leaves_no_lock_and_no_search_path() {
    let Some((schema, handles)) = common::postgres_handles(1).await else {
        return;
    };
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&common::url())
        .await
        .unwrap();
    let store = PostgresStore::from_pool(pool.clone(), &schema).unwrap();
    let admin = common::pool().await.unwrap();
    let mut holder = admin.begin().await.unwrap();
    sqlx::query(AssertSqlSafe(format!(
        "LOCK TABLE \"{schema}\"._mfa_store_sqlx_migrations IN ACCESS EXCLUSIVE MODE"
    )))
    .execute(&mut *holder)
    .await
    .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), store.migrate())
            .await
            .is_err(),
        "the migration did not wait on the table"
    );
    holder.rollback().await.unwrap();

    let search_path: String = sqlx::query_scalar("SHOW search_path")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!search_path.contains(&schema), "{search_path}");
    tokio::time::timeout(Duration::from_secs(10), handles[0].migrate())
        .await
        .expect("the dropped migration still holds the advisory lock")
        .unwrap();
}
