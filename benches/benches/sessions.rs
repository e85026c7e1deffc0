//! Session stores: the two calls of a request that reads and then changes
//! its session (a `load` and a `save` of an existing session), ours
//! (`mfa_store_sqlx::{SqliteSessionStore, PostgresSessionStore}`, sqlx 0.9)
//! beside the maintained peer (`tower-sessions-sqlx-store` 0.15, sqlx 0.8)
//! in the same run, each on a database file (SQLite: WAL, `synchronous =
//! FULL`, the same options for both) or schema (PostgreSQL) of its own.
//!
//! Needs PostgreSQL (`MFA_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`).
//!
//! Run with `cargo bench -p mfa-benches --bench sessions`.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mfa_axum::tower_sessions::session::{Id, Record};
use mfa_axum::tower_sessions::{SessionStore, cookie::time};
use mfa_store_sqlx::{PostgresSessionStore, SqliteSessionStore, SqliteStore, sqlx};
use tower_sessions_sqlx_store::sqlx as peer_sqlx;

/// A session as an application keeps one: who is signed in, the MFA level,
/// a CSRF token, when it was last used.
fn record() -> Record {
    let data = serde_json::json!({
        "user": "user-0123456789",
        "mfa.level": 2,
        "mfa.user": "user-0123456789",
        "csrf": "3q2-7wEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "last_used": 1_700_000_000u64,
    });
    Record {
        id: Id::default(),
        data: serde_json::from_value::<HashMap<_, _>>(data).unwrap(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    }
}

/// Benchmarks `store`'s load and save; returns the id of the session.
fn load_and_save<S: SessionStore>(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    group: &str,
    name: &str,
    store: &S,
) -> Id {
    let mut session = record();
    runtime.block_on(store.create(&mut session)).unwrap();
    let mut group = c.benchmark_group(format!("sessions/{group}"));
    group.bench_function(format!("{name} load"), |b| {
        b.iter(|| {
            runtime
                .block_on(store.load(&session.id))
                .unwrap()
                .expect("the session is stored")
        });
    });
    let mut n = 0u64;
    group.bench_function(format!("{name} save"), |b| {
        b.iter(|| {
            n += 1;
            session
                .data
                .insert("last_used".to_owned(), serde_json::json!(n));
            runtime.block_on(store.save(&session)).unwrap();
        });
    });
    group.finish();
    session.id
}

fn sqlite(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-sessions");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ours = runtime.block_on(async {
        let records = SqliteStore::open(dir.join("ours.db")).await.unwrap();
        let store = SqliteSessionStore::from_pool(records.pool().clone());
        store.migrate().await.unwrap();
        (store, records.pool().clone())
    });
    let peer = runtime.block_on(async {
        let options = peer_sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join("peer.db"))
            .create_if_missing(true)
            .journal_mode(peer_sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(peer_sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        let pool = peer_sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .unwrap();
        let store = tower_sessions_sqlx_store::SqliteStore::new(pool.clone());
        store.migrate().await.unwrap();
        (store, pool)
    });
    let ours_id = load_and_save(c, &runtime, "sqlite", "mfa-store-sqlx", &ours.0);
    let peer_id = load_and_save(c, &runtime, "sqlite", "tower-sessions-sqlx-store", &peer.0);
    // The same primary-key read straight on each pool: what the driver
    // alone costs, sqlx 0.9 against sqlx 0.8.
    let mut group = c.benchmark_group("sessions/sqlite");
    group.bench_function("raw SELECT, sqlx 0.9", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT data FROM http_sessions WHERE id = ?1")
                        .bind(ours_id.to_string())
                        .fetch_optional(&ours.1)
                        .await
                        .unwrap();
                row.expect("the session is stored")
            })
        });
    });
    group.bench_function("raw SELECT, sqlx 0.8", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let row: Option<(Vec<u8>,)> =
                    peer_sqlx::query_as("SELECT data FROM tower_sessions WHERE id = ?1")
                        .bind(peer_id.to_string())
                        .fetch_optional(&peer.1)
                        .await
                        .unwrap();
                row.expect("the session is stored")
            })
        });
    });
    group.finish();
}

fn postgres(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var("MFA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let ours_schema = format!("mfa_bench_sessions_{}", std::process::id());
    let peer_schema = format!("mfa_bench_peer_{}", std::process::id());
    let (pool, ours) = runtime.block_on(async {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let store = PostgresSessionStore::from_pool(pool.clone(), &ours_schema).unwrap();
        store.migrate().await.unwrap();
        (pool, store)
    });
    let peer = runtime.block_on(async {
        let pool = peer_sqlx::PgPool::connect(&url).await.unwrap();
        let store = tower_sessions_sqlx_store::PostgresStore::new(pool)
            .with_schema_name(&peer_schema)
            .unwrap();
        store.migrate().await.unwrap();
        store
    });
    load_and_save(c, &runtime, "postgres", "mfa-store-sqlx", &ours);
    load_and_save(c, &runtime, "postgres", "tower-sessions-sqlx-store", &peer);
    runtime.block_on(async {
        for schema in [ours_schema, peer_schema] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA \"{schema}\" CASCADE"
            )))
            .execute(&pool)
            .await
            .unwrap();
        }
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = sqlite, postgres
}
criterion_main!(benches);
