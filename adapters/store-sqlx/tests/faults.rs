//! Faults on SQL stores: corrupt rows are typed errors; an unreachable
//! PostgreSQL answers "unavailable" in bounded time; a pool whose
//! connections the server killed works again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use mfa_flow::{AppKey, Keyring, ManualClock, MfaConfig, MfaError, MfaService, StateKind, Store};
use mfa_store_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use mfa_store_sqlx::{PostgresStore, SqliteStore, SqlxStoreError, sqlx};

fn service<S: Store>(store: S) -> MfaService<S, ManualClock> {
    MfaService::new(
        store,
        ManualClock::new(1_700_000_000),
        Keyring::new(AppKey::from_bytes(1, &[1; 32]).unwrap()),
        MfaConfig::new("Faults"),
    )
}

#[tokio::test]
async fn corrupt_sqlite_rows_are_typed_errors() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlite-faults");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("corrupt-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = SqliteStore::open(&path).await.unwrap();
    store.migrate().await.unwrap();
    let plant = |user: String, version: u64, record: &'static str| {
        let pool = store.pool().clone();
        async move {
            sqlx::query("INSERT INTO mfa_records (user_id, version, record) VALUES (?1, ?2, ?3)")
                .bind(user)
                .bind(i64::try_from(version).unwrap())
                .bind(record)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    mfa_flow::conformance::corrupt_rows(&store, plant).await;
}

#[tokio::test]
async fn corrupt_postgres_rows_are_typed_errors() {
    let Some((schema, handles)) = common::postgres_handles(1).await else {
        return;
    };
    let store = &handles[0];
    let plant = |user: String, version: u64, record: &'static str| {
        let pool = store.pool().clone();
        let insert = format!(
            "INSERT INTO \"{schema}\".mfa_records (user_id, version, record) VALUES ($1, $2, $3)"
        );
        async move {
            sqlx::query(sqlx::AssertSqlSafe(insert))
                .bind(user)
                .bind(i64::try_from(version).unwrap())
                .bind(record)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    mfa_flow::conformance::corrupt_rows(store, plant).await;
}

#[tokio::test]
async fn an_unreachable_postgres_is_unavailable_in_bounded_time() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // nothing listens there
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy_with(
            PgConnectOptions::new()
                .host("127.0.0.1")
                .port(port)
                .username("postgres")
                .database("test"),
        );
    let service = service(PostgresStore::from_pool(pool, "mfa").unwrap());
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(20), service.status("u"))
        .await
        .expect("an unreachable server must not hang the service");
    let Err(MfaError::Store(SqlxStoreError::Unavailable(source))) = result else {
        panic!("{result:?}");
    };
    // The boxed source is sqlx's own error.
    assert!(source.downcast_ref::<sqlx::Error>().is_some(), "{source:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_pool_whose_connections_were_killed_works_again() {
    let Some((schema, _)) = common::postgres_handles(1).await else {
        return;
    };
    // A pool of our own, tagged so only its connections are killed.
    let tag = format!("mfa_faults_{}", std::process::id());
    let options: PgConnectOptions = common::url().parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options.application_name(&tag))
        .await
        .unwrap();
    let service = service(PostgresStore::from_pool(pool, &schema).unwrap());
    service.opt_in("u").await.unwrap();

    let admin = common::pool().await.unwrap();
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&tag)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(!killed.is_empty(), "no connection of the pool was found");

    // Any failure in between is typed; the same handle then works.
    let mut recovered = false;
    for _ in 0..20 {
        match service.status("u").await {
            Ok(status) => {
                assert_eq!(status.state, StateKind::Requested);
                recovered = true;
                break;
            }
            Err(MfaError::Store(SqlxStoreError::Unavailable(_))) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("untyped failure after the kill: {other:?}"),
        }
    }
    assert!(recovered);
    service.admin_reset("u").await.unwrap();
}
