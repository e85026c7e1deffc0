//! The conformance suite on PostgreSQL: four pools (four app instances) on
//! one schema, a fresh schema for every check.
//!
//! Needs the server at `MFA_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Outside CI a missing server
//! skips these tests; with `CI=true` it fails them.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mfa_flow::store_conformance_tests!(async {
    match common::postgres_handles(4).await {
        Some((_, handles)) => handles,
        None => Vec::new(),
    }
});
