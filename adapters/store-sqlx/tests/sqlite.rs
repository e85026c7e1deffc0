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
