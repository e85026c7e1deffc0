//! The conformance suite on SQLite: four pools on one database file stand in
//! for four app instances.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mfa_store_sqlx::SqliteStore;

/// A fresh database file under the target directory.
fn fresh_path() -> std::path::PathBuf {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlite-conformance");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{:016x}.db", u64::from_le_bytes(nonce)))
}

mfa_flow::store_conformance_tests!(async {
    let path = fresh_path();
    let first = SqliteStore::open(&path).await.unwrap();
    first.migrate().await.unwrap();
    let mut handles = vec![first];
    for _ in 0..3 {
        handles.push(SqliteStore::open(&path).await.unwrap());
    }
    handles
});

/// The settings concurrent use and durability rely on.
#[tokio::test]
async fn wal_busy_timeout_and_full_sync() {
    let store = SqliteStore::open(fresh_path()).await.unwrap();
    let pool = store.pool();
    let (journal,): (String,) = mfa_store_sqlx::sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    let number = |pragma: &'static str| async move {
        let (value,): (i64,) = mfa_store_sqlx::sqlx::query_as(pragma)
            .fetch_one(pool)
            .await
            .unwrap();
        value
    };
    assert_eq!(journal, "wal");
    assert_eq!(number("PRAGMA busy_timeout").await, 5000);
    // synchronous: 2 is FULL.
    assert_eq!(number("PRAGMA synchronous").await, 2);
}
