//! The conformance suite on Redis: four connection managers (four app
//! instances) on one server, a fresh key prefix for every check.
//!
//! Needs the server at `MFA_TEST_REDIS_URL` (default `redis://127.0.0.1:6379/`).
//! Outside CI a missing server skips these tests; with `CI=true` it fails them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mfa_flow::store_conformance_tests!(async {
    match common::redis_handles(4).await {
        Some((_, handles)) => handles,
        None => Vec::new(),
    }
});
