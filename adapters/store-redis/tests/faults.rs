//! Faults: a server that goes away answers a typed "unavailable" error in
//! bounded time, the same handle works again once the server is back, and
//! corrupt data is a typed error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mfa_flow::{AppKey, Keyring, ManualClock, MfaConfig, MfaError, MfaService, StateKind, Store};
use mfa_store_redis::{RedisStore, RedisStoreError};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A `redis-server` of our own on a spare port, stopped on drop.
struct PrivateRedis {
    child: Child,
}

impl PrivateRedis {
    fn start(port: u16) -> Option<Self> {
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if in_ci() => panic!("redis-server is required when CI=true: {e}"),
            Err(e) => {
                eprintln!("SKIPPED: cannot start redis-server: {e}");
                return None;
            }
        };
        let server = Self { child };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {port}");
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spare_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn service(store: RedisStore) -> MfaService<RedisStore, ManualClock> {
    MfaService::new(
        store,
        ManualClock::new(1_700_000_000),
        Keyring::new(AppKey::from_bytes(1, &[1; 32]).unwrap()),
        MfaConfig::new("Faults"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_away_is_a_typed_error_and_the_handle_recovers() {
    let port = spare_port();
    let Some(server) = PrivateRedis::start(port) else {
        return;
    };
    let url = format!("redis://127.0.0.1:{port}/");
    let service = service(
        RedisStore::connect(&url, &common::fresh_prefix())
            .await
            .unwrap(),
    );
    service.opt_in("u").await.unwrap();

    server.stop();
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(20), service.status("u"))
        .await
        .expect("an unreachable server must not hang the service");
    assert!(
        matches!(
            result,
            Err(MfaError::Store(RedisStoreError::Unavailable(_)))
        ),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Back on the same port (empty: it keeps nothing): the same handle works.
    let _server = PrivateRedis::start(port).unwrap();
    let mut recovered = false;
    for _ in 0..40 {
        if service.opt_in("u").await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "the handle did not recover");
    assert_eq!(
        service.status("u").await.unwrap().state,
        StateKind::Requested
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_at_connect() {
    let port = spare_port(); // nothing listens there
    let started = Instant::now();
    let result = RedisStore::connect(&format!("redis://127.0.0.1:{port}/"), "x").await;
    let Err(RedisStoreError::Unavailable(source)) = result else {
        panic!("{result:?}");
    };
    // The boxed source is the client's own error.
    assert!(
        source
            .downcast_ref::<mfa_store_redis::redis::RedisError>()
            .is_some(),
        "{source:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn corrupt_data_is_a_typed_error() {
    let Some((prefix, handles)) = common::redis_handles(1).await else {
        return;
    };
    let store = &handles[0];
    let client = mfa_store_redis::redis::Client::open(common::url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let set = |key: String, version: &str, record: &'static str| {
        mfa_store_redis::redis::cmd("HSET")
            .arg(key)
            .arg("version")
            .arg(version)
            .arg("record")
            .arg(record)
            .clone()
    };
    // A version the script would never match ("+1" is not "1").
    let _: () = set(format!("{prefix}:user:signed"), "+1", "{}")
        .query_async(&mut raw)
        .await
        .unwrap();
    let _: () = mfa_store_redis::redis::cmd("HSET")
        .arg(format!("{prefix}:user:noversion"))
        .arg("record")
        .arg("{}")
        .query_async(&mut raw)
        .await
        .unwrap();
    let _: () = mfa_store_redis::redis::cmd("SET")
        .arg(format!("{prefix}:user:wrongtype"))
        .arg("x")
        .query_async(&mut raw)
        .await
        .unwrap();

    for malformed in ["noversion", "signed"] {
        assert!(matches!(
            store.load(malformed).await,
            Err(RedisStoreError::MalformedKey)
        ));
    }
    assert!(matches!(
        store.load("wrongtype").await,
        Err(RedisStoreError::Command(_))
    ));
    // Through the service: a typed error, not a panic.
    let service = service(store.clone());
    assert!(matches!(
        service.status("noversion").await,
        Err(MfaError::Store(RedisStoreError::MalformedKey))
    ));

    // Rows that are not records, or whose version field is not the one
    // inside: the checks every store passes.
    let plant = |user: String, version: u64, record: &'static str| {
        let key = format!("{prefix}:user:{user}");
        let client = client.clone();
        async move {
            let mut raw = client.get_multiplexed_async_connection().await.unwrap();
            let _: () = set(key, &version.to_string(), record)
                .query_async(&mut raw)
                .await
                .unwrap();
        }
    };
    mfa_flow::conformance::corrupt_rows(store, plant).await;
}
