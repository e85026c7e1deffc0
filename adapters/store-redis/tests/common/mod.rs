//! Connecting the Redis tests.

use mfa_store_redis::RedisStore;

/// The server the tests use.
pub(crate) fn url() -> String {
    std::env::var("MFA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A prefix no other run uses.
pub(crate) fn fresh_prefix() -> String {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).unwrap();
    format!("mfa-test:{:016x}", u64::from_le_bytes(nonce))
}

/// `n` stores, each with its own connection manager, under a fresh prefix.
pub(crate) async fn redis_handles(n: usize) -> Option<(String, Vec<RedisStore>)> {
    let prefix = fresh_prefix();
    let mut handles = Vec::new();
    for _ in 0..n {
        match RedisStore::connect(&url(), &prefix).await {
            Ok(store) => handles.push(store),
            Err(e) if in_ci() => panic!("Redis is required when CI=true: {e}"),
            Err(e) => {
                eprintln!("SKIPPED: Redis not reachable at {}: {e}", url());
                return None;
            }
        }
    }
    Some((prefix, handles))
}
