//! The session stores' contract, on SQLite and on PostgreSQL: a session
//! round-trips as stored rows of JSON; a new session never takes an id in
//! use, not even when two instances race for it; expired sessions are never
//! loaded and are swept; a corrupt row is a typed error; behind mfa-axum's
//! `HashedSessionIds` the table holds no cookie's id.
//!
//! PostgreSQL: see `tests/postgres.rs` (with `CI=true` a missing server
//! fails these tests).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use mfa_axum::HashedSessionIds;
use mfa_store_sqlx::sqlx::{self, AssertSqlSafe, PgPool, SqlitePool};
use mfa_store_sqlx::{PostgresSessionStore, SqliteSessionStore, SqliteStore};
use time::{Duration, OffsetDateTime};
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::{ExpiredDeletion, SessionStore};

/// Where the rows are, to read and plant them behind the store's back.
enum Table {
    Sqlite(SqlitePool),
    Postgres(PgPool, String),
}

impl Table {
    fn name(&self) -> String {
        match self {
            Self::Sqlite(_) => "http_sessions".to_owned(),
            Self::Postgres(_, schema) => format!("\"{schema}\".http_sessions"),
        }
    }

    /// Every row, as stored, ordered by id.
    async fn rows(&self) -> Vec<(String, String, i64)> {
        let sql = format!(
            "SELECT id, data, expires_at FROM {} ORDER BY id",
            self.name()
        );
        match self {
            Self::Sqlite(pool) => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await,
            Self::Postgres(pool, _) => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await,
        }
        .unwrap()
    }

    async fn plant(&self, id: &Id, data: &str, expires: i64) {
        let sql = format!(
            "INSERT INTO {} (id, data, expires_at) VALUES ($1, $2, $3)",
            self.name()
        );
        match self {
            Self::Sqlite(pool) => sqlx::query(AssertSqlSafe(sql))
                .bind(id.to_string())
                .bind(data)
                .bind(expires)
                .execute(pool)
                .await
                .map(drop),
            Self::Postgres(pool, _) => sqlx::query(AssertSqlSafe(sql))
                .bind(id.to_string())
                .bind(data)
                .bind(expires)
                .execute(pool)
                .await
                .map(drop),
        }
        .unwrap();
    }
}

fn record(note: &str, expires_in: Duration) -> Record {
    Record {
        id: Id::default(),
        data: HashMap::from([("note".to_owned(), serde_json::json!(note))]),
        expiry_date: OffsetDateTime::now_utc() + expires_in,
    }
}

fn note(record: &Record) -> &str {
    record.data["note"].as_str().unwrap()
}

/// The whole contract, on two handles (two instances) of one table.
async fn contract<S: SessionStore + ExpiredDeletion + Clone>(store: S, other: S, table: Table) {
    // A session round-trips, stored as one row of JSON under its id, its
    // expiry in whole seconds.
    let mut a = record("a", Duration::hours(1));
    let chosen = a.id;
    store.create(&mut a).await.unwrap();
    assert_eq!(a.id, chosen, "a free id is kept");
    let loaded = other.load(&a.id).await.unwrap().unwrap();
    assert_eq!((loaded.id, note(&loaded)), (a.id, "a"));
    assert_eq!(
        loaded.expiry_date.unix_timestamp(),
        a.expiry_date.unix_timestamp()
    );
    let rows = table.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, a.id.to_string());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&rows[0].1).unwrap(),
        serde_json::json!({"note": "a"})
    );
    assert_eq!(rows[0].2, a.expiry_date.unix_timestamp());

    // A save replaces the row.
    a.data.insert("note".to_owned(), serde_json::json!("a2"));
    store.save(&a).await.unwrap();
    assert_eq!(note(&other.load(&a.id).await.unwrap().unwrap()), "a2");
    assert_eq!(table.rows().await.len(), 1);

    // A new session under an id in use is given another id; the session
    // there is untouched.
    let mut b = record("b", Duration::hours(1));
    b.id = a.id;
    other.create(&mut b).await.unwrap();
    assert_ne!(b.id, a.id);
    assert_eq!(note(&store.load(&a.id).await.unwrap().unwrap()), "a2");
    assert_eq!(note(&store.load(&b.id).await.unwrap().unwrap()), "b");

    // Two instances creating under one id at once: one keeps it, the other
    // is moved.
    for _ in 0..8 {
        let id = Id::default();
        let (mut x, mut y) = (
            record("x", Duration::hours(1)),
            record("y", Duration::hours(1)),
        );
        (x.id, y.id) = (id, id);
        let (rx, ry) = tokio::join!(store.create(&mut x), other.create(&mut y));
        rx.unwrap();
        ry.unwrap();
        assert!((x.id == id) != (y.id == id), "exactly one keeps the id");
        let kept = if x.id == id { "x" } else { "y" };
        assert_eq!(note(&store.load(&id).await.unwrap().unwrap()), kept);
        assert_ne!(x.id, y.id);
    }

    // An expired session is never loaded, and the sweep removes it and
    // only it.
    let expired = record("expired", Duration::seconds(-1));
    store.save(&expired).await.unwrap();
    assert!(other.load(&expired.id).await.unwrap().is_none());
    let before = table.rows().await.len();
    other.delete_expired().await.unwrap();
    let after = table.rows().await;
    assert_eq!(after.len(), before - 1);
    assert!(after.iter().all(|(id, _, _)| *id != expired.id.to_string()));
    assert!(store.load(&a.id).await.unwrap().is_some());

    // Deleted is gone; deleting what is not there is not an error.
    store.delete(&a.id).await.unwrap();
    assert!(other.load(&a.id).await.unwrap().is_none());
    other.delete(&a.id).await.unwrap();

    // A row that is not a session (not JSON, not a map, an expiry time
    // cannot hold) is no session: it is removed, and the cookie that named
    // it starts afresh instead of failing on every request.
    let later = (OffsetDateTime::now_utc() + Duration::hours(1)).unix_timestamp();
    for (data, expires) in [
        ("not json", later),
        ("\"a string, not a map\"", later),
        ("{}", i64::MAX),
    ] {
        let corrupt = Id::default();
        table.plant(&corrupt, data, expires).await;
        assert!(store.load(&corrupt).await.unwrap().is_none(), "{data}");
        assert!(
            table
                .rows()
                .await
                .iter()
                .all(|(id, _, _)| *id != corrupt.to_string()),
            "{data}: the row was not removed"
        );
    }

    // Behind HashedSessionIds, the table never holds the cookie's id, and
    // the session loads only by the cookie's id.
    let hashed = HashedSessionIds::new(store.clone(), &[7; 32]);
    let mut c = record("c", Duration::hours(1));
    hashed.create(&mut c).await.unwrap();
    assert_eq!(note(&hashed.load(&c.id).await.unwrap().unwrap()), "c");
    let rows = table.rows().await;
    assert!(rows.iter().all(|(id, _, _)| *id != c.id.to_string()));
    assert!(store.load(&c.id).await.unwrap().is_none());
    for (id, _, _) in rows {
        let id: Id = id.parse().unwrap();
        assert!(
            hashed.load(&id).await.unwrap().is_none(),
            "a stored id opened a session"
        );
    }

    // A request that loaded the session before it was deleted (a sign-out,
    // an id cycled elsewhere) does not save it back to life.
    let stale = c.clone();
    hashed.delete(&c.id).await.unwrap();
    hashed.save(&stale).await.unwrap();
    assert!(hashed.load(&c.id).await.unwrap().is_none());
}

fn sqlite_path() -> std::path::PathBuf {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlite-sessions");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{:016x}.db", u64::from_le_bytes(nonce)))
}

#[tokio::test]
async fn the_sqlite_session_store_keeps_the_contract() {
    let path = sqlite_path();
    // Records and sessions side by side in one file, each migrated once.
    let records = SqliteStore::open(&path).await.unwrap();
    records.migrate().await.unwrap();
    let store = SqliteSessionStore::from_pool(records.pool().clone());
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    records.migrate().await.unwrap();
    let other =
        SqliteSessionStore::from_pool(SqliteStore::open(&path).await.unwrap().pool().clone());
    contract(store, other, Table::Sqlite(records.pool().clone())).await;
}

#[tokio::test]
async fn the_postgres_session_store_keeps_the_contract() {
    let Some((schema, handles)) = common::postgres_handles(2).await else {
        return;
    };
    let pool = |i: usize| handles[i].pool().clone();
    let store = PostgresSessionStore::from_pool(pool(0), &schema).unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    handles[0].migrate().await.unwrap();
    let other = PostgresSessionStore::from_pool(pool(1), &schema).unwrap();
    contract(store, other, Table::Postgres(pool(0), schema)).await;
}

#[tokio::test]
async fn a_schema_that_is_not_an_identifier_is_refused() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://127.0.0.1:1/none")
        .unwrap();
    assert!(matches!(
        PostgresSessionStore::from_pool(pool, "a\"; DROP TABLE x; --"),
        Err(mfa_store_sqlx::SqlxStoreError::InvalidSchema)
    ));
}
