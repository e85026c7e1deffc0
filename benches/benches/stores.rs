//! Verified logins through the service on each store, at concurrency 1 and
//! 32, beside the raw single-statement speed of the same server in the same
//! run: a single-row `UPDATE` for SQLite and PostgreSQL, a `SET` for Redis.
//! Each criterion iteration is one login (or one statement); logins per
//! second = 1 / time per iteration.
//!
//! Needs PostgreSQL (`MFA_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`) and Redis (`MFA_TEST_REDIS_URL`,
//! default `redis://127.0.0.1:6379/`).
//!
//! Run with `cargo bench -p mfa-benches --bench stores`.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mfa_flow::totp_core::{Code, Secret, Totp, TotpConfig};
use mfa_flow::{AppKey, CodeKind, Keyring, ManualClock, MfaConfig, MfaService, Store};
use mfa_store_redis::RedisStore;
use mfa_store_sqlx::{PostgresStore, SqliteStore, sqlx};

const START: u64 = 1_700_000_000;
const MAX_CONCURRENCY: usize = 32;

/// One user per task, each with its own clock, so tasks never contend for a
/// record and every login has a fresh time step.
struct Users<S> {
    services: Vec<Arc<MfaService<S, ManualClock>>>,
    clocks: Vec<ManualClock>,
    apps: Vec<Totp>,
}

fn user(i: usize) -> String {
    format!("bench-user-{i}")
}

async fn enroll<S: Store + Clone>(store: &S) -> Users<S> {
    let mut users = Users {
        services: Vec::new(),
        clocks: Vec::new(),
        apps: Vec::new(),
    };
    for i in 0..MAX_CONCURRENCY {
        let clock = ManualClock::new(START);
        let service = MfaService::new(
            store.clone(),
            clock.clone(),
            Keyring::new(AppKey::from_bytes(1, &[7; 32]).unwrap()),
            MfaConfig::new("Bench"),
        );
        let ticket = service
            .begin_enrollment(&user(i), "b@example.com")
            .await
            .unwrap();
        let app = Totp::new(
            TotpConfig::default(),
            &Secret::from_base32(ticket.expose_secret()).unwrap(),
        );
        let code = app.generate(clock.now()).unwrap();
        assert!(
            service
                .confirm_enrollment(&user(i), code.as_str())
                .await
                .unwrap()
                .is_accepted()
        );
        users.services.push(Arc::new(service));
        users.clocks.push(clock);
        users.apps.push(app);
    }
    users
}

/// `n` codes for successive steps after `from`, skipping a step whose code
/// equals a neighbour's (it would use up the next step too).
fn codes(app: &Totp, from: u64, n: usize) -> Vec<(u64, Code)> {
    let at = |t: u64| app.generate(t).unwrap();
    (1..)
        .map(|i| from + 30 * i)
        .filter(|t| at(*t) != at(t + 30) && at(*t) != at(t - 30))
        .take(n)
        .map(|t| (t, at(t)))
        .collect()
}

/// Splits `iters` over `concurrency` tasks, runs `work(task, count)` in
/// each at once, and returns the wall time.
fn spread<F, Fut>(
    runtime: &tokio::runtime::Runtime,
    concurrency: usize,
    iters: u64,
    work: F,
) -> Duration
where
    F: Fn(usize, usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let iters = usize::try_from(iters).unwrap();
    let tasks: Vec<Fut> = (0..concurrency)
        .map(|k| {
            work(
                k,
                iters / concurrency + usize::from(k < iters % concurrency),
            )
        })
        .collect();
    runtime.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
        for h in handles {
            h.await.unwrap();
        }
        start.elapsed()
    })
}

fn logins<S: Store + Clone + 'static>(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    users: &Users<S>,
) {
    let mut group = c.benchmark_group(format!("stores/{name}"));
    for concurrency in [1, MAX_CONCURRENCY] {
        group.bench_function(format!("login c={concurrency}"), |b| {
            b.iter_custom(|iters| {
                spread(runtime, concurrency, iters, |k, count| {
                    let clock = users.clocks[k].clone();
                    let codes = codes(&users.apps[k], clock.now(), count);
                    let service = Arc::clone(&users.services[k]);
                    async move {
                        for (t, code) in codes {
                            clock.set(t);
                            let outcome = service
                                .login(&user(k), code.as_str(), CodeKind::Any)
                                .await
                                .unwrap();
                            assert!(outcome.is_accepted());
                        }
                    }
                })
            });
        });
    }
    group.finish();
}

fn raw<Fut>(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    statement: &str,
    one: impl Fn(usize) -> Fut + Clone + Send + 'static,
) where
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut group = c.benchmark_group(format!("stores/{name}"));
    for concurrency in [1, MAX_CONCURRENCY] {
        group.bench_function(format!("raw {statement} c={concurrency}"), |b| {
            b.iter_custom(|iters| {
                spread(runtime, concurrency, iters, |k, count| {
                    let one = one.clone();
                    async move {
                        for _ in 0..count {
                            one(k).await;
                        }
                    }
                })
            });
        });
    }
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-sqlite");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (store, users) = runtime.block_on(async {
        let store = SqliteStore::open(dir.join("bench.db")).await.unwrap();
        store.migrate().await.unwrap();
        sqlx::query("CREATE TABLE raw (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
            .execute(store.pool())
            .await
            .unwrap();
        for id in 0..MAX_CONCURRENCY {
            sqlx::query("INSERT INTO raw (id, n) VALUES (?1, 0)")
                .bind(i64::try_from(id).unwrap())
                .execute(store.pool())
                .await
                .unwrap();
        }
        let users = enroll(&store).await;
        (store, users)
    });
    logins(c, &runtime, "sqlite", &users);
    let pool = store.pool().clone();
    raw(c, &runtime, "sqlite", "UPDATE", move |k| {
        let pool = pool.clone();
        async move {
            sqlx::query("UPDATE raw SET n = n + 1 WHERE id = ?1")
                .bind(i64::try_from(k).unwrap())
                .execute(&pool)
                .await
                .unwrap();
        }
    });
}

fn postgres(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var("MFA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("mfa_bench_{}", std::process::id());
    let (store, users) = runtime.block_on(async {
        let store = PostgresStore::connect(&url, &schema).await.unwrap();
        store.migrate().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE \"{schema}\".raw (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)"
        )))
        .execute(store.pool())
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO \"{schema}\".raw SELECT g, 0 FROM generate_series(0, {}) g",
            MAX_CONCURRENCY - 1
        )))
        .execute(store.pool())
        .await
        .unwrap();
        let users = enroll(&store).await;
        (store, users)
    });
    logins(c, &runtime, "postgres", &users);
    let update: &'static str =
        Box::leak(format!("UPDATE \"{schema}\".raw SET n = n + 1 WHERE id = $1").into_boxed_str());
    let pool = store.pool().clone();
    raw(c, &runtime, "postgres", "UPDATE", move |k| {
        let pool = pool.clone();
        async move {
            sqlx::query(update)
                .bind(i64::try_from(k).unwrap())
                .execute(&pool)
                .await
                .unwrap();
        }
    });
    runtime.block_on(async {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(store.pool())
        .await
        .unwrap();
    });
}

fn redis(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var("MFA_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let prefix = format!("mfa-bench:{}", std::process::id());
    let raw_prefix = prefix.clone();
    let (store, users) = runtime.block_on(async {
        let store = RedisStore::connect(&url, &prefix).await.unwrap();
        let users = enroll(&store).await;
        (store, users)
    });
    logins(c, &runtime, "redis", &users);
    let client = mfa_store_redis::redis::Client::open(url.as_str()).unwrap();
    let connection = runtime.block_on(client.get_connection_manager()).unwrap();
    raw(c, &runtime, "redis", "SET", move |k| {
        let mut connection = connection.clone();
        let key = format!("{raw_prefix}:raw:{k}");
        async move {
            let _: () = mfa_store_redis::redis::cmd("SET")
                .arg(key)
                .arg("0123456789")
                .query_async(&mut connection)
                .await
                .unwrap();
        }
    });
    drop(store);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = sqlite, postgres, redis
}
criterion_main!(benches);
