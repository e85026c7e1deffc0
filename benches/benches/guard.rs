//! The MFA guard's cost: a request to a route with a level-2 session through
//! `MfaLayer`, against the same route behind the session layer only, in the
//! same run. The route's handler reads the signed-in user (`Assurance`), as a
//! protected page does, so both load the session and ask the application
//! who is signed in (`SessionIdentity`); behind the guard the handler reuses
//! what the guard bound.
//!
//! Run with `cargo bench -p mfa-benches --bench guard`.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, StatusCode, header};
use mfa_axum::{Assurance, Mfa, MfaLayer, SessionIdentity, routes};
use mfa_flow::totp_core::{Secret, Totp, TotpConfig};
use mfa_flow::{AppKey, Keyring, ManualClock, MemoryStore, MfaConfig, MfaService, Policy};
use tower::ServiceExt;
use tower_sessions::{MemoryStore as Sessions, Session, SessionManagerLayer};

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Option<String>, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap()
        .to_vec();
    (status, cookie, body)
}

fn guard(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = ManualClock::new(1_700_000_000);
    let service = MfaService::new(
        MemoryStore::new(),
        clock.clone(),
        Keyring::new(AppKey::from_bytes(1, &[3; 32]).unwrap()),
        MfaConfig::new("Bench"),
    );
    let mfa = Mfa::builder(service, Policy::Optional, SessionIdentity::new("user")).build();
    let sessions = Sessions::default();
    let page = || get(|a: Assurance| async move { a.user.to_string() });
    let guarded = Router::new()
        .route("/account", page())
        .route(
            "/login",
            post(|session: Session| async move {
                session.insert("user", "ada").await.unwrap();
            }),
        )
        .layer(MfaLayer::new(&mfa))
        .nest("/mfa/api", routes(&mfa))
        .with_state(mfa.clone())
        .layer(SessionManagerLayer::new(sessions.clone()).with_secure(false));
    // The same routes without the guard.
    let plain = Router::new()
        .route("/account", page())
        .route("/login", post(|| async {}))
        .nest("/mfa/api", routes(&mfa))
        .with_state(mfa)
        .layer(SessionManagerLayer::new(sessions).with_secure(false));

    // A level-2 session: sign in, enroll, confirm (which raises the level).
    let cookie = runtime.block_on(async {
        let (_, cookie, _) = send(
            &guarded,
            Request::post("/login").body(Body::empty()).unwrap(),
        )
        .await;
        let cookie = cookie.unwrap();
        let json = |path: &str, body: String, cookie: &str| {
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::COOKIE, cookie)
                .body(Body::from(body))
                .unwrap()
        };
        let (_, _, started) =
            send(&guarded, json("/mfa/api/enrollment", "{}".into(), &cookie)).await;
        let started: serde_json::Value = serde_json::from_slice(&started).unwrap();
        let app = Totp::new(
            TotpConfig::default(),
            &Secret::from_base32(started["secret"].as_str().unwrap()).unwrap(),
        );
        let code = app.generate(clock.now()).unwrap();
        let (status, raised, _) = send(
            &guarded,
            json(
                "/mfa/api/enrollment/confirm",
                format!(r#"{{"code":"{}"}}"#, code.as_str()),
                &cookie,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        raised.unwrap()
    });

    let request = |cookie: &str| {
        Request::get("/account")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    for app in [&guarded, &plain] {
        let (status, _, body) = runtime.block_on(send(app, request(&cookie)));
        assert_eq!(
            (status, body.as_slice()),
            (StatusCode::OK, b"ada".as_slice())
        );
    }

    let mut group = c.benchmark_group("guard");
    group.bench_function("level-2 session, MfaLayer + session layer", |b| {
        b.iter(|| runtime.block_on(guarded.clone().oneshot(request(&cookie))))
    });
    group.bench_function("same route, session layer only", |b| {
        b.iter(|| runtime.block_on(plain.clone().oneshot(request(&cookie))))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = guard
}
criterion_main!(benches);
